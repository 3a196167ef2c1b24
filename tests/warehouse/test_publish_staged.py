"""A full load's staged events and songs are moved into place on DuckDB (renamed, not copied):
the published staging tables must hold exactly what the copy would, keep the constraints
their DDL declares, survive a failed publish, and take the next full and daily runs."""

from __future__ import annotations

import logging
import shutil
from datetime import date
from pathlib import Path

import pytest

from tasks.build import build_table
from tasks.model.tables import KINDS, MARTS
from tasks.publish import publish
from tasks.stage import stage_events, stage_songs
from tasks.warehouse.base import Adapter, Session
from tasks.warehouse.duckdb.adapter import DuckDBAdapter
from tests.factories import make_dirty, prepared_run
from tests.helpers import published_tables, query

STAGED = {kind: f"sparkify_staging.{kind}" for kind in KINDS}


def _load(lake: Path, warehouse: Path, day: date | None = None) -> None:
    run = prepared_run(lake, warehouse, day=day)
    staged = {"events": stage_events.fn(run), "songs": stage_songs.fn(run)}
    for table in MARTS:
        build_table.fn(run, table)
    publish.fn(run, staged)


def _staged_rows(warehouse: Path) -> dict[str, list[tuple]]:
    """Every published staging table's rows: the two the move replaces and the two publish
    still copies into (quarantine, loaded files)."""
    tables = {**STAGED, "quarantine": "sparkify_staging.quarantine"}
    rows = {
        kind: sorted(query(warehouse, f"select * from {table}"), key=repr)
        for kind, table in tables.items()
    }
    rows["loaded_files"] = sorted(
        query(warehouse, "select kind, source_file from sparkify_staging.loaded_files")
    )
    return rows


def _nullability(warehouse: Path, table: str) -> list[tuple[str, str, str]]:
    return query(
        warehouse,
        "select column_name, data_type, is_nullable from information_schema.columns "
        f"where table_schema = 'sparkify_staging' and table_name = '{table}' "
        "order by ordinal_position",
    )


@pytest.fixture
def lake(small_lake: Path, tmp_path: Path) -> Path:
    """The generated lake with bad records of several classes, so the quarantine has rows."""
    dirty = Path(shutil.copytree(small_lake, tmp_path / "dirty-lake"))
    make_dirty(dirty)
    return dirty


@pytest.fixture
def copied(lake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The same full load published by copying the rows (the adapter's move turned off): the
    expectation, made by the DELETE + INSERT every engine runs."""
    warehouse = tmp_path / "copied.duckdb"
    monkeypatch.setattr(DuckDBAdapter, "replace_staged", Adapter.replace_staged)
    _load(lake, warehouse)
    monkeypatch.undo()
    return warehouse


def test_a_full_load_moves_exactly_the_rows_a_copy_would_and_keeps_the_constraints(
    lake: Path, copied: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fresh = tmp_path / "fresh.duckdb"
    prepared_run(lake, fresh)  # the tables as the DDL alone makes them
    moved = tmp_path / "moved.duckdb"
    with caplog.at_level(logging.DEBUG, logger="sparkify.warehouse"):
        _load(lake, moved)
    statements = [r.getMessage().split(" ran in ")[0] for r in caplog.records]
    for table in STAGED.values():  # moved, not copied (the speed this is for)
        assert f"publish {table}: move" in statements
    assert statements.count("publish/incoming") == 1  # the quarantine's rows only
    assert _staged_rows(moved) == _staged_rows(copied)
    assert all(_staged_rows(moved).values())  # quarantine too: the lake is dirty
    assert published_tables(moved) == published_tables(copied)
    for kind in KINDS:
        declared = _nullability(fresh, kind)
        assert "NO" in {nullable for *_, nullable in declared}, kind  # the DDL has NOT NULLs
        assert _nullability(moved, kind) == declared
        assert _nullability(moved, f"{kind}_incoming") == declared
        assert query(moved, f"select count(*) from {STAGED[kind]}_incoming") == [(0,)]


def test_second_full_load_and_a_daily_run_after_a_move_duplicate_nothing(
    lake: Path, copied: Path, tmp_path: Path
) -> None:
    moved = tmp_path / "moved.duckdb"
    _load(lake, moved)
    _load(lake, moved)
    assert _staged_rows(moved) == _staged_rows(copied)
    first_day = min(p.name[:10] for p in (lake / "log_data").rglob("*.json"))
    _load(lake, moved, date.fromisoformat(first_day))
    assert _staged_rows(moved) == _staged_rows(copied)
    assert published_tables(moved) == published_tables(copied)


def test_a_publish_that_fails_after_the_move_keeps_the_previous_tables_and_can_be_retried(
    small_lake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    previous = tmp_path / "previous-lake"
    shutil.copytree(small_lake, previous)
    for path in sorted((previous / "log_data").rglob("*.json"))[1:]:
        path.unlink()  # the previous lake: one day of events
    warehouse = tmp_path / "w.duckdb"
    _load(previous, warehouse)
    before = _staged_rows(warehouse)

    run = prepared_run(small_lake, warehouse)
    staged = {"events": stage_events.fn(run), "songs": stage_songs.fn(run)}
    for table in MARTS:
        build_table.fn(run, table)
    incoming = {k: query(warehouse, f"select count(*) from {STAGED[k]}_incoming") for k in KINDS}
    real_run = Session.run

    def failing(self: Session, name: str, *args: object, **kwargs: object) -> None:
        if name == "publish/loaded_files":  # after both staging tables were moved
            raise RuntimeError("the publish fails here")
        real_run(self, name, *args, **kwargs)

    monkeypatch.setattr(Session, "run", failing)
    with pytest.raises(RuntimeError, match="the publish fails here"):
        publish.fn(run, staged)
    monkeypatch.undo()
    assert _staged_rows(warehouse) == before
    assert {k: query(warehouse, f"select count(*) from {STAGED[k]}_incoming") for k in KINDS} == (
        incoming
    )
    publish.fn(run, staged)  # the retried publish moves the same rows in
    whole = tmp_path / "whole.duckdb"
    _load(small_lake, whole)
    assert _staged_rows(warehouse) == _staged_rows(whole)


def test_a_publish_run_again_after_it_committed_changes_no_staged_row(
    small_lake: Path, tmp_path: Path
) -> None:
    """A retried publish that had committed: the run's incoming tables are empty by then, and
    moving them in would empty staging."""
    warehouse = tmp_path / "w.duckdb"
    run = prepared_run(small_lake, warehouse)
    staged = {"events": stage_events.fn(run), "songs": stage_songs.fn(run)}
    for table in MARTS:
        build_table.fn(run, table)
    publish.fn(run, staged)
    once = _staged_rows(warehouse), published_tables(warehouse)
    publish.fn(run, staged)
    assert (_staged_rows(warehouse), published_tables(warehouse)) == once
    assert all(once[0][kind] for kind in KINDS)
