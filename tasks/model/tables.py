"""The star schema's tables, in build order, and the schema their builds go to. A leaf module."""

from __future__ import annotations

DIMENSIONS = ("users", "songs", "artists", "time")
FACT = "songplays"
MARTS = (*DIMENSIONS, FACT)
BUILD_SCHEMA = "sparkify_build"
