"""The SQL checks compiled from the pandera contracts agree with pandera itself; the declared
foreign keys each catch a row naming no parent, on a full load and a daily run."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd
import pandera.errors
import pytest

from tasks.build import build_table
from tasks.check import check_table, column_checks, enforce, run_check, sql_checks
from tasks.common.errors import QualityCheckFailed
from tasks.model.contracts import CONTRACTS, RELATIONSHIPS
from tasks.model.tables import MARTS
from tasks.stage import stage_events, stage_songs
from tasks.warehouse.connect import connect
from tests.factories import prepared_run


@pytest.fixture(scope="module")
def built(small_lake: Path, tmp_path_factory: pytest.TempPathFactory):
    """A warehouse whose build schema holds every table of the generated lake."""
    run = prepared_run(small_lake, tmp_path_factory.mktemp("checks") / "w.duckdb")
    stage_events.fn(run)
    stage_songs.fn(run)
    for table in MARTS:
        build_table.fn(run, table)
    return run


def _frame(run, table: str) -> pd.DataFrame:
    with duckdb.connect(run.warehouse.path, read_only=True) as conn:
        return conn.execute(f'select * from sparkify_build."{table}"').df()


def _failing_sql_checks(run, table: str, frame: pd.DataFrame, tmp_path: Path) -> set[str]:
    """Load `frame` as the built table of a scratch warehouse and run the compiled checks."""
    scratch = tmp_path / "scratch.duckdb"
    with duckdb.connect(str(scratch)) as conn:
        conn.execute("create schema if not exists sparkify_build")
        conn.execute(f'create or replace table sparkify_build."{table}" as select * from frame')
    target = type(run.warehouse)(path=str(scratch))
    with connect(target) as wh:
        results = [run_check(wh, c) for c in column_checks(table, CONTRACTS[table], "duckdb")]
    return {r.check for r in results if not r.passed}


PANDERA_NAMES = {"not_nullable": "not_null", "field_uniqueness": "unique"}


def _pandera_failures(table: str, frame: pd.DataFrame) -> set[str]:
    try:
        CONTRACTS[table].validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as errors:
        cases = errors.failure_cases
        names = (PANDERA_NAMES.get(k, k.split("(")[0]) for k in cases["check"])
        return {f"{c} {k}" for c, k in zip(cases["column"], names, strict=True)}
    return set()


@pytest.mark.parametrize("table", MARTS)
def test_the_built_tables_meet_their_contracts_in_pandera_and_in_sql(built, table) -> None:
    assert _pandera_failures(table, _frame(built, table)) == set()
    results = check_table.fn(built, table)
    assert results and all(r.passed for r in results), [r for r in results if not r.passed]


BREAKAGES = [
    ("users", "level", "gold", "level isin"),
    ("users", "user_id", None, "user_id not_null"),
    ("users", "gender", "", "gender str_length"),
    ("users", "gender", "x" * 17, "gender str_length"),
    ("songs", "song_id", "S" * 33, "song_id str_length"),
    ("songs", "song_id", "", "song_id str_length"),
    ("songs", "duration", -1.5, "duration greater_than"),
    ("songs", "year", 3001, "year in_range"),
    ("artists", "latitude", 91.0, "latitude in_range"),
    ("artists", "name", "", "name str_length"),
    ("time", "weekday", 7, "weekday in_range"),
    ("songplays", "level", "platinum", "level isin"),
    ("songplays", "artist_id", "A" * 33, "artist_id str_length"),
    ("songplays", "user_agent", "u" * 1025, "user_agent str_length"),
]


@pytest.mark.parametrize(("table", "column", "value", "check"), BREAKAGES)
def test_sql_and_pandera_flag_the_same_broken_value(built, tmp_path, table, column, value, check):
    frame = _frame(built, table)
    if value is None:
        frame[column] = frame[column].astype(object)
    frame.loc[0, column] = value
    assert check in _pandera_failures(table, frame)
    assert _failing_sql_checks(built, table, frame, tmp_path) == {check}


def test_duplicate_keys_fail_the_uniqueness_check(built, tmp_path) -> None:
    frame = _frame(built, "songs")
    frame.loc[1, "song_id"] = frame.loc[0, "song_id"]
    assert "song_id unique" in _failing_sql_checks(built, "songs", frame, tmp_path)
    assert "song_id unique" in _pandera_failures("songs", frame)


def test_referential_checks_find_orphans_and_enforce_names_them(built) -> None:
    with connect(built.warehouse) as wh:
        wh.execute("update sparkify_build.songplays set user_id = 'ghost' where user_id = '2'")
    try:
        results = check_table.fn(built, "songplays")
        orphans = [r for r in results if r.check == "user_id_in_users"]
        assert orphans[0].failing_rows > 0 and orphans[0].sample
        with pytest.raises(QualityCheckFailed, match=r"songplays\.user_id_in_users: [\d,]+ rows"):
            enforce(results)
    finally:
        with connect(built.warehouse) as wh:
            wh.execute("update sparkify_build.songplays set user_id = '2' where user_id = 'ghost'")


# --- foreign keys declared as data ----------------------------------------------------------

# Each foreign key of the star schema, stated here from what the tables mean (not read from
# RELATIONSHIPS): (child, column, parent, a value naming no parent row, whether NULL passes: a
# play that matched no song has NULL ids; a song always has an artist).
FOREIGN_KEYS = [
    ("songplays", "user_id", "users", "ghost", True),
    ("songplays", "start_time", "time", datetime(1969, 7, 20, 20, 17), True),
    ("songplays", "song_id", "songs", "SOGHOST", True),
    ("songplays", "artist_id", "artists", "ARGHOST", True),
    ("songs", "artist_id", "artists", "ARGHOST", False),
]


@pytest.fixture
def scratch(built, tmp_path):
    """A copy of the built warehouse to break."""
    path = tmp_path / "scratch.duckdb"
    shutil.copy(built.warehouse.path, path)
    return replace(built, warehouse=type(built.warehouse)(path=str(path)))


def _set_on_a_copied_row(run, child: str, column: str, value: object) -> None:
    """Add one row to the built child: a copy of a row (for songplays, of an unmatched play, so
    no song/artist agreement check sees it) with `column` set to `value`."""
    unmatched = "where song_id is null" if child == "songplays" else ""
    with connect(run.warehouse) as wh:
        wh.execute(f"create temp table copied as select * from sparkify_build.{child} {unmatched}")
        assert wh.count("copied") > 0
        wh.execute(f"update copied set {column} = $value", {"value": value})
        wh.execute(f"insert into sparkify_build.{child} select * from copied limit 1")


def _failing(run, table: str, incremental: bool = False) -> dict[str, int]:
    with connect(run.warehouse) as wh:
        results = [run_check(wh, c) for c in sql_checks(table, "duckdb", incremental)]
    return {r.check: r.failing_rows for r in results if not r.passed}


@pytest.mark.parametrize(("child", "column", "parent", "orphan", "null_passes"), FOREIGN_KEYS)
def test_each_foreign_key_fails_on_a_row_naming_no_parent_only(
    scratch, child, column, parent, orphan, null_passes
) -> None:
    assert _failing(scratch, child) == {}
    _set_on_a_copied_row(scratch, child, column, orphan)
    assert _failing(scratch, child) == {f"{column}_in_{parent}": 1}


@pytest.mark.parametrize(("child", "column", "parent", "orphan", "null_passes"), FOREIGN_KEYS)
def test_a_null_foreign_key_passes_only_where_declared(
    scratch, child, column, parent, orphan, null_passes
) -> None:
    _set_on_a_copied_row(scratch, child, column, None)
    assert _failing(scratch, child) == ({} if null_passes else {f"{column}_in_{parent}": 1})


def test_each_foreign_key_check_is_named_and_worded_after_its_key() -> None:
    checks = {(c.table, c.name): c.rule for t in MARTS for c in sql_checks(t, "duckdb")}
    for child, column, parent, _, _ in FOREIGN_KEYS:
        assert checks[(child, f"{column}_in_{parent}")] == f"{child}.{column} exists in {parent}"


def test_every_column_holding_another_tables_key_is_a_declared_relationship() -> None:
    """A declaration dropped from RELATIONSHIPS (or a new key column left undeclared) fails here:
    every column named like another table's unique key must reference that table."""
    keys = {
        table: name
        for table, model in CONTRACTS.items()
        for name, column in model.to_schema().columns.items()
        if column.unique
    }
    expected = {
        (child, column, parent, column)
        for child, model in CONTRACTS.items()
        for column in model.to_schema().columns
        for parent, key in keys.items()
        if parent != child and key == column
    }
    declared = {(r.child, r.column, r.parent, r.parent_column) for r in RELATIONSHIPS}
    assert declared == expected
    assert expected == {(child, col, parent, col) for child, col, parent, _, _ in FOREIGN_KEYS}


def test_a_daily_runs_foreign_key_looks_the_parent_up_in_its_next_state(scratch) -> None:
    """The daily build holds only the rebuilt users: a play's user is found among the published
    users whose key did not change, or else among the rebuilt ones."""
    with connect(scratch.warehouse) as wh:
        wh.execute("insert into users select * from sparkify_build.users")  # published
        wh.execute("delete from sparkify_build.users")  # nothing rebuilt
        (user, plays), *_ = wh.query(
            "select user_id, count(*) from sparkify_build.songplays group by user_id"
        )
    assert _failing(scratch, "songplays", incremental=True) == {}
    everyone = {
        "user_id_in_users": _count(scratch, "select count(*) from sparkify_build.songplays")
    }
    assert _failing(scratch, "songplays", incremental=False) == everyone  # a full load's lookup

    with connect(scratch.warehouse) as wh:
        wh.execute("insert into sparkify_staging.changed_users values ($u)", {"u": user})
    assert _failing(scratch, "songplays", incremental=True) == {"user_id_in_users": plays}

    with connect(scratch.warehouse) as wh:
        wh.execute("insert into sparkify_build.users select * from users where user_id = $u",
                   {"u": user})  # fmt: skip
    assert _failing(scratch, "songplays", incremental=True) == {}


def _count(run, sql: str) -> int:
    with connect(run.warehouse) as wh:
        return int(wh.scalar(sql))
