"""Transient failures are retried with backoff; data and configuration errors never are."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from prefect import flow, task

from tasks.errors import LakeError, QualityCheckFailed, WarehouseError
from tasks.lake import LakeSource
from tasks.retry import is_transient, retry_on_transient
from tasks.run_spec import RunSpec
from tasks.schema import create_schema
from tasks.warehouse import WarehouseBusy, WarehouseTarget, connect, run_lock


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (ConnectionResetError("reset"), True),
        (TimeoutError("slow"), True),
        (LakeError("no lake"), False),
        (QualityCheckFailed("bad rows"), False),
        (WarehouseError("no directory"), False),
        (WarehouseBusy("held past the wait"), False),  # opening waited already
        (ValueError("bad value"), False),
    ],
)
def test_only_transient_errors_are_retried(error, transient) -> None:
    assert is_transient(error) is transient


def _hold_lock(path: Path, seconds: float) -> subprocess.Popen:
    code = (
        "import duckdb, sys, time\n"
        f"c = duckdb.connect({str(path)!r})\n"
        "print('locked', flush=True)\n"
        f"time.sleep({seconds})\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_a_warehouse_locked_by_another_process_is_busy_not_broken(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SPARKIFY_DUCKDB_LOCK_WAIT_S", "0")
    holder = _hold_lock(tmp_path / "w.duckdb", 30)
    try:
        target = WarehouseTarget(path=str(tmp_path / "w.duckdb"))
        with pytest.raises(WarehouseBusy, match=f"held by PID {holder.pid} "), connect(target):
            pass
    finally:
        holder.kill()


@pytest.mark.e2e
@pytest.mark.usefixtures("prefect_server")
def test_a_task_waits_out_a_lock_and_then_succeeds(tmp_path) -> None:
    holder = _hold_lock(tmp_path / "w.duckdb", 1.0)
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


def test_a_second_run_waits_for_the_first_to_release_the_warehouse(tmp_path) -> None:
    target = WarehouseTarget(path=str(tmp_path / "w.duckdb"))
    code = (
        "import fcntl, sys, time\n"
        f"h = open({str(tmp_path / 'w.duckdb.lock')!r}, 'a')\n"
        "fcntl.flock(h, fcntl.LOCK_EX)\n"
        "print('held', flush=True)\n"
        "time.sleep(1.5)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    started = time.monotonic()
    with run_lock(target, poll_seconds=0.1):
        waited = time.monotonic() - started
    holder.wait()
    assert waited >= 1.0
