"""Find the SQL file for a statement and render it for the engine that runs it.

`sql/` is written in Redshift's dialect, the production warehouse's. Every file is a Jinja
template first (dbt's models are too): a caller passes the variables it declares, such as
`is_incremental` in the marts, and an undefined one is an error, never an empty string. Other
engines then get each
file transpiled by sqlglot; `name.<engine>.sql` beside `name.sql` overrides it where a construct
has no faithful translation (dbt's `adapter.dispatch`, one file per difference). For
"postgres", the test rig standing in for Redshift, tables are also made to enforce what
Redshift enforces: no primary keys, VARCHAR and CHAR widths counted in bytes.

A template variable that names a table takes only the names `tasks.model.templates` declares
for its file: identifiers come from a closed set in code, never from input.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from itertools import product
from pathlib import Path
from typing import Any

import jinja2
import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel

from tasks.model.templates import TEMPLATE_VARIABLES

SQL_ROOT = Path(__file__).resolve().parents[2] / "sql"
SOURCE_DIALECT = "redshift"


class SqlFileNotFound(LookupError):
    """No file under sql/ renders the named statement for the engine."""


class UnknownIdentifier(ValueError):
    """A template variable was given a table name outside the closed set declared for it."""


class UntranslatableSql(ValueError):
    """A statement uses a construct that the target engine would run with another meaning."""


# Engines without QUALIFY: sqlglot rewrites it as a subquery that adds a rank column `_w`, and
# an outer `select *` then returns that column too, so a UNION or a positional INSERT would
# break or shift. Such files name their columns; `_refuse_star_over_qualify` enforces it.
_WITHOUT_QUALIFY = frozenset({"postgres"})


def sql_path(name: str, dialect: str) -> tuple[Path, bool]:
    """Return the file that defines `name` for `dialect`, and whether it needs transpiling."""
    override = SQL_ROOT / f"{name}.{dialect}.sql"
    if override.is_file():
        return override, False
    default = SQL_ROOT / f"{name}.sql"
    if default.is_file():
        return default, dialect != SOURCE_DIALECT
    raise SqlFileNotFound(f"no SQL file for {name!r} in {dialect} under {SQL_ROOT}")


def render(name: str, dialect: str, **context: Any) -> str:
    """The statement `name` as `dialect` runs it, its template filled from `context` (values
    must be hashable: renders are cached, as files do not change during a run). A variable
    `tasks.model.templates` declares for the file takes only a name from its closed set."""
    for variable, allowed in TEMPLATE_VARIABLES.get(name, {}).items():
        if variable in context and context[variable] not in allowed:
            raise UnknownIdentifier(
                f"{name}: {variable}={context[variable]!r} is not one of {', '.join(allowed)}"
            )
    return _rendered(name, dialect, tuple(sorted(context.items())))


def variants(name: str) -> list[dict[str, str]]:
    """Every context the statement `name` is rendered with: one per combination of its table
    variables' closed sets, or one empty context for a file with none. What create schema
    runs a DDL template with, and what the tests render every file with."""
    declared = TEMPLATE_VARIABLES.get(name, {})
    return [dict(zip(declared, names, strict=True)) for names in product(*declared.values())]


@cache
def _rendered(name: str, dialect: str, context: tuple[tuple[str, Any], ...]) -> str:
    path, needs_transpile = sql_path(name, dialect)
    template = _TEMPLATES.get_template(path.relative_to(SQL_ROOT).as_posix())
    text = template.render(dict(context))
    return transpile(text, dialect) if needs_transpile else text


_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(SQL_ROOT),
    undefined=jinja2.StrictUndefined,
    autoescape=False,  # SQL, not HTML; values are bound parameters, never templated in
    keep_trailing_newline=True,
)


def transpile(text: str, dialect: str) -> str:
    """A statement written in Redshift's dialect, as `dialect` runs it: the translation every
    file under sql/ gets, for the few statements the ETL builds in code."""
    if dialect == SOURCE_DIALECT:
        return text
    tree = _transformed(sqlglot.parse_one(text, read=SOURCE_DIALECT), _drop_redshift_layout)
    if dialect in _WITHOUT_QUALIFY:
        _refuse_star_over_qualify(tree, dialect)
    if dialect == "duckdb":
        tree = _transformed(_transformed(tree, _epoch_arithmetic_to_duckdb), _drop_primary_keys)
    if dialect == "postgres":
        tree = _as_redshift_enforces(tree)
    return tree.sql(dialect=dialect, unsupported_level=ErrorLevel.IGNORE, pretty=True)


def _transformed(tree: Any, rule: Callable[..., Any]) -> exp.Expression:
    """`tree.transform(rule)`, typed: a rule never removes the root statement itself."""
    result = tree.transform(rule)
    if result is None:
        raise ValueError(f"{rule.__name__} removed the whole statement")
    return result


def statement_names(prefix: str = "") -> list[str]:
    """Every statement name under sql/ (overrides folded into their base name), sorted."""
    names = set()
    for path in SQL_ROOT.rglob("*.sql"):
        rel = path.relative_to(SQL_ROOT).as_posix()[: -len(".sql")]
        base, _, engine = rel.rpartition(".")
        names.add(base if base and "/" not in engine else rel)
    return sorted(n for n in names if n.startswith(prefix))


_REDSHIFT_LAYOUT = (exp.DistKeyProperty, exp.DistStyleProperty, exp.SortKeyProperty)


def _refuse_star_over_qualify(tree: exp.Expression, dialect: str) -> None:
    """One error where a translation would silently add a column, rather than a wrong result
    (or a UNION's column-count error) far from its cause."""
    for select in tree.find_all(exp.Select):
        if select.args.get("qualify") and any(e.is_star for e in select.expressions):
            raise UntranslatableSql(
                f"{dialect} has no QUALIFY: `select *` over QUALIFY would also return its rank "
                f"column; name the columns: {select.sql(dialect=SOURCE_DIALECT)[:120]}"
            )


def _drop_redshift_layout(node: exp.Expression) -> exp.Expression | None:
    """DISTKEY, DISTSTYLE and SORTKEY place rows on Redshift's slices; other engines have none."""
    return None if isinstance(node, _REDSHIFT_LAYOUT) else node


def _drop_primary_keys(node: exp.Expression) -> exp.Expression | None:
    """Redshift declares primary keys for its planner and never enforces them (AWS "Defining
    table constraints", https://docs.aws.amazon.com/redshift/latest/dg/t_Defining_constraints.html:
    "Uniqueness, primary key, and foreign key constraints are informational only; they are not
    enforced by Amazon Redshift"). The PostgreSQL rig would enforce them and so hide a duplicate
    Redshift keeps; DuckDB would enforce each with an in-memory index (on 10M plays more than
    the whole memory budget, and rebuilt on every publish). The quality checks enforce
    uniqueness on every engine."""
    if isinstance(node, exp.PrimaryKey):
        return None
    if isinstance(node, exp.ColumnConstraint) and isinstance(
        node.args.get("kind"), exp.PrimaryKeyColumnConstraint
    ):
        return None
    return node


def _as_redshift_enforces(tree: exp.Expression) -> exp.Expression:
    """Make the PostgreSQL rig enforce what Redshift enforces: drop the primary keys Redshift
    never enforces, count VARCHAR/CHAR widths in bytes as Redshift does, and keep those byte
    checks on `(LIKE ...)` copies. A rig kinder, or stricter, than Redshift hides bugs."""
    tree = _transformed(tree, _drop_primary_keys)
    if isinstance(tree, exp.Create) and tree.kind == "TABLE":
        for column in list(tree.find_all(exp.ColumnDef)):
            _check_byte_width(column)
        for like in list(tree.find_all(exp.LikeProperty)):
            _include_constraints(like)
    return tree


# Redshift's widths when a CREATE TABLE gives none, or MAX (AWS "Character types",
# https://docs.aws.amazon.com/redshift/latest/dg/r_Character_types.html).
_DEFAULT_BYTES = {
    exp.DataType.Type.VARCHAR: 256,
    exp.DataType.Type.NVARCHAR: 256,
    exp.DataType.Type.CHAR: 1,
    exp.DataType.Type.NCHAR: 1,
}
_MAX_BYTES = {
    exp.DataType.Type.VARCHAR: 65535,
    exp.DataType.Type.NVARCHAR: 65535,
    exp.DataType.Type.CHAR: 4096,
    exp.DataType.Type.NCHAR: 4096,
}


def _byte_width(kind: exp.DataType) -> int | None:
    """The bytes a Redshift VARCHAR/CHAR column holds, or None for any other type."""
    if kind.this not in _DEFAULT_BYTES:
        return None
    if not kind.expressions:
        return _DEFAULT_BYTES[kind.this]
    width = kind.expressions[0].this
    if isinstance(width, exp.Literal) and width.is_int:
        return int(width.name)
    if width.name.upper() == "MAX":
        return _MAX_BYTES[kind.this]
    return None


def _check_byte_width(column: exp.ColumnDef) -> None:
    """Add `CHECK (octet_length(col) <= n)` to a VARCHAR(n)/CHAR(n) column.

    Redshift counts these widths in bytes, PostgreSQL in characters (AWS "Character types":
    "CHAR and VARCHAR data types are defined in terms of bytes, not characters"), so a name of
    n three-byte characters fits the rig's VARCHAR(n) but not Redshift's. The declared type
    stays, so copies that drop CHECKs (CREATE TABLE AS, LIKE without INCLUDING CONSTRAINTS)
    keep at least the character limit; MAX, which
    PostgreSQL does not know, becomes an unbounded VARCHAR with the check. On a CHAR(n) the
    check also refuses any multi-byte character, as Redshift does (octet_length counts
    PostgreSQL's blank padding). Stricter than Redshift in one corner: Redshift truncates
    excess trailing blanks to n bytes, PostgreSQL to n characters, then the check sees them.
    """
    kind = column.args.get("kind")
    if not isinstance(kind, exp.DataType):
        return
    width = _byte_width(kind)
    if width is None:
        return
    if kind.expressions and not kind.expressions[0].this.is_int:
        kind.set("expressions", [])  # VARCHAR(MAX)
    octets = exp.func("octet_length", exp.column(column.this.copy()))
    within = exp.LTE(this=octets, expression=exp.Literal.number(width))
    check = exp.ColumnConstraint(kind=exp.CheckColumnConstraint(this=within))
    column.append("constraints", check)


def _include_constraints(like: exp.LikeProperty) -> None:
    """Make PostgreSQL's `(LIKE t)` copy t's byte checks: it copies CHECK constraints only with
    INCLUDING CONSTRAINTS, and Redshift's LIKE keeps the byte widths that the checks stand for."""
    options = {(o.name.upper(), o.text("value").upper()) for o in like.expressions}
    if not options & {("INCLUDING", "CONSTRAINTS"), ("INCLUDING", "ALL")}:
        option = exp.Property(this=exp.var("INCLUDING"), value=exp.var("CONSTRAINTS"))
        like.append("expressions", option)


def _epoch_arithmetic_to_duckdb(node: exp.Expression) -> exp.Expression | exp.Func:
    """Rewrite Redshift's `TIMESTAMP 'epoch' + n * INTERVAL 'k unit'` as DuckDB's make_timestamp.

    The idiom is how Redshift turns epoch numbers into timestamps, but DuckDB multiplies an
    interval only by a 32-bit integer, so epoch milliseconds overflow. make_timestamp takes
    epoch microseconds and keeps every digit.
    """
    if not isinstance(node, exp.Add):
        return node
    epoch, product = node.this, node.expression
    if not (_is_epoch_literal(epoch) and isinstance(product, exp.Mul)):
        return node
    count, interval = product.this, product.expression
    if not isinstance(interval, exp.Interval):
        count, interval = interval, count
    micros = _interval_micros(interval)
    if micros is None:
        return node
    scaled = exp.Mul(this=exp.Paren(this=count.copy()), expression=exp.Literal.number(micros))
    as_bigint = exp.Cast(this=exp.func("round", scaled), to=exp.DataType.build("bigint"))
    return exp.func("make_timestamp", as_bigint)


def _is_epoch_literal(node: exp.Expression) -> bool:
    return (
        isinstance(node, exp.Cast)
        and isinstance(node.this, exp.Literal)
        and node.this.name.lower() == "epoch"
        and node.to.is_type("timestamp")
    )


_MICROS_PER_UNIT = {
    "microsecond": 1,
    "millisecond": 1_000,
    "second": 1_000_000,
    "minute": 60_000_000,
    "hour": 3_600_000_000,
    "day": 86_400_000_000,
}


def _interval_micros(interval: exp.Expression) -> int | None:
    if not isinstance(interval, exp.Interval):
        return None
    text = interval.this.name if interval.this else ""
    unit = interval.unit.name if interval.unit else ""
    parts = text.split()
    if len(parts) == 2 and not unit:
        text, unit = parts
    unit = unit.lower().rstrip("s")
    try:
        value = float(text)
    except ValueError:
        return None
    if unit not in _MICROS_PER_UNIT:
        return None
    micros = value * _MICROS_PER_UNIT[unit]
    return int(micros) if micros == int(micros) else None
