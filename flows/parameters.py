"""Parameter types whose JSON schema the Prefect API checks when a run is created.

Deployments enforce their parameter schema (`enforce_parameter_schema`, on by default), so a
value the schema refuses never becomes a run: `create_flow_run` answers 409 and the run form
shows the error. The API checks types, bounds and `pattern`, but not `format` (Prefect's
validator does not assert formats), so `format: date` alone lets `2018-13-45` through to fail
later on the worker. A day therefore also carries a pattern that matches exactly the real
calendar days YYYY-MM-DD (leap years included); the worker still parses it as a `date`, and
an instant (`Instant`) is such a day with an optional time of day and UTC offset.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import Field, WithJsonSchema

# Months of 31 days, of 30 days, February's first 28; then 29 February of leap years (every
# fourth year, except centuries not divisible by 400). No year 0 (no `date` has it), and no
# trailing newline (Python's `$`, which the API's validator uses, would allow one).
_ANY_YEAR = (
    r"\d{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\d|3[01])"
    r"|(?:0[469]|11)-(?:0[1-9]|[12]\d|30)"
    r"|02-(?:0[1-9]|1\d|2[0-8]))"
)
_LEAP_DAY = r"(?:\d\d(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)-02-29"
_CALENDAR_DAY = rf"(?!0000)(?:{_ANY_YEAR}|{_LEAP_DAY})"
DAY_PATTERN = rf"^{_CALENDAR_DAY}$(?!\n)"
# A time of day HH:MM, HH:MM:SS or HH:MM:SS.ffffff after `T` or a space, and an offset `Z` or
# ±HH:MM: the ISO 8601 forms both pydantic and `datetime.fromisoformat` read the same way.
_TIME = r"[T ](?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,6})?)?"
_OFFSET = r"(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)"
INSTANT_PATTERN = rf"^{_CALENDAR_DAY}(?:{_TIME}{_OFFSET}?)?$(?!\n)"

Day = Annotated[date, WithJsonSchema({"type": "string", "format": "date", "pattern": DAY_PATTERN})]
"""A calendar day as YYYY-MM-DD; the API refuses `2018-13-45` or `2019-02-29`."""

Instant = Annotated[
    datetime, WithJsonSchema({"type": "string", "format": "date-time", "pattern": INSTANT_PATTERN})
]
"""An instant as YYYY-MM-DD[THH:MM[:SS[.ffffff]]][Z|±HH:MM]; the API refuses `2018-11-31`."""


def as_utc(instant: datetime | None) -> datetime | None:
    """The instant as the warehouse stores instants: naive UTC (an offset is applied, then
    dropped; an instant without one is already UTC)."""
    if instant is None or instant.tzinfo is None:
        return instant
    return instant.astimezone(UTC).replace(tzinfo=None)


Share = Annotated[float, Field(ge=0, le=1)]
"""A share from 0 to 1 (0.01 is 1%)."""

Count = Annotated[int, Field(ge=0)]
"""A count of days or attempts, 0 or more."""

Seconds = Annotated[float, Field(ge=0)]
"""A wait in seconds, 0 or more."""
