"""The warehouse's DDL in the order it runs, and the columns added to tables after their release."""

from __future__ import annotations

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
