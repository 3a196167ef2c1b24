"""Shared fixtures: generated lakes, the public sample (when present), a Prefect server. And the
layout: every test lives in the folder of its cost (TIERS, cheapest first, as pyproject's
testpaths runs them), the header says which optional tiers a run will skip (tests/tiers.py), and
a run whose filter deselects every test passes instead of exiting 5."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tasks.sample_lake import LakeSpec, generate_lake
from tests.tiers import UDACITY_SAMPLE, report_lines, udacity_sample_found

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # no telemetry from tests

SMALL_LAKE = LakeSpec(songs=150, events=4_000, days=4, users=40, seed=7, matched_share=0.4)
TESTS = Path(__file__).resolve().parent
# Each folder, cheapest first, and the fixtures a test there may not use (it belongs further on).
TIERS = {
    "unit": {"prefect_server", "redshift_rig", "s3_endpoint", "s3_lake", "spawn"},
    "warehouse": {"prefect_server", "redshift_rig"},
    "rigs": set(),
    "flow": set(),
    "stack": set(),
}
CHEAP = ("unit", "warehouse")  # `make test-fast`: no test here is marked e2e
_deselected: list[int] = []


@pytest.fixture(scope="session")
def small_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated lake with every quirk; tests must not modify it (copy it first)."""
    lake = tmp_path_factory.mktemp("lake")
    generate_lake(lake, SMALL_LAKE)
    return lake


@pytest.fixture(scope="session")
def udacity_lake() -> Path:
    if not udacity_sample_found():
        pytest.skip(f"public Udacity sample not found at {UDACITY_SAMPLE}")
    return UDACITY_SAMPLE


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """One temporary Prefect server (SQLite, its own home) for every test that runs the flow."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Before any test runs: each optional tier, and for each one skipped, the command that
    enables it."""
    return ["optional tiers:", *(f"  {line}" for line in report_lines())]


@pytest.hookimpl(tryfirst=True)  # before -m and -k deselect: every collected test is checked
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Refuse a test outside the tier folders, or in one cheaper than what it uses."""
    misplaced = [f"{path.relative_to(TESTS.parent)}: outside {', '.join(TIERS)}"
                 for path in sorted(TESTS.glob("test_*.py"))]  # fmt: skip
    for item in items:
        path = Path(item.path).resolve()
        if not path.is_relative_to(TESTS):
            continue
        parts = path.relative_to(TESTS).parts
        tier = parts[0] if len(parts) > 1 else None
        if tier not in TIERS:
            misplaced.append(f"{item.nodeid}: outside {', '.join(TIERS)}")
            continue
        needs = sorted(TIERS[tier] & set(getattr(item, "fixturenames", ())))
        if tier in CHEAP and item.get_closest_marker("e2e"):
            needs.append("the e2e marker")
        if needs:
            misplaced.append(f"{item.nodeid}: in tests/{tier}/ but uses {', '.join(needs)}")
    if misplaced:
        raise pytest.UsageError(
            "tests in the wrong folder (see tests/conftest.py's TIERS):\n  "
            + "\n  ".join(dict.fromkeys(misplaced))
        )


def pytest_deselected(items: list[pytest.Item]) -> None:
    _deselected.append(len(items))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A filter that leaves no test in the folders asked for (`-m "not e2e" tests/flow`: all
    of flow/ is e2e) is a run with nothing to do, not a failure: exit 0, not 5."""
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED and sum(_deselected):
        session.exitstatus = pytest.ExitCode.OK


from tests.holders import spawn  # noqa: E402,F401  (second processes holding a warehouse)
from tests.redshift_rig import redshift_rig  # noqa: E402,F401  (PostgreSQL behind PgBouncer)
from tests.s3_server import s3_endpoint, s3_lake  # noqa: E402,F401  (session fixtures for S3 tests)
