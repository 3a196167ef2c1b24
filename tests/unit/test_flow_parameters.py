"""What the Prefect UI shows of each flow's parameters."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("module", ["sparkify_etl", "sparkify_daily", "sparkify_backfill",
                                    "sparkify_report"])  # fmt: skip
def test_every_flow_parameter_has_a_description_in_the_run_form(module: str) -> None:
    """Prefect's run form shows each parameter's description, read from the docstring's Args."""
    import importlib

    from prefect.utilities.callables import parameter_schema

    flow = getattr(importlib.import_module(f"flows.{module}"), module)
    properties = parameter_schema(flow.fn).properties
    assert properties
    missing = [name for name, spec in properties.items() if not spec.get("description")]
    assert missing == []


def _parses(text: str) -> bool:
    """The oracle: both the worker's pydantic and Python's ISO parser read `text` as an
    instant (a form only one of them reads is not one we accept)."""
    from datetime import datetime

    from pydantic import TypeAdapter, ValidationError

    try:
        TypeAdapter(datetime).validate_python(text)
        datetime.fromisoformat(text)
    except (ValidationError, ValueError):
        return False
    return True


def _instants() -> list[str]:
    """Days valid and not, each with times and offsets valid and not, and near misses."""
    days = ["2018-11-01", "2018-11-31", "2018-13-01", "2020-02-29", "2019-02-29", "2000-02-29",
            "1900-02-29", "0000-01-01", "2018-1-01"]  # fmt: skip
    times = ["", "T00:00", " 23:59", "T24:00", "T12:60", "T12:00:59", "T12:00:60",
             "T12:00:00.5", "T12:00:00.1234567", "T1:00", "t12:00"]  # fmt: skip
    offsets = ["", "Z", "+02:00", "-23:59", "+24:00", "+2:00", "z"]
    found = [d + t + o for d in days for t in times for o in offsets if t or not o]
    return [*found, "20181101", "2018-11-01T00", "2018-11-01T00:00\n", " 2018-11-01"]


def test_the_instant_pattern_accepts_exactly_the_instants_the_worker_reads() -> None:
    import re

    from flows.parameters import INSTANT_PATTERN

    pattern = re.compile(INSTANT_PATTERN)
    # forms the parsers read that the form does not offer: lower-case t or z, fractions past
    # microseconds (truncated), compact days, an hour without minutes
    not_offered = re.compile(r"[tz]|\.\d{7}|^\d{8}$|T\d\d$")
    wrong = [
        text
        for text in _instants()
        if bool(pattern.search(text)) is not (_parses(text) and not not_offered.search(text))
    ]
    assert wrong == []
    assert sum(bool(pattern.search(t)) for t in _instants()) > 50  # the grammar is exercised


def test_an_instant_with_an_offset_is_reported_in_utc() -> None:
    from datetime import datetime, timedelta, timezone

    from flows.parameters import as_utc

    paris = datetime(2018, 11, 1, 2, 30, tzinfo=timezone(timedelta(hours=2)))
    assert as_utc(paris) == datetime(2018, 11, 1, 0, 30)
    assert as_utc(datetime(2018, 11, 1)) == datetime(2018, 11, 1)
    assert as_utc(None) is None
