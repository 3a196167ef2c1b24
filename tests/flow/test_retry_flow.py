"""Prefect retries transient failures with backoff and never data errors, and a task waits out
a warehouse another process holds (through a temporary Prefect server). Which errors are
transient is tests/warehouse/test_retry.py."""

from __future__ import annotations

import time

import pytest
from prefect import flow, task

from tasks.common.errors import QualityCheckFailed
from tasks.common.retry import retry_on_transient
from tasks.common.run_spec import RunSpec
from tasks.create_schema import create_schema
from tasks.lake.files import LakeSource
from tasks.warehouse.target import WarehouseTarget
from tests.holders import hold_lock


@pytest.mark.e2e
@pytest.mark.usefixtures("prefect_server")
def test_a_task_waits_out_a_lock_and_then_succeeds(tmp_path) -> None:
    holder = hold_lock(tmp_path / "w.duckdb", 1.0)
    run = RunSpec(
        lake=LakeSource(str(tmp_path)), warehouse=WarehouseTarget(path=str(tmp_path / "w.duckdb"))
    )

    @flow
    def schema_only() -> None:
        create_schema(run)

    started = time.monotonic()
    schema_only()
    holder.wait()
    assert time.monotonic() - started >= 1.0


@pytest.mark.e2e
@pytest.mark.usefixtures("prefect_server")
def test_prefect_retries_transient_failures_and_never_data_errors() -> None:
    attempts = {"busy": 0, "data": 0}

    @task(retries=3, retry_delay_seconds=0, retry_condition_fn=retry_on_transient)
    def flaky(kind: str) -> str:
        attempts[kind] += 1
        if kind == "busy" and attempts[kind] < 3:
            raise ConnectionResetError("the server closed the connection")
        if kind == "data":
            raise QualityCheckFailed("3 bad rows")
        return "done"

    @flow
    def both() -> tuple[str, str]:
        busy = flaky("busy")
        data = flaky("data", return_state=True)
        return busy, data.type.value

    assert both() == ("done", "FAILED")
    assert attempts == {"busy": 3, "data": 1}
