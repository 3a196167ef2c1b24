"""Transient failures are retried with backoff; data and configuration errors never are (Prefect's
retries themselves, through a temporary server: tests/flow/test_retry_flow.py)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tasks.common.errors import (
    LakeError,
    QualityCheckFailed,
    WarehouseBusy,
    WarehouseError,
)
from tasks.common.retry import is_transient
from tasks.warehouse.connect import connect, run_lock
from tasks.warehouse.target import WarehouseTarget
from tests.holders import hold_lock


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


def test_a_warehouse_locked_by_another_process_is_busy_not_broken(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SPARKIFY_DUCKDB_LOCK_WAIT_S", "0")
    holder = hold_lock(tmp_path / "w.duckdb", 30)
    try:
        target = WarehouseTarget(path=str(tmp_path / "w.duckdb"))
        with pytest.raises(WarehouseBusy, match=f"held by PID {holder.pid} "), connect(target):
            pass
    finally:
        holder.kill()


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
