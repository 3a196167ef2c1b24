"""Readers and writers of one DuckDB file take turns instead of failing: a load waits for an
analyst's read-only connection (bounded, naming the holder's PID), a report waits for a load
and a load for a report, and reports read beside analysts and each other (the same through the
flows: tests/flow/test_warehouse_turns_flow.py).

Every holder is a real second process: DuckDB's lock and the run lock are per process."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest

from tasks.analyse import report_period
from tasks.common.errors import EtlError, WarehouseBusy, WarehouseError
from tasks.common.retry import is_transient
from tasks.common.run_spec import RunSpec
from tasks.create_schema import create_schema
from tasks.warehouse.connect import connect, run_lock
from tasks.warehouse.duckdb.session import (
    LOCK_WAIT_ENV,
    RUN_LOCK_WAIT_ENV,
    lock_wait_seconds,
    run_lock_wait_seconds,
)
from tasks.warehouse.target import WarehouseTarget
from tests.factories import prepared_run
from tests.holders import analyst, load_in_progress, report_in_progress, waited


def empty_warehouse(tmp_path: Path) -> RunSpec:
    """A run on a warehouse file with the schema and no rows."""
    return prepared_run(tmp_path, tmp_path / "w.duckdb")


@pytest.mark.parametrize(
    ("raw", "seconds"), [("", 300.0), ("0", 0.0), (" 12.5 ", 12.5), ("-1", None), ("nan", None),
                         ("inf", None), ("5m", None)],
)  # fmt: skip
def test_the_wait_is_seconds_from_the_environment(raw: str, seconds: float | None) -> None:
    if seconds is None:
        with pytest.raises(WarehouseError, match=LOCK_WAIT_ENV):
            lock_wait_seconds({LOCK_WAIT_ENV: raw})
    else:
        assert lock_wait_seconds({LOCK_WAIT_ENV: raw}) == seconds


def test_a_load_waits_for_an_analysts_connection_and_logs_its_pid(
    tmp_path, spawn, caplog, monkeypatch
) -> None:
    monkeypatch.setenv(LOCK_WAIT_ENV, "60")
    caplog.set_level(logging.INFO, logger="sparkify")
    run = empty_warehouse(tmp_path)
    holder = spawn(analyst(tmp_path / "w.duckdb", 2))
    started = time.monotonic()
    create_schema.fn(run)  # a load's first task, which opens the file for writing
    assert waited(started) >= 1.0
    assert holder.wait(timeout=10) == 0  # it exited on its own: the load waited it out
    messages = [record.getMessage() for record in caplog.records]
    assert any(f"waiting up to 60 s for PID {holder.pid} (" in m for m in messages), messages
    assert any("after waiting" in m and f"PID {holder.pid}" in m for m in messages), messages


def test_a_load_gives_up_after_the_bound_naming_the_holder(tmp_path, spawn, monkeypatch) -> None:
    monkeypatch.setenv(LOCK_WAIT_ENV, "1")
    run = empty_warehouse(tmp_path)
    holder = spawn(analyst(tmp_path / "w.duckdb", 120))
    started = time.monotonic()
    with pytest.raises(WarehouseBusy) as caught:
        create_schema.fn(run)
    assert 1.0 <= waited(started) < 10
    message = str(caught.value)
    assert "\n" not in message
    assert f"is held by PID {holder.pid} (" in message
    assert f"gave up after waiting 1 s ({LOCK_WAIT_ENV})" in message
    assert isinstance(caught.value, EtlError) and not is_transient(caught.value)
    assert holder.poll() is None  # the analyst's connection is untouched


def test_a_load_waits_for_a_report_to_finish(tmp_path, spawn) -> None:
    target = empty_warehouse(tmp_path).warehouse
    spawn(report_in_progress(tmp_path / "w.duckdb", 1.5))
    started = time.monotonic()
    with run_lock(target, poll_seconds=0.1), connect(target) as wh:
        wh.execute("create table written_after_the_report (n integer)")
    assert waited(started) >= 1.0


def test_a_report_waits_for_a_load_to_finish(tmp_path, spawn) -> None:
    target = empty_warehouse(tmp_path).warehouse
    spawn(load_in_progress(tmp_path / "w.duckdb", 2.5))
    started = time.monotonic()
    with run_lock(target, poll_seconds=0.1, shared=True), connect(target, read_only=True) as wh:
        assert wh.count("songplays") == 0
    assert waited(started) >= 2.0  # the load's connection closed after 1 s, its run lock at 2.5


def test_reports_read_beside_each_other(tmp_path, spawn) -> None:
    target = empty_warehouse(tmp_path).warehouse
    other = spawn(report_in_progress(tmp_path / "w.duckdb", 120))
    started = time.monotonic()
    with run_lock(target, poll_seconds=0.1, shared=True), connect(target, read_only=True) as wh:
        assert wh.count("songplays") == 0
    assert waited(started) < 5 and other.poll() is None


def test_a_reader_takes_no_lock_on_redshift() -> None:
    # no connection is attempted: the block does not exist
    with run_lock(WarehouseTarget.parse("redshift:no-such-block"), shared=True) as lock:
        lock.check()


def test_a_report_on_a_missing_warehouse_fails_in_one_line_and_creates_nothing(tmp_path) -> None:
    target = WarehouseTarget.parse(str(tmp_path / "w.duckdb"))
    with pytest.raises(WarehouseError, match=r"cannot open warehouse .*does not exist") as caught:
        report_period.fn(target, None, None)
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "w.duckdb").exists()


# The run lock's own wait: bounded, and a waiting run is not starved by overlapping reports.


def _hold(target: WarehouseTarget, shared: bool, release: threading.Event, got: dict) -> None:
    """Take the run lock in a thread (flock conflicts between open files, even in one
    process), note when it was granted, and hold it until `release` is set."""
    with run_lock(target, poll_seconds=0.05, shared=shared):
        got[threading.current_thread().name] = time.monotonic()
        release.wait(30)


def _thread(name: str, *args: object) -> threading.Thread:
    thread = threading.Thread(target=_hold, args=args, name=name, daemon=True)
    thread.start()
    return thread


def test_a_waiting_load_goes_before_reports_that_arrive_after_it(tmp_path) -> None:
    """Without the turnstile the second report would read beside the first at once, and
    reports overlapping without a gap would keep the load waiting for ever."""
    target = WarehouseTarget.parse(str(tmp_path / "w.duckdb"))
    got: dict[str, float] = {}
    first, load, second = threading.Event(), threading.Event(), threading.Event()
    threads = [_thread("report 1", target, True, first, got)]
    time.sleep(0.3)
    threads.append(_thread("load", target, False, load, got))
    time.sleep(0.3)  # the load is waiting for report 1 now
    threads.append(_thread("report 2", target, True, second, got))
    time.sleep(0.5)
    assert set(got) == {"report 1"}  # report 2 queues behind the waiting load
    first.set()
    time.sleep(0.5)
    assert set(got) == {"report 1", "load"}
    load.set()
    second.set()
    for thread in threads:
        thread.join(10)
    assert got["report 1"] < got["load"] < got["report 2"]


def test_the_run_lock_wait_gives_up_after_its_bound_in_one_line(tmp_path, monkeypatch) -> None:
    target = WarehouseTarget.parse(str(tmp_path / "w.duckdb"))
    monkeypatch.setenv(RUN_LOCK_WAIT_ENV, "0.5")
    release, got = threading.Event(), {}
    holder = _thread("load", target, False, release, got)
    time.sleep(0.3)
    started = time.monotonic()
    with pytest.raises(WarehouseBusy) as caught, run_lock(target, poll_seconds=0.05, shared=True):
        pass
    assert 0.2 <= waited(started) < 3
    message = str(caught.value)
    assert "\n" not in message and RUN_LOCK_WAIT_ENV in message and "a run holds" in message
    release.set()
    holder.join(10)


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [("", 7200.0), ("0", 0.0), ("90", 90.0), ("-1", None), ("nan", None), ("soon", None)],
)
def test_the_run_lock_wait_is_seconds_from_the_environment(raw: str, seconds: float | None):
    if seconds is None:
        with pytest.raises(WarehouseError, match=RUN_LOCK_WAIT_ENV):
            run_lock_wait_seconds({RUN_LOCK_WAIT_ENV: raw})
    else:
        assert run_lock_wait_seconds({RUN_LOCK_WAIT_ENV: raw}) == seconds
