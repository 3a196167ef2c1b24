"""Create the warehouse's schemas, tables and views: idempotent, so every run starts with it."""

from __future__ import annotations

from prefect import task

from tasks.retry import WAREHOUSE_TASK
from tasks.run_spec import RunSpec
from tasks.scope import plays_at_changed_times_view
from tasks.warehouse import Session, connect

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
    "ddl/users",
    "ddl/songs",
    "ddl/artists",
    "ddl/time",
    "ddl/songplays",
)


# Columns added to staging tables after their first release: (table, column, type). CREATE TABLE
# IF NOT EXISTS leaves an existing table as it is, so an older warehouse gets each one added.
ADDED_COLUMNS = (
    ("songs", "line_number", "integer"),
    ("songs_incoming", "line_number", "integer"),
)


@task(
    name="create schema",
    task_run_name="create schema",
    **WAREHOUSE_TASK,
)
def create_schema(run: RunSpec) -> None:
    """Create whatever of the warehouse is missing; existing tables and rows are untouched."""
    with connect(run.warehouse) as wh, wh.transaction():
        _add_missing_columns(wh)
        for name in DDL:
            wh.run(name)
        view = plays_at_changed_times_view(run.warehouse.dialect)
        wh.execute(view, label="plays_next_at_changed_times")


def _add_missing_columns(wh: Session) -> None:
    """Bring an older warehouse's staging tables up to date before the views are (re)made."""
    present = {(table, column) for table, column in wh.rows("staging/staging_columns")}
    tables = {table for table, _ in present}
    for table, column, kind in ADDED_COLUMNS:
        if table in tables and (table, column) not in present:
            wh.execute(
                f"alter table sparkify_staging.{table} add column {column} {kind}",
                label=f"add {table}.{column}",
            )
