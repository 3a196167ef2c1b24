from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from tasks.common.errors import EtlError
from tasks.common.partitions import days_between, scheduled_day


@pytest.mark.parametrize(
    ("scheduled", "days_back", "expected"),
    [
        (datetime(2018, 11, 5, 23, 55, tzinfo=UTC), 0, date(2018, 11, 5)),
        (datetime(2018, 11, 6, 0, 15, tzinfo=UTC), 1, date(2018, 11, 5)),
        # scheduled in another zone: the UTC day counts
        (datetime(2018, 11, 5, 20, 0, tzinfo=timezone(timedelta(hours=-8))), 0, date(2018, 11, 6)),
        # naive times are UTC
        (datetime(2018, 11, 5, 0, 0), 0, date(2018, 11, 5)),
    ],
)
def test_a_run_loads_the_day_it_was_scheduled_for(scheduled, days_back, expected) -> None:
    assert scheduled_day(scheduled, days_back) == expected


def test_a_late_or_caught_up_run_still_loads_its_scheduled_day() -> None:
    scheduled = datetime(2018, 11, 5, 23, 55, tzinfo=UTC)
    # the function sees only the scheduled time: when the run really starts cannot matter
    assert scheduled_day(scheduled) == date(2018, 11, 5)


def test_a_backfill_range_is_every_day_in_order_and_refuses_a_reversed_range() -> None:
    assert days_between(date(2018, 11, 30), date(2018, 12, 2)) == [
        date(2018, 11, 30), date(2018, 12, 1), date(2018, 12, 2),
    ]  # fmt: skip
    with pytest.raises(EtlError, match=r"ends .* before it starts"):
        days_between(date(2018, 11, 2), date(2018, 11, 1))
