"""Create the warehouse's schemas, tables and views: idempotent, so every run starts with it."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.retry import RETRIES, RETRY_DELAYS, retry_on_transient
from tasks.run_spec import RunSpec
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
    "ddl/staging_events_next",
    "ddl/staging_songs_next",
    "intermediate/plays_next",
    "ddl/load_history",
    "ddl/users",
    "ddl/songs",
    "ddl/artists",
    "ddl/time",
    "ddl/songplays",
)


@task(
    name="create schema",
    retries=RETRIES,
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=retry_on_transient,
    cache_policy=NO_CACHE,
)
def create_schema(run: RunSpec) -> None:
    """Create whatever of the warehouse is missing; existing tables and rows are untouched."""
    with connect(run.warehouse) as wh, wh.transaction():
        for name in DDL:
            wh.run(name)
