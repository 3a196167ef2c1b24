"""Which day a run loads: from the schedule, never from the wall clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from tasks.common.errors import EtlError


def scheduled_day(scheduled_start: datetime, days_back: int = 0) -> date:
    """The log partition a scheduled run loads: the UTC day its scheduled time falls in, minus
    `days_back`. A run that starts late, or a missed run caught up days later, still loads the
    day it was scheduled for, because the scheduled time does not move."""
    if scheduled_start.tzinfo is None:
        scheduled_start = scheduled_start.replace(tzinfo=UTC)
    return scheduled_start.astimezone(UTC).date() - timedelta(days=days_back)


def days_between(start: date, end: date) -> list[date]:
    """Every day from `start` to `end`, both included, oldest first."""
    if end < start:
        raise EtlError(f"backfill range ends ({end}) before it starts ({start})")
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]
