"""Create schema's order is derived from the DDL files: every statement after what it needs.

The derivation reads the files with sqlglot; these tests check it without trusting that reading,
by executing the DDL on fresh DuckDB databases (which resolve every name a statement uses when
it runs): the derived order runs, what it says a statement needs is enough and each of those
needs is real, and shuffled orders fail exactly when they break a need.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from pathlib import Path

import duckdb
import pytest

from tasks.common.run_spec import RunSpec
from tasks.common.sql_files import render, statement_names, variants
from tasks.create_schema import create_schema
from tasks.lake.files import LakeSource
from tasks.model.ddl import (
    CREATED_ELSEWHERE,
    DdlOrderError,
    DdlStatement,
    ddl_for,
    ddl_statements,
    order,
    statement_from_sql,
)
from tasks.warehouse.redshift.lock import LOCK_TABLE_DDL
from tasks.warehouse.redshift.parquet import SCRATCH_TABLES
from tasks.warehouse.target import WarehouseTarget
from tests.factories import prepared_run

ORDER = ddl_statements()
BY_REF = {statement.creates: statement for statement in ORDER}


def needs_of(statement: DdlStatement) -> set[DdlStatement]:
    return {BY_REF[ref] for ref in statement.needs}


def closure(statement: DdlStatement) -> set[DdlStatement]:
    """The statement and everything it needs, transitively."""
    found, pending = set(), [statement]
    while pending:
        current = pending.pop()
        if current not in found:
            found.add(current)
            pending.extend(needs_of(current))
    return found


def dependents(statement: DdlStatement) -> set[DdlStatement]:
    """The statement and everything that needs it, transitively."""
    return {other for other in ORDER if statement in closure(other)}


def execute(statements: Iterable[DdlStatement]) -> None:
    """Run the statements, in the given order, on a fresh in-memory DuckDB."""
    with duckdb.connect() as conn:
        for statement in statements:
            conn.execute(render(statement.name, "duckdb", **statement.variables))


def keeps_every_need(statements: list[DdlStatement]) -> bool:
    seen: set[DdlStatement] = set()
    for statement in statements:
        if not needs_of(statement) <= seen:
            return False
        seen.add(statement)
    return True


def _id(statement: DdlStatement) -> str:
    return str(statement).removeprefix("sql/")


# --- What create schema runs ------------------------------------------------------------------


def test_create_schema_runs_every_ddl_file_with_every_value_but_the_run_lock() -> None:
    """The run lock creates its table itself, so create schema never waits on a table another
    run holds LOCK on; every other DDL file runs once per table its template may name."""
    assert {LOCK_TABLE_DDL} == CREATED_ELSEWHERE
    expected = {
        (name, tuple(sorted(context.items())))
        for name in statement_names("ddl/")
        if name != LOCK_TABLE_DDL
        for context in variants(name)
    }
    ran = [(s.name, s.context) for s in ORDER if s.name.startswith("ddl/")]
    assert len(ran) == len(set(ran)) and set(ran) == expected
    # sql/intermediate/ holds parts of marts (next_songs and plays_next, included by time and
    # songplays), no view: create schema runs only sql/ddl/
    assert [s.name for s in ORDER if not s.name.startswith("ddl/")] == []


def test_the_order_is_schemas_then_tables_then_views_each_after_what_it_needs() -> None:
    kinds = [statement.kind for statement in ORDER]
    assert kinds == sorted(kinds, key=["schema", "table", "view"].index)
    assert keeps_every_need(list(ORDER))
    assert ORDER.index(BY_REF[("relation", "sparkify_staging.events")]) < ORDER.index(
        BY_REF[("relation", "sparkify_staging.events_next")]
    )


def test_the_order_is_the_same_whatever_order_the_files_come_in() -> None:
    shuffled = list(ORDER)
    random.Random(15).shuffle(shuffled)
    assert order(shuffled) == order(reversed(ORDER)) == ORDER


def test_files_that_go_leave_the_others_in_the_same_order() -> None:
    """The daily run's scoped views are about to go: nothing else changes when they do."""
    going = {
        "ddl/events_next_of_changed_users",
        "ddl/events_next_at_changed_times",
        "ddl/songs_next_of_changed_songs",
        "ddl/songs_next_of_changed_artists",
    }
    rest = [statement for statement in ORDER if statement.name not in going]
    assert order(rest) == tuple(rest)
    execute(rest)


# --- Checked by running the DDL: DuckDB resolves every name when a statement runs ------------


def test_the_derived_order_runs_on_a_fresh_duckdb() -> None:
    execute(ORDER)


@pytest.mark.parametrize("statement", ORDER, ids=_id)
def test_what_a_statement_needs_is_enough_to_run_it(statement: DdlStatement) -> None:
    execute(s for s in ORDER if s in closure(statement))


@pytest.mark.parametrize("statement", [s for s in ORDER if s.needs], ids=_id)
def test_each_thing_a_statement_needs_is_needed(statement: DdlStatement) -> None:
    """Without any one of its needs (and whatever needs that), the statement fails."""
    for need in needs_of(statement):
        without = [s for s in ORDER if s in closure(statement) - dependents(need)]
        execute(without)
        with pytest.raises(duckdb.Error):
            execute([*without, statement])


def test_shuffled_orders_fail_exactly_when_they_break_a_need() -> None:
    rng = random.Random(2024)
    broken = 0
    for _ in range(40):
        shuffled = list(ORDER)
        rng.shuffle(shuffled)
        if keeps_every_need(shuffled):
            execute(shuffled)
        else:
            broken += 1
            with pytest.raises(duckdb.Error):
                execute(shuffled)
    assert broken > 0
    with pytest.raises(duckdb.Error):
        execute(reversed(ORDER))


def test_random_orders_that_keep_every_need_run() -> None:
    rng = random.Random(7)
    for _ in range(10):
        done: list[DdlStatement] = []
        while len(done) < len(ORDER):
            ready = [s for s in ORDER if s not in done and needs_of(s) <= set(done)]
            done.append(rng.choice(ready))
        execute(done)


# --- Parts of the warehouse, and create schema itself -----------------------------------------


def test_the_scratch_warehouse_gets_the_staged_tables_and_what_they_copy() -> None:
    part = ddl_for(SCRATCH_TABLES)
    created = {statement.creates[1] for statement in part}
    staging = {f"sparkify_staging.{t}" for t in ("events", "songs", "quarantine")}
    assert created == {"sparkify_staging", *SCRATCH_TABLES, *staging}
    assert list(part) == [statement for statement in ORDER if statement in part]
    execute(part)


def test_create_schema_makes_every_object_on_duckdb_and_again_changes_nothing(
    tmp_path: Path,
) -> None:
    warehouse = tmp_path / "w.duckdb"
    run = RunSpec(lake=LakeSource(str(tmp_path)), warehouse=WarehouseTarget(path=str(warehouse)))
    create_schema.fn(run)
    create_schema.fn(run)
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        tables = conn.execute(
            "select schema_name from duckdb_schemas() union all "
            "select schema_name || '.' || table_name from duckdb_tables() union all "
            "select schema_name || '.' || view_name from duckdb_views() where not internal"
        ).fetchall()
    present = {name.removeprefix("main.") for (name,) in tables}
    assert {statement.creates[1] for statement in ORDER} <= present


# --- Errors name the files ----------------------------------------------------------------------


def _view(name: str, reads: str) -> DdlStatement:
    return statement_from_sql(
        f"ddl/{name}", {"redshift": f"create view s.{name} as select * from {reads}"}
    )


SCHEMA_S = statement_from_sql("ddl/schema_s", {"redshift": "create schema if not exists s"})


def test_a_need_no_file_creates_is_an_error_naming_the_file() -> None:
    with pytest.raises(DdlOrderError, match=r"sql/ddl/a\.sql needs s\.missing, which no file"):
        order([SCHEMA_S, _view("a", "s.missing")])
    table = statement_from_sql("ddl/t", {"redshift": "create table s.t (x int)"})
    with pytest.raises(DdlOrderError, match=r"sql/ddl/t\.sql needs schema s, which no file"):
        order([table])


def test_a_real_file_gone_is_an_error_naming_what_needed_it() -> None:
    without = [s for s in ORDER if s.name != "ddl/staging_incoming_files"]
    with pytest.raises(
        DdlOrderError,
        match=r"sql/ddl/staging_changed\.sql \(kind=events\) needs sparkify_staging\.incoming_",
    ):
        order(without)


def test_a_cycle_is_an_error_naming_its_files() -> None:
    with pytest.raises(
        DdlOrderError,
        match=r"need each other: sql/ddl/a\.sql -> sql/ddl/b\.sql -> sql/ddl/a\.sql",
    ):
        order([SCHEMA_S, _view("a", "s.b"), _view("b", "s.a"), _view("c", "s.a")])


def test_two_files_creating_one_object_is_an_error() -> None:
    twice = statement_from_sql("ddl/again", {"redshift": "create view s.a as select 1 as x"})
    with pytest.raises(
        DdlOrderError, match=r"sql/ddl/a\.sql and sql/ddl/again\.sql both create s\.a"
    ):
        order([SCHEMA_S, _view("a", "s.b"), twice])


def test_a_file_that_creates_nothing_or_differs_by_engine_is_an_error() -> None:
    with pytest.raises(DdlOrderError, match="ddl/x creates no schema, table or view"):
        statement_from_sql("ddl/x", {"redshift": "select 1"})
    with pytest.raises(DdlOrderError, match=r"ddl/x for each engine create s\.a and s\.b"):
        statement_from_sql(
            "ddl/x",
            {"redshift": "create table s.a (x int)", "duckdb": "create table s.b (x int)"},
        )


def test_an_engine_override_adds_what_it_needs() -> None:
    statement = statement_from_sql(
        "ddl/copy",
        {
            "redshift": "create table s.c (x int)",
            "duckdb": "create table s.c as select * from s.source where 1 = 0",
        },
    )
    assert statement.needs == {("schema", "s"), ("relation", "s.source")}


def test_create_schema_drops_the_views_an_older_release_left(tmp_path) -> None:
    """A warehouse built by the release before the marts said their own scope still has its
    views over staging; create schema removes each, and no view that is still current."""
    from tasks.model.ddl import RETIRED_VIEWS

    run = prepared_run(tmp_path, tmp_path / "w.duckdb")
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        for view in RETIRED_VIEWS:
            conn.execute(f"create view {view} as select * from sparkify_staging.events_next")
    create_schema.fn(run)
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as conn:
        found = conn.execute("select schema_name, view_name from duckdb_views() where not internal")
        views = {f"{schema}.{name}" for schema, name in found.fetchall()}
    assert views.isdisjoint(RETIRED_VIEWS)
    assert {"sparkify_staging.events_next", "sparkify_staging.songs_next"} <= views
