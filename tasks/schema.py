"""Create the warehouse's schemas, tables and views: idempotent, so every run starts with it."""

from __future__ import annotations

from prefect import task

from tasks.retry import WAREHOUSE_TASK
from tasks.run_spec import RunSpec
from tasks.scope import plays_at_changed_times_view
from tasks.warehouse import connect

# Dependency order: schemas, staging tables, the tables copied from them, views, marts.
DDL = (
    "ddl/schema_staging",
    "ddl/schema_build",
    "ddl/schema_meta",
    "ddl/staging_events",
    "ddl/staging_songs",
    "ddl/quarantine",
    "ddl/staging_events_incoming",
    "ddl/staging_songs_incoming",
    "ddl/quarantine_incoming",
    "ddl/staging_incoming_files",
    "ddl/loaded_files",
    "ddl/staging_events_copy",
    "ddl/staging_events_next",
    "ddl/staging_songs_next",
    "ddl/staging_events_changed",
    "ddl/staging_songs_changed",
    "ddl/changed_users",
    "ddl/changed_songs",
    "ddl/changed_artists",
    "ddl/changed_play_times",
    "ddl/events_next_of_changed_users",
    "ddl/events_next_at_changed_times",
    "ddl/songs_next_of_changed_songs",
    "ddl/songs_next_of_changed_artists",
    "intermediate/plays_next",
    "ddl/load_history",
    "ddl/run_lock",
    "ddl/users",
    "ddl/songs",
    "ddl/artists",
    "ddl/time",
    "ddl/songplays",
)


@task(
    name="create schema",
    task_run_name="create schema",
    **WAREHOUSE_TASK,
)
def create_schema(run: RunSpec) -> None:
    """Create whatever of the warehouse is missing; existing tables and rows are untouched."""
    with connect(run.warehouse) as wh, wh.transaction():
        for name in DDL:
            wh.run(name)
        view = plays_at_changed_times_view(run.warehouse.dialect)
        wh.execute(view, label="plays_next_at_changed_times")
