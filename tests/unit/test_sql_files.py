"""Every statement under sql/ parses in the dialect it is written in and renders for DuckDB;
the PostgreSQL rig's render enforces what Redshift enforces (no keys, widths in bytes)."""

from datetime import datetime

import duckdb
import pytest
import sqlglot
from sqlglot import exp

from tasks.record_sql import render_staging
from tasks.records import FIELDS
from tasks.schema import DDL
from tasks.sql_files import (
    SQL_ROOT,
    _as_redshift_enforces,
    _epoch_arithmetic_to_duckdb,
    render,
    sql_path,
    statement_names,
)
from tasks.warehouse import LOCK_TABLE_DDL

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
    """Every DDL file is created by create-schema, except the run lock's table: the lock creates
    it itself, so create-schema never waits on a table another run holds LOCK on."""
    ddl_files = set(statement_names("ddl/"))
    assert ddl_files <= set(DDL) | {LOCK_TABLE_DDL}
    assert LOCK_TABLE_DDL not in DDL
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


# --- the rig's render: what Redshift enforces, no more --------------------------------------

DDL_FILES = statement_names("ddl/")
CHARACTER_TYPES = {exp.DataType.Type.VARCHAR, exp.DataType.Type.CHAR}


def _columns(sql: str, dialect: str) -> dict[str, exp.ColumnDef]:
    """The columns a CREATE TABLE declares, by name (none for views, LIKE copies and CTAS)."""
    return {c.name: c for c in sqlglot.parse_one(sql, read=dialect).find_all(exp.ColumnDef)}


def _byte_checks(column: exp.ColumnDef) -> list[str]:
    """The CHECK constraints on a rendered column, as PostgreSQL SQL."""
    kinds = [constraint.kind for constraint in column.constraints]
    return [k.this.sql("postgres") for k in kinds if isinstance(k, exp.CheckColumnConstraint)]


@pytest.mark.parametrize("name", DDL_FILES)
def test_rig_render_declares_no_primary_key(name: str) -> None:
    rendered = render(name, "postgres")
    tree = sqlglot.parse_one(rendered, read="postgres")
    assert not list(tree.find_all(exp.PrimaryKey, exp.PrimaryKeyColumnConstraint))
    assert "PRIMARY KEY" not in rendered.upper()


@pytest.mark.parametrize("name", DDL_FILES)
def test_rig_render_checks_every_character_width_in_bytes(name: str) -> None:
    declared = _columns(SQL_ROOT.joinpath(f"{name}.sql").read_text(), "redshift")
    rendered = _columns(render(name, "postgres"), "postgres")
    assert rendered.keys() == declared.keys()
    for column, definition in declared.items():
        kind = definition.args["kind"]
        if kind.this in CHARACTER_TYPES:
            width = kind.expressions[0].this.name
            assert _byte_checks(rendered[column]) == [f"OCTET_LENGTH({column}) <= {width}"]
        else:
            assert _byte_checks(rendered[column]) == []


def test_rig_render_copies_the_byte_checks_into_like_tables() -> None:
    rendered = [sqlglot.parse_one(render(name, "postgres"), read="postgres") for name in DDL_FILES]
    likes = [like for tree in rendered for like in tree.find_all(exp.LikeProperty)]
    assert len(likes) == 3  # events_incoming, songs_incoming, quarantine_incoming
    for like in likes:
        assert " INCLUDING CONSTRAINTS" in like.sql("postgres")


@pytest.mark.parametrize(
    ("declared", "rendered"),
    [
        ("varchar(max)", "VARCHAR CHECK (OCTET_LENGTH(c) <= 65535)"),
        ("varchar", "VARCHAR CHECK (OCTET_LENGTH(c) <= 256)"),
        ("char(3)", "CHAR(3) CHECK (OCTET_LENGTH(c) <= 3)"),
        ("char", "CHAR CHECK (OCTET_LENGTH(c) <= 1)"),
        ("integer", "INT"),
    ],
)
def test_rig_render_uses_redshifts_default_and_max_widths(declared: str, rendered: str) -> None:
    tree = sqlglot.parse_one(f"create table t (c {declared})", read="redshift")
    assert _as_redshift_enforces(tree).sql("postgres") == f"CREATE TABLE t (c {rendered})"
