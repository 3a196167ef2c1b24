"""What a valid lake record is, declared once: staging applies it, the contracts are built on it.

Each field of a log event and of a song object is declared here with its JSON kind, when it is
required, its size in bytes (the staging column's VARCHAR size: Redshift counts bytes) and what
happens to a value that breaks its rule: the record is quarantined with the rule it broke
(`reject`), or the optional value becomes NULL (`null`, e.g. an impossible year is an unknown
year), or free text is cut to the column's size at a character boundary (`truncate`, as COPY's
TRUNCATECOLUMNS). `sql/parse/parsed.duckdb.sql.j2` is rendered from these declarations, and
`tasks.model.contracts` takes its bounds from them, so a record staging accepts cannot fail a column
check: the checks guard the transforms, not the lake.

Conversions follow Redshift COPY's JSON rules (docs/lake.md, "What a valid record is"): a JSON
number in a text field is that text as written; a string holding a number in a numeric field is that
number; booleans, objects and arrays never stand for a scalar; an integer field takes only whole
numbers written without a fraction or exponent (`3.0` and `3.5` are both rejected: COPY's
error 1207 is "a value outside of the expected range of 0-9", which we read as covering a `.`;
the live Redshift tier is to confirm it); an empty string in a
numeric field is no value (NULL, or "missing" where the field is required).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["text", "integer", "bigint", "number"]
Policy = Literal["reject", "null", "truncate"]

# Redshift COPY's limit for one JSON object or array ("Data format parameters": 4 MB).
MAX_RECORD_BYTES = 4 * 1024 * 1024
ID_BYTES = 32  # song and artist ids
USER_ID_BYTES = 64
CODE_BYTES = 16  # level, gender, method
NAME_BYTES = 256
TEXT_BYTES = 1024
KEY_BYTES = 1024  # source_file: a lake file's key (S3 keys are at most 1,024 bytes of UTF-8)
LEVELS = ("free", "paid")
INT32 = (-(2**31), 2**31 - 1)  # an `integer` field's range (Redshift's INTEGER)
BLANKS = " \t\n\r"  # JSON's white space: what the `blank` rules trim
# A file that cannot be read at all counts as the records it would hold, estimated from its
# size with the bytes of a typical record (the public sample: ~310 per event, ~250 per song);
# a compressed object holds about COMPRESSION_RATIO times its size.
TYPICAL_RECORD_BYTES = {"events": 300, "songs": 250}
COMPRESSION_RATIO = 8


@dataclass(frozen=True)
class Field:
    """One field of a lake record and the staging column it becomes."""

    json: str
    column: str
    kind: Kind
    required: bool | str = False  # True, False, or a SQL condition (NextSong events)
    max_bytes: int | None = None
    oversize: Policy = "reject"
    low: float | None = None  # allowed range, inclusive
    high: float | None = None
    exclusive_low: bool = False
    out_of_range: Policy = "reject"
    allowed: tuple[str, ...] = ()
    non_empty: bool = False  # text that must not be empty once trailing blanks are dropped
    repair: bool = False  # double-encoded UTF-8 repaired (tasks.records.text_repair)
    blank: Literal["keep", "empty", "null"] = "keep"  # text of white space only
    unquote: bool = False  # one pair of surrounding double quotes dropped
    range_label: str = ""  # the range in words, where its numbers do not say it

    @property
    def bounded(self) -> bool:
        return self.low is not None or self.high is not None


NEXT_SONG = "page__text = 'NextSong'"  # a condition on the record's page, as staging reads it

EVENT_FIELDS = (
    Field("artist", "artist", "text", NEXT_SONG, TEXT_BYTES, "truncate", repair=True),
    Field("auth", "auth", "text", max_bytes=32, oversize="null"),
    Field("firstName", "first_name", "text", False, NAME_BYTES, "truncate", repair=True),
    # gender is whatever short text the app sends (not only M and F); empty is unknown
    Field("gender", "gender", "text", max_bytes=CODE_BYTES, oversize="null", blank="null"),
    Field("itemInSession", "item_in_session", "integer", True, low=0),
    Field("lastName", "last_name", "text", False, NAME_BYTES, "truncate", repair=True),
    Field("length", "length", "number", NEXT_SONG, low=0),
    Field("level", "level", "text", True, CODE_BYTES, allowed=LEVELS),
    Field("location", "location", "text", False, TEXT_BYTES, "truncate", repair=True),
    Field("method", "method", "text", max_bytes=CODE_BYTES, oversize="null"),
    Field("page", "page", "text", True, 64),
    Field("registration", "registration", "number"),
    Field("sessionId", "session_id", "bigint", True),
    Field("song", "song", "text", NEXT_SONG, TEXT_BYTES, "truncate", repair=True),
    Field("status", "status", "integer"),
    # 1970-01-01 to 2099-12-31 in epoch milliseconds: `time` promises years 1970 to 2100
    Field("ts", "ts", "bigint", True, low=0, high=4_102_444_799_999, range_label="1970 and 2100"),
    Field(
        "userAgent", "user_agent", "text", False, TEXT_BYTES, "truncate", repair=True, unquote=True
    ),
    # an empty or blank userId is a logged-out event: it belongs to no user
    Field("userId", "user_id", "text", True, USER_ID_BYTES, blank="empty"),
)

SONG_FIELDS = (
    Field("num_songs", "num_songs", "integer"),
    Field("artist_id", "artist_id", "text", True, ID_BYTES, non_empty=True),
    Field("artist_latitude", "artist_latitude", "number", low=-90, high=90, out_of_range="null"),
    Field(
        "artist_longitude", "artist_longitude", "number", low=-180, high=180, out_of_range="null"
    ),
    Field("artist_location", "artist_location", "text", False, TEXT_BYTES, "truncate"),
    Field("artist_name", "artist_name", "text", True, TEXT_BYTES, "truncate", non_empty=True),
    Field("song_id", "song_id", "text", True, ID_BYTES, non_empty=True),
    Field("title", "title", "text", True, TEXT_BYTES, "truncate"),
    Field("duration", "duration", "number", True, low=0, exclusive_low=True),
    # year 0 is the Million Song Dataset's "unknown"; any year outside 1000-2100 is unknown too
    Field("year", "year", "integer", low=1000, high=2100, out_of_range="null"),
)

FIELDS = {"events": EVENT_FIELDS, "songs": SONG_FIELDS}


def field(kind: str, column: str) -> Field:
    """The declaration behind one staging column."""
    return next(f for f in FIELDS[kind] if f.column == column)
