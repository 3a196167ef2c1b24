"""Every statement under sql/ parses in the dialect it is written in and renders for DuckDB."""

from datetime import datetime

import duckdb
import pytest
import sqlglot

from tasks.record_sql import render_staging
from tasks.records import FIELDS
from tasks.schema import DDL
from tasks.sql_files import (
    SQL_ROOT,
    _epoch_arithmetic_to_duckdb,
    render,
    sql_path,
    statement_names,
)

ALL_FILES = sorted(SQL_ROOT.rglob("*.sql"))


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.relative_to(SQL_ROOT).as_posix())
def test_file_is_one_statement_in_its_dialect(path) -> None:
    dialect = "duckdb" if path.name.endswith(".duckdb.sql") else "redshift"
    statements = [s for s in sqlglot.parse(path.read_text(), read=dialect) if s is not None]
    assert len(statements) == 1


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.relative_to(SQL_ROOT).as_posix())
def test_file_opens_with_a_comment_saying_what_it_builds(path) -> None:
    assert path.read_text().startswith("-- ")


@pytest.mark.parametrize("name", statement_names())
def test_every_statement_renders_for_duckdb(name: str) -> None:
    rendered = render(name, "duckdb")
    assert sqlglot.parse_one(rendered, read="duckdb") is not None


def test_redshift_files_are_used_as_written_for_redshift() -> None:
    path, transpile = sql_path("marts/users", "redshift")
    assert path.name == "users.sql" and not transpile
    assert render("marts/users", "redshift") == path.read_text()


def test_engine_override_wins_over_the_default() -> None:
    path, transpile = sql_path("staging/events_records", "duckdb")
    assert path.name == "events_records.duckdb.sql" and not transpile


@pytest.mark.parametrize("kind", ["events", "songs"])
@pytest.mark.parametrize("template", ["parsed", "accepted"])
def test_staging_templates_render_one_statement_per_kind(template: str, kind: str) -> None:
    rendered = render_staging(template, kind)
    assert rendered.startswith("-- ")
    statements = [s for s in sqlglot.parse(rendered, read="duckdb") if s is not None]
    assert len(statements) == 1
    for f in FIELDS[kind]:
        assert f.column in rendered


def test_schema_creates_every_ddl_file_in_a_known_order() -> None:
    ddl_files = set(statement_names("ddl/"))
    assert ddl_files <= set(DDL)
    assert len(DDL) == len(set(DDL))


@pytest.mark.parametrize(
    ("epoch_ms", "expected"),
    [
        (1541106106796, datetime(2018, 11, 1, 21, 1, 46, 796000)),
        (0, datetime(1970, 1, 1)),
        (32503680000001, datetime(3000, 1, 1, 0, 0, 0, 1000)),
    ],
)
def test_redshift_epoch_arithmetic_keeps_milliseconds_in_duckdb(epoch_ms, expected) -> None:
    redshift = f"select timestamp 'epoch' + {epoch_ms} * interval '0.001 second' as t"
    tree = sqlglot.parse_one(redshift, read="redshift")
    duck = tree.transform(_epoch_arithmetic_to_duckdb).sql("duckdb")
    assert duckdb.connect().execute(duck).fetchone()[0] == expected
