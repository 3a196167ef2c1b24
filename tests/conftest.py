"""Shared fixtures: generated lakes, the public sample (when present), a Prefect server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tasks.sample_lake import LakeSpec, generate_lake

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # no telemetry from tests

UDACITY_SAMPLE = Path(
    os.environ.get(
        "SPARKIFY_UDACITY_SAMPLE",
        Path(__file__).resolve().parents[2] / "shared" / "data" / "udacity_sample",
    )
)
SMALL_LAKE = LakeSpec(songs=150, events=4_000, days=4, users=40, seed=7, matched_share=0.4)


@pytest.fixture(scope="session")
def small_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated lake with every quirk; tests must not modify it (copy it first)."""
    lake = tmp_path_factory.mktemp("lake")
    generate_lake(lake, SMALL_LAKE)
    return lake


@pytest.fixture(scope="session")
def udacity_lake() -> Path:
    if not (UDACITY_SAMPLE / "log_data").is_dir():
        pytest.skip(f"public Udacity sample not found at {UDACITY_SAMPLE}")
    return UDACITY_SAMPLE


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """One temporary Prefect server (SQLite, its own home) for every test that runs the flow."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


from tests.holders import spawn  # noqa: E402,F401  (second processes holding a warehouse)
from tests.redshift_rig import redshift_rig  # noqa: E402,F401  (PostgreSQL behind PgBouncer)
from tests.s3_server import s3_endpoint, s3_lake  # noqa: E402,F401  (session fixtures for S3 tests)
