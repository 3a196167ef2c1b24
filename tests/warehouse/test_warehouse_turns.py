"""Readers and writers of one DuckDB file take turns instead of failing: a load waits for an
analyst's read-only connection (bounded, naming the holder's PID), a report waits for a load
and a load for a report, and reports read beside analysts and each other.

Every holder is a real second process: DuckDB's lock and the run lock are per process."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest

from flows.sparkify_etl import main as etl_cli
from flows.sparkify_etl import sparkify_etl
from flows.sparkify_report import report_period, sparkify_report
from tasks.errors import EtlError, WarehouseBusy, WarehouseError
from tasks.lake import LakeSource
from tasks.marts import MARTS, build_table
from tasks.publish import publish
from tasks.retry import is_transient
from tasks.run_spec import RunSpec
from tasks.schema import create_schema
from tasks.staging import stage_events, stage_songs
from tasks.warehouse import LOCK_WAIT_ENV, WarehouseTarget, connect, lock_wait_seconds, run_lock
from tests.factories import prepared_run

REPO = Path(__file__).resolve().parents[2]
Spawn = Callable[[str], subprocess.Popen]


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """Start a second process running `code`; return once it prints `held`. Killed at the end."""
    processes: list[subprocess.Popen] = []

    def start(code: str) -> subprocess.Popen:
        process = subprocess.Popen([sys.executable, "-c", code], cwd=REPO,
                                   stdout=subprocess.PIPE, text=True)  # fmt: skip
        processes.append(process)
        assert process.stdout.readline().strip() == "held"
        return process

    yield start
    for process in processes:
        process.kill()
        process.wait()


def analyst(path: Path, seconds: float) -> str:
    """An analyst's read-only connection, left open for `seconds`."""
    return (
        "import duckdb, time\n"
        f"c = duckdb.connect({str(path)!r}, read_only=True)\n"
        "print('held', flush=True)\n"
        f"time.sleep({seconds})\n"
    )


def load_in_progress(path: Path, seconds: float, publishes: str = "select 1") -> str:
    """A load mid-run: the run lock for `seconds`, the file open for writing in its first
    second (a task), then only the lock (between tasks), then `publishes` (its last task)."""
    return (
        "import time\n"
        "from tasks.warehouse import WarehouseTarget, connect, run_lock\n"
        f"target = WarehouseTarget.parse({str(path)!r})\n"
        "with run_lock(target):\n"
        "    with connect(target):\n"
        "        print('held', flush=True)\n"
        "        time.sleep(1)\n"
        f"    time.sleep({seconds - 1})\n"
        "    with connect(target) as wh:\n"
        f"        wh.execute({publishes!r})\n"
    )


def report_in_progress(path: Path, seconds: float) -> str:
    """A report mid-run: the run lock shared, and the file open read-only."""
    return (
        "import time\n"
        "from tasks.warehouse import WarehouseTarget, connect, run_lock\n"
        f"target = WarehouseTarget.parse({str(path)!r})\n"
        "with run_lock(target, shared=True), connect(target, read_only=True):\n"
        "    print('held', flush=True)\n"
        f"    time.sleep({seconds})\n"
    )


def empty_warehouse(tmp_path: Path) -> RunSpec:
    """A run on a warehouse file with the schema and no rows."""
    return prepared_run(tmp_path, tmp_path / "w.duckdb")


def waited(started: float) -> float:
    return time.monotonic() - started


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
    run = RunSpec(lake=LakeSource(""), warehouse=WarehouseTarget.parse(str(tmp_path / "w.duckdb")))
    with pytest.raises(WarehouseError, match=r"cannot open warehouse .*does not exist") as caught:
        report_period.fn(run, None, None)
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "w.duckdb").exists()


@pytest.fixture(scope="module")
def loaded(small_lake, tmp_path_factory) -> RunSpec:
    run = prepared_run(small_lake, tmp_path_factory.mktemp("turns") / "w.duckdb")
    staged = {"events": stage_events.fn(run), "songs": stage_songs.fn(run)}
    for table in MARTS:
        build_table.fn(run, table)
    publish.fn(run, staged)
    return run


@pytest.fixture
def plays_unpublished(loaded, tmp_path) -> Path:
    """A copy of the loaded warehouse whose songplays a load has yet to publish (held aside)."""
    path = tmp_path / "unpublished.duckdb"
    for suffix in ("", ".wal"):  # the whole database: its file and any log not yet checkpointed
        if Path(f"{loaded.warehouse.path}{suffix}").exists():
            shutil.copyfile(f"{loaded.warehouse.path}{suffix}", f"{path}{suffix}")
    with connect(WarehouseTarget.parse(str(path))) as wh:
        wh.execute("create table sparkify_meta.held_plays as select * from songplays")
        wh.execute("delete from songplays")
    return path


@pytest.mark.e2e
@pytest.mark.usefixtures("prefect_server")
def test_a_report_started_during_a_load_waits_for_it_then_succeeds(
    plays_unpublished, spawn, tmp_path
) -> None:
    """Read during the load, the warehouse has no plays and the report fails: it must wait."""
    publishes = "insert into songplays select * from sparkify_meta.held_plays"
    load = spawn(load_in_progress(plays_unpublished, 4, publishes))
    started = time.monotonic()
    out = Path(sparkify_report(warehouse=str(plays_unpublished), out=str(tmp_path / "r.html")))
    assert waited(started) >= 3.0
    assert load.wait(timeout=10) == 0
    assert out.read_text().count('src="data:image/png;base64,') == 4  # every chart


@pytest.mark.e2e
@pytest.mark.usefixtures("prefect_server")
def test_a_report_reads_beside_an_analysts_connection(loaded, spawn, tmp_path, monkeypatch):
    monkeypatch.setenv(LOCK_WAIT_ENV, "1")  # opening for writing would give up after 1 s
    holder = spawn(analyst(Path(loaded.warehouse.path), 120))
    out = Path(sparkify_report(warehouse=loaded.warehouse.path, out=str(tmp_path / "r.html")))
    assert out.is_file() and holder.poll() is None


@pytest.mark.e2e
@pytest.mark.usefixtures("prefect_server")
def test_a_load_beside_an_analyst_waits_then_loads_and_reports(small_lake, spawn, tmp_path):
    path = tmp_path / "w.duckdb"
    duckdb.connect(str(path)).close()  # the analyst opens an existing file, read-only
    holder = spawn(analyst(path, 3))
    started = time.monotonic()
    summary = sparkify_etl(source=str(small_lake), warehouse=str(path),
                           report=str(tmp_path / "r.html"))  # fmt: skip
    assert waited(started) >= 2.0 and holder.wait(timeout=10) == 0
    assert summary.published.rows_after["songplays"] > 0
    assert (tmp_path / "r.html").is_file()  # the report read the file the run had written


@pytest.mark.e2e
@pytest.mark.usefixtures("prefect_server")
def test_the_cli_gives_up_on_a_held_warehouse_in_one_line(
    small_lake, spawn, tmp_path, capsys, monkeypatch
) -> None:
    monkeypatch.setenv(LOCK_WAIT_ENV, "1")
    path = tmp_path / "w.duckdb"
    duckdb.connect(str(path)).close()
    holder = spawn(analyst(path, 120))
    assert etl_cli(["--source", str(small_lake), "--warehouse", str(path)]) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, errors
    assert f"is held by PID {holder.pid} (" in errors[0]
    assert "gave up after waiting 1 s" in errors[0]
