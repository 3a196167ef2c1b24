"""What each published table promises, declared once as pandera models.

These models are the single source of the column checks: `tasks.checks` compiles them into
SQL that runs inside the warehouse (so they scale to Redshift-sized tables), and tests run
the very same models through pandera on DataFrames to prove the compiled checks agree.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

SONG_ID = r"^SO[A-Z0-9]{16}$"
ARTIST_ID = r"^AR[A-Z0-9]{16}$"
LEVELS = ["free", "paid"]


class Users(pa.DataFrameModel):
    """One row per user; level is the user's level at their latest event."""

    user_id: Series[str] = pa.Field(unique=True, str_length={"min_value": 1})
    first_name: Series[str] = pa.Field(nullable=True)
    last_name: Series[str] = pa.Field(nullable=True)
    gender: Series[str] = pa.Field(nullable=True, isin=["M", "F"])
    level: Series[str] = pa.Field(isin=LEVELS)


class Songs(pa.DataFrameModel):
    """One row per song of the catalogue."""

    song_id: Series[str] = pa.Field(unique=True, str_matches=SONG_ID)
    title: Series[str]
    artist_id: Series[str] = pa.Field(str_matches=ARTIST_ID)
    year: Series[pd.Int32Dtype] = pa.Field(
        nullable=True, coerce=True, in_range={"min_value": 1000, "max_value": 2100}
    )
    duration: Series[float] = pa.Field(gt=0)


class Artists(pa.DataFrameModel):
    """One row per artist; coordinates are either both known or both NULL."""

    artist_id: Series[str] = pa.Field(unique=True, str_matches=ARTIST_ID)
    name: Series[str] = pa.Field(str_length={"min_value": 1})
    location: Series[str] = pa.Field(nullable=True, str_length={"min_value": 1})
    latitude: Series[float] = pa.Field(nullable=True, in_range={"min_value": -90, "max_value": 90})
    longitude: Series[float] = pa.Field(
        nullable=True, in_range={"min_value": -180, "max_value": 180}
    )


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
    user_id: Series[str] = pa.Field(str_length={"min_value": 1})
    level: Series[str] = pa.Field(isin=LEVELS)
    song_id: Series[str] = pa.Field(nullable=True, str_matches=SONG_ID)
    artist_id: Series[str] = pa.Field(nullable=True, str_matches=ARTIST_ID)
    session_id: Series[int]
    location: Series[str] = pa.Field(nullable=True)
    user_agent: Series[str] = pa.Field(nullable=True)


CONTRACTS: dict[str, type[pa.DataFrameModel]] = {
    "users": Users,
    "songs": Songs,
    "artists": Artists,
    "time": Time,
    "songplays": Songplays,
}
