"""What each published table promises, declared once as pandera models.

These models are the single source of the column checks: `tasks.check` compiles them into
SQL that runs inside the warehouse (so they scale to Redshift-sized tables), and tests run
the very same models through pandera on DataFrames to prove the compiled checks agree.

Their bounds come from the record declarations in `tasks.records`, which staging applies to
every record: ids are non-empty text of at most their column's bytes (not a Million-Song
regex: real catalogues hold other ids), gender any short text, a year unknown or 1000-2100.
A record staging accepts therefore meets every column rule here (characters never outnumber
bytes); a failing check means a transform is wrong, not the lake.

The foreign keys between the tables are declared beside them, as data (`RELATIONSHIPS`, dbt's
`relationships` test): `tasks.check` compiles each into `sql/checks/relationship.sql`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from tasks.records import fields as records

LEVELS = list(records.LEVELS)


def _text(kind: str, column: str, nullable: bool = False, unique: bool = False) -> Any:
    """A text column as its staging field declares it: its size, and non-empty if it must be."""
    declared = records.field(kind, column)
    low = 1 if declared.non_empty or declared.blank == "null" else None
    length: dict[str, Any] = {"min_value": low, "max_value": declared.max_bytes}
    return pa.Field(nullable=nullable, unique=unique, str_length=length)


def _range(kind: str, column: str, nullable: bool = False) -> Any:
    declared = records.field(kind, column)
    bounds = {"min_value": declared.low, "max_value": declared.high}
    return pa.Field(nullable=nullable, coerce=True, in_range=bounds)


class Users(pa.DataFrameModel):
    """One row per user; level is the user's level at their latest event."""

    user_id: Series[str] = pa.Field(
        unique=True, str_length={"min_value": 1, "max_value": records.USER_ID_BYTES}
    )
    first_name: Series[str] = _text("events", "first_name", nullable=True)
    last_name: Series[str] = _text("events", "last_name", nullable=True)
    gender: Series[str] = _text("events", "gender", nullable=True)
    level: Series[str] = pa.Field(isin=LEVELS)


class Songs(pa.DataFrameModel):
    """One row per song of the catalogue."""

    song_id: Series[str] = _text("songs", "song_id", unique=True)
    title: Series[str] = _text("songs", "title")
    artist_id: Series[str] = _text("songs", "artist_id")
    year: Series[pd.Int32Dtype] = _range("songs", "year", nullable=True)
    duration: Series[float] = pa.Field(gt=records.field("songs", "duration").low)


class Artists(pa.DataFrameModel):
    """One row per artist; coordinates are either both known or both NULL."""

    artist_id: Series[str] = _text("songs", "artist_id", unique=True)
    name: Series[str] = _text("songs", "artist_name")
    # the mart drops blank locations: a location is NULL or non-empty
    location: Series[str] = pa.Field(
        nullable=True, str_length={"min_value": 1, "max_value": records.TEXT_BYTES}
    )
    latitude: Series[float] = _range("songs", "artist_latitude", nullable=True)
    longitude: Series[float] = _range("songs", "artist_longitude", nullable=True)


class Time(pa.DataFrameModel):
    """One row per play instant, with its calendar parts (weekday 0 = Sunday)."""

    start_time: Series[datetime] = pa.Field(unique=True)
    hour: Series[np.int32] = pa.Field(in_range={"min_value": 0, "max_value": 23})
    day: Series[np.int32] = pa.Field(in_range={"min_value": 1, "max_value": 31})
    week: Series[np.int32] = pa.Field(in_range={"min_value": 1, "max_value": 53})
    month: Series[np.int32] = pa.Field(in_range={"min_value": 1, "max_value": 12})
    year: Series[np.int32] = pa.Field(in_range={"min_value": 1970, "max_value": 2100})
    weekday: Series[np.int32] = pa.Field(in_range={"min_value": 0, "max_value": 6})


class Songplays(pa.DataFrameModel):
    """One row per NextSong event of a logged-in user; song and artist only when matched."""

    songplay_id: Series[str] = pa.Field(unique=True, str_matches=r"^[0-9a-f]{32}$")
    start_time: Series[datetime]
    user_id: Series[str] = pa.Field(str_length={"min_value": 1, "max_value": records.USER_ID_BYTES})
    level: Series[str] = pa.Field(isin=LEVELS)
    song_id: Series[str] = _text("songs", "song_id", nullable=True)
    artist_id: Series[str] = _text("songs", "artist_id", nullable=True)
    session_id: Series[int]
    location: Series[str] = _text("events", "location", nullable=True)
    user_agent: Series[str] = _text("events", "user_agent", nullable=True)


CONTRACTS: dict[str, type[pa.DataFrameModel]] = {
    "users": Users,
    "songs": Songs,
    "artists": Artists,
    "time": Time,
    "songplays": Songplays,
}


@dataclass(frozen=True)
class Relationship:
    """`child.column` references `parent.parent_column`: every value names a parent row. A NULL
    passes when `null_passes` (a play that matched no song has no song_id); otherwise it fails
    too, as a value that names no row."""

    child: str
    column: str
    parent: str
    parent_column: str
    null_passes: bool = True

    @property
    def name(self) -> str:
        """The check's name in results and artifacts, e.g. `user_id_in_users`."""
        return f"{self.column}_in_{self.parent}"

    @property
    def rule(self) -> str:
        """What the check requires, in words, for the quality-checks artifact."""
        return f"{self.child}.{self.column} exists in {self.parent}"


# Every foreign key of the star schema; names come from this closed set, never from input.
RELATIONSHIPS = (
    Relationship("songplays", "user_id", "users", "user_id"),
    Relationship("songplays", "start_time", "time", "start_time"),
    Relationship("songplays", "song_id", "songs", "song_id"),
    Relationship("songplays", "artist_id", "artists", "artist_id"),
    Relationship("songs", "artist_id", "artists", "artist_id", null_passes=False),
)
