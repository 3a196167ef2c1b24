"""The star schema's tables, in build order, and the schema their builds go to; the staging
tables by role. A leaf module."""

from __future__ import annotations

DIMENSIONS = ("users", "songs", "artists", "time")
FACT = "songplays"
MARTS = (*DIMENSIONS, FACT)
BUILD_SCHEMA = "sparkify_build"

# The lake's kinds of record; each is staged in sparkify_staging.<kind>.
KINDS = ("events", "songs")
# The staging tables a run fills through a `<table>_incoming` copy and publishes at its end.
INCOMING = (*KINDS, "quarantine")
# The staging tables that hold both kinds' files, keyed by (kind, source_file): published ones,
# and the run's own (one kind's rows are cleared on their own).
BY_KIND_PUBLISHED = ("quarantine", "loaded_files")
BY_KIND_INCOMING = ("quarantine_incoming", "incoming_files")
