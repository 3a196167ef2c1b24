"""What the deployment files promise, read without a server: the failure alert covers every
failed end of every deployment, and the day pattern the API checks a run's `day` against is
exactly the calendar days. The deployments themselves, through a real server and worker, are
tests/stack/test_deployments_unattended.py."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import yaml

from flows.parameters import DAY_PATTERN

REPO = Path(__file__).resolve().parents[2]
ALERTS = REPO / "deployments" / "alerts.yaml"


def test_the_alert_covers_every_failed_end_of_every_deployment() -> None:
    (automation,) = yaml.safe_load(ALERTS.read_text())["automations"]
    trigger_ = automation["trigger"]
    assert set(trigger_["expect"]) == {f"prefect.flow-run.{state}"
                                       for state in ("Failed", "Crashed", "TimedOut")}  # fmt: skip
    tag = next(m for m in trigger_["match_related"] if m["prefect.resource.role"] == "tag")
    deployments = yaml.safe_load((REPO / "prefect.yaml").read_text())["deployments"]
    for deployment in deployments:
        assert tag["prefect.resource.id"].removeprefix("prefect.tag.") in deployment["tags"]
        assert deployment.get("enforce_parameter_schema") is True, deployment["name"]


def test_the_day_pattern_matches_exactly_the_calendar_days() -> None:
    """Every YYYY-MM-DD string of 1899-2101 (and the century leap rules) against Python."""
    pattern = re.compile(DAY_PATTERN)
    for year in [*range(1899, 2102), 1, 1600, 1700, 2400, 9999]:
        for month in range(14):
            for day in range(33):
                text = f"{year:04d}-{month:02d}-{day:02d}"
                try:
                    valid = bool(date.fromisoformat(text))
                except ValueError:
                    valid = False
                assert bool(pattern.search(text)) is valid, text
    assert not pattern.search("0000-01-01") and not pattern.search("2018-11-05\n")
