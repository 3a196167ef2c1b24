"""Every statement under sql/ parses in the dialect it is written in and renders for DuckDB, in
every form the ETL renders its template (full load and daily run); the PostgreSQL rig's render
enforces what Redshift enforces (no keys, widths in bytes)."""

from datetime import datetime
from pathlib import Path

import duckdb
import jinja2
import pytest
import sqlglot
from sqlglot import exp

from tasks.common.sql_files import (
    SQL_ROOT,
    SqlFileNotFound,
    UnknownIdentifier,
    UntranslatableSql,
    _as_redshift_enforces,
    _epoch_arithmetic_to_duckdb,
    render,
    sql_path,
    statement_names,
    transpile,
    variants,
)
from tasks.model.templates import TEMPLATE_VARIABLES
from tasks.records.fields import FIELDS
from tasks.records.sql import render_staging
from tests.helpers import renders

ALL_FILES = sorted(SQL_ROOT.rglob("*.sql"))


def _defines(path: Path) -> tuple[str, str]:
    """The statement a file defines, and the dialect it is written in (`name.<engine>.sql`)."""
    rel = path.relative_to(SQL_ROOT).as_posix().removesuffix(".sql")
    base, _, engine = rel.rpartition(".")
    return (base, engine) if base and "/" not in engine else (rel, "redshift")


def _variant_id(name: str, context: dict[str, str]) -> str:
    return f"{name}[{','.join(context.values())}]" if context else name


# Every file with every value its template variables take (one empty context for a plain file).
FILE_VARIANTS = [(path, context) for path in ALL_FILES for context in variants(_defines(path)[0])]
STATEMENT_VARIANTS = [(name, context) for name in statement_names() for context in variants(name)]


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.relative_to(SQL_ROOT).as_posix())
def test_file_is_one_statement_in_its_dialect(path: Path) -> None:
    """In every form its template takes (`tests.helpers.template_contexts`), in the dialect
    it is written in (a `.duckdb.sql` override is DuckDB's, every other file Redshift's)."""
    name, dialect = _defines(path)
    assert sql_path(name, dialect)[0] == path
    for text in renders(name, dialect):
        statements = [s for s in sqlglot.parse(text, read=dialect) if s is not None]
        assert len(statements) == 1


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.relative_to(SQL_ROOT).as_posix())
def test_file_opens_with_a_comment_saying_what_it_builds(path) -> None:
    assert path.read_text().startswith("-- ")


def _reaches_redshift(name: str) -> bool:
    """A statement with a Redshift file: not the worker's parsing (sql/parse/) or a DuckDB
    adapter's own `.duckdb.sql` statement."""
    try:
        sql_path(name, "redshift")
    except SqlFileNotFound:
        return False
    return True


WAREHOUSE_STATEMENTS = [n for n in statement_names() if _reaches_redshift(n)]


@pytest.mark.parametrize("name", statement_names())
def test_every_statement_renders_for_duckdb(name: str) -> None:
    for rendered in renders(name, "duckdb"):
        assert sqlglot.parse_one(rendered, read="duckdb") is not None


@pytest.mark.parametrize("name", WAREHOUSE_STATEMENTS)
def test_every_warehouse_statement_renders_for_the_rig(name: str) -> None:
    """The rig's translation fails here, not only on the rig (sql/parse/ runs on the worker's
    DuckDB only)."""
    for rendered in renders(name, "postgres"):
        assert sqlglot.parse_one(rendered, read="postgres") is not None


def test_every_template_variable_belongs_to_a_statement_and_names_its_tables() -> None:
    assert set(TEMPLATE_VARIABLES) <= set(statement_names())
    for name in TEMPLATE_VARIABLES:
        rendered = {
            render(name, "redshift", **context, is_incremental=False) for context in variants(name)
        }
        assert len(rendered) == len(variants(name)) > 1  # each value makes its own statement


def test_a_table_variable_takes_only_a_name_from_its_closed_set() -> None:
    assert "sparkify_staging.songs_incoming" in render(
        "staging/clear_incoming", "duckdb", kind="songs"
    )
    for hostile in ("users", "events_incoming; drop table users; --", "EVENTS"):
        with pytest.raises(UnknownIdentifier, match="staging/clear_incoming: kind="):
            render("staging/clear_incoming", "duckdb", kind=hostile)


def test_redshift_files_are_used_as_written_for_redshift() -> None:
    path, transpile = sql_path("scope/changed_users", "redshift")
    assert path.name == "changed_users.sql" and not transpile
    assert render("scope/changed_users", "redshift") == path.read_text()


@pytest.mark.parametrize("name", ["marts/users", "marts/time", "checks/relationship"])
def test_a_template_variable_left_out_is_an_error_not_an_empty_string(name: str) -> None:
    with pytest.raises(jinja2.UndefinedError):
        render(name, "redshift")


def test_engine_override_wins_over_the_default() -> None:
    path, transpile = sql_path("parse/events_records", "duckdb")
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


@pytest.mark.parametrize("kind", ["events", "songs"])
def test_both_paths_make_the_same_parsed_table(kind: str) -> None:
    """Staging creates `parsed` with the fast path's query and fills it from either path:
    every column must have the same name, place and type whichever query made it."""
    from tasks.lake.reading import FILE_SCHEMA
    from tasks.records import typed
    from tasks.stage import MACROS
    from tasks.warehouse.duckdb.session import _register_functions

    shapes = []
    for fast in (False, True):
        conn = duckdb.connect()
        _register_functions(conn)
        for macro in MACROS:
            conn.execute(render(f"parse/{macro}", "duckdb"))
        conn.register("lake_batch", FILE_SCHEMA.empty_table())
        conn.register("typed_batch", typed.typed_schema(kind).empty_table())
        conn.execute(render_staging("parsed", kind, typed=fast, create=True))
        shapes.append(conn.execute("describe parsed").fetchall())
    assert shapes[0] == shapes[1]
    assert len(shapes[0]) > len(FIELDS[kind])


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

DDL_FILES = [(name, context) for name in statement_names("ddl/") for context in variants(name)]
DDL_IDS = [_variant_id(*v) for v in DDL_FILES]
CHARACTER_TYPES = {exp.DataType.Type.VARCHAR, exp.DataType.Type.CHAR}


def _columns(sql: str, dialect: str) -> dict[str, exp.ColumnDef]:
    """The columns a CREATE TABLE declares, by name (none for views, LIKE copies and CTAS)."""
    return {c.name: c for c in sqlglot.parse_one(sql, read=dialect).find_all(exp.ColumnDef)}


def _byte_checks(column: exp.ColumnDef) -> list[str]:
    """The CHECK constraints on a rendered column, as PostgreSQL SQL."""
    kinds = [constraint.kind for constraint in column.constraints]
    return [k.this.sql("postgres") for k in kinds if isinstance(k, exp.CheckColumnConstraint)]


STAR_OVER_QUALIFY = (
    "with plays as (select 1 as a, 2 as b) select * from plays as p "
    "qualify row_number() over (partition by a order by b) = 1"
)


def test_star_over_qualify_is_refused_where_the_translation_would_add_a_column() -> None:
    for star in ("*", "p.*"):
        with pytest.raises(UntranslatableSql, match="name the columns"):
            transpile(STAR_OVER_QUALIFY.replace("select *", f"select {star}"), "postgres")
    named = STAR_OVER_QUALIFY.replace("select * from plays", "select a, b from plays")
    rig = duckdb.connect()  # DuckDB runs the rig's translation: exactly the named columns
    assert [d[0] for d in rig.sql(transpile(named, "postgres")).description] == ["a", "b"]
    assert [d[0] for d in rig.sql(transpile(STAR_OVER_QUALIFY, "duckdb")).description] == [
        "a",
        "b",
    ]


@pytest.mark.parametrize(("name", "context"), DDL_FILES, ids=DDL_IDS)
def test_rig_render_declares_no_primary_key(name: str, context: dict[str, str]) -> None:
    rendered = render(name, "postgres", **context)
    tree = sqlglot.parse_one(rendered, read="postgres")
    assert not list(tree.find_all(exp.PrimaryKey, exp.PrimaryKeyColumnConstraint))
    assert "PRIMARY KEY" not in rendered.upper()


@pytest.mark.parametrize(("name", "context"), DDL_FILES, ids=DDL_IDS)
def test_rig_render_checks_every_character_width_in_bytes(
    name: str, context: dict[str, str]
) -> None:
    declared = _columns(render(name, "redshift", **context), "redshift")
    rendered = _columns(render(name, "postgres", **context), "postgres")
    assert rendered.keys() == declared.keys()
    for column, definition in declared.items():
        kind = definition.args["kind"]
        if kind.this in CHARACTER_TYPES:
            width = kind.expressions[0].this.name
            assert _byte_checks(rendered[column]) == [f"OCTET_LENGTH({column}) <= {width}"]
        else:
            assert _byte_checks(rendered[column]) == []


def test_rig_render_copies_the_byte_checks_into_like_tables() -> None:
    rendered = [
        sqlglot.parse_one(render(name, "postgres", **context), read="postgres")
        for name, context in DDL_FILES
    ]
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
