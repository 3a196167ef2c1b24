"""Readers and writers of one DuckDB file take turns, through the flows (a temporary Prefect
server): a report started during a load waits for it, a report reads beside an analyst, a load
beside an analyst waits and then loads and reports, and the command line gives up on a held
warehouse in one line. The turns themselves, task by task, are
tests/warehouse/test_warehouse_turns.py.

Every holder is a real second process: DuckDB's lock and the run lock are per process."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import duckdb
import pytest

from flows.sparkify_etl import main as etl_cli
from flows.sparkify_etl import sparkify_etl
from flows.sparkify_report import sparkify_report
from tasks.common.run_spec import RunSpec
from tasks.warehouse.connect import connect
from tasks.warehouse.duckdb.session import LOCK_WAIT_ENV
from tasks.warehouse.target import WarehouseTarget
from tests.factories import published_run
from tests.holders import analyst, load_in_progress, waited


@pytest.fixture(scope="module")
def loaded(small_lake, tmp_path_factory) -> RunSpec:
    return published_run(small_lake, tmp_path_factory.mktemp("turns") / "w.duckdb")


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
