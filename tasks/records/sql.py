"""Compile the record declarations (`tasks.records`) into staging's SQL, as checks compile the
contracts: `sql/parse/parsed.duckdb.sql.j2` lays the fields out, this module writes each one's
conversion and rules, so the rules exist once, in `tasks.records`."""

from __future__ import annotations

from functools import cache

import jinja2

from tasks.common.sql_files import SQL_ROOT, render
from tasks.records.fields import FIELDS, MAX_RECORD_BYTES, Field

_CAST = {"integer": "integer", "bigint": "bigint", "number": "double"}
_BLANKS = "' ' || chr(9) || chr(10) || chr(13)"


def converted(f: Field) -> str:
    """The field's value typed, before its size and range policies."""
    if f.kind != "text":
        return f"try_cast({f.json}__text as {_CAST[checked_kind(f)]})"
    sql = f"field_text({f.json}__kind, {f.json}__text, raw_text, '{f.json}')"
    if f.repair:
        sql = f"repair_text({sql})"
    if f.unquote:
        sql = f"regexp_replace({sql}, '^\"(.*)\"$', '\\1')"
    if f.blank != "keep":
        blank = "''" if f.blank == "empty" else "null"
        sql = f"case when trim({sql}, {_BLANKS}) = '' then {blank} else {sql} end"
    return sql


def bounded(f: Field) -> str:
    """The converted value with the `null` and `truncate` policies applied."""
    col = f.column
    if f.max_bytes and f.oversize == "truncate":
        return (
            f"case when strlen({col}) > {f.max_bytes} "
            f"then f_truncate_utf8({col}, {f.max_bytes}) else {col} end"
        )
    if f.max_bytes and f.oversize == "null":
        return f"case when strlen({col}) > {f.max_bytes} then null else {col} end"
    if f.bounded and f.out_of_range == "null":
        return f"case when {_in_range(f)} then {col} end"
    return col


def checked_kind(f: Field) -> str:
    """The kind a value is checked against: an integer whose out-of-range values become NULL
    is read as a 64-bit one, so any whole number is in range or NULL, never a reject."""
    if f.kind == "integer" and f.bounded and f.out_of_range == "null":
        return "bigint"
    return f.kind


def required(f: Field) -> str:
    return f.required if isinstance(f.required, str) else str(f.required).lower()


def value_problems(fields: tuple[Field, ...]) -> list[str]:
    """The `reject` rules on converted values, one CASE each (NULL values never break one)."""
    problems = []
    for f in fields:
        col = f.column
        if f.non_empty:
            problems.append(f"case when {col} = '' then '{col} is empty' end")
        if f.max_bytes and f.oversize == "reject":
            problems.append(
                f"case when strlen({col}) > {f.max_bytes} "
                f"then '{f.json} is over {f.max_bytes} bytes' end"
            )
        if f.allowed:
            values = ", ".join(f"'{v}'" for v in f.allowed)
            words = " or ".join(f.allowed)
            problems.append(f"case when {col} not in ({values}) then '{f.json} is not {words}' end")
        if f.bounded and f.out_of_range == "reject":
            problems.append(f"case when not ({_in_range(f)}) then '{_range_problem(f)}' end")
    return problems


def _in_range(f: Field) -> str:
    parts = []
    if f.low is not None:
        parts.append(f"{f.column} {'>' if f.exclusive_low else '>='} {_literal(f.low)}")
    if f.high is not None:
        parts.append(f"{f.column} <= {_literal(f.high)}")
    return " and ".join(parts)


def _range_problem(f: Field) -> str:
    if f.range_label:
        return f"{f.json} is not between {f.range_label}"
    if f.high is None and f.low == 0:
        return f"{f.json} is {'not positive' if f.exclusive_low else 'negative'}"
    return f"{f.json} is not between {_literal(f.low)} and {_literal(f.high)}"


def _literal(value: float | None) -> str:
    return str(int(value)) if value is not None and float(value).is_integer() else str(value)


_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(SQL_ROOT), undefined=jinja2.StrictUndefined, autoescape=False
)


@cache
def render_staging(name: str, kind: str, split: bool = False) -> str:
    """`sql/parse/<name>.duckdb.sql.j2` rendered for one kind of record: `parsed` reads the
    batch's records into a new table, or with `split` the values a stream cut found into it."""
    fields = FIELDS[kind]
    records = "parse/records_from_split" if split else f"parse/{kind}_records"
    return _ENV.get_template(f"parse/{name}.duckdb.sql.j2").render(
        target="insert into parsed" if split else "create or replace temp table parsed as",
        records=render(records, "duckdb").strip(),
        kind=kind,
        fields=fields,
        columns=", ".join(f.column for f in fields),
        converted=converted,
        bounded=bounded,
        required=required,
        checked_kind=checked_kind,
        value_problems=value_problems(fields),
        max_record_bytes=MAX_RECORD_BYTES,
    )
