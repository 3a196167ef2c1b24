"""The SQL checks compiled from the pandera contracts agree with pandera itself."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pandera.errors
import pytest

from tasks.checks import check_table, column_checks, enforce, run_check
from tasks.contracts import CONTRACTS
from tasks.errors import QualityCheckFailed
from tasks.marts import MARTS, build_table
from tasks.staging import stage_events, stage_songs
from tasks.warehouse import connect
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
