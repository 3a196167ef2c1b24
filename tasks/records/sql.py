"""Compile the record declarations (`tasks.records`) into staging's SQL, as checks compile the
contracts: `sql/parse/parsed.duckdb.sql.j2` lays the fields out, this module writes each one's
conversion and rules, so the rules exist once, in `tasks.records`."""

from __future__ import annotations

from functools import cache, partial

import jinja2

from tasks.common.sql_files import SQL_ROOT, render
from tasks.records.fields import BLANKS, FIELDS, INT32, MAX_RECORD_BYTES, Field
from tasks.records.typed import arrow_column

Rules = frozenset[str] | None  # "field.rule" names a batch may break (tasks.records.guards)
_CAST = {"integer": "integer", "bigint": "bigint", "number": "double"}
_BLANKS = " || ".join(f"chr({ord(c)})" for c in BLANKS)


def converted(f: Field) -> str:
    """The field's value typed, before its size and range policies."""
    if f.kind != "text":
        return f"try_cast({f.json}__text as {_CAST[checked_kind(f)]})"
    return _text_rules(f, f"field_text({f.json}__kind, {f.json}__text, raw_text, '{f.json}')")


def typed_converted(f: Field, keep: Rules = None) -> str:
    """`converted` for the fast path, whose value holds its declared kind already (Arrow's
    reader refused any other): text goes through the same rules from `field_text` on, an
    integer is checked against the 32-bit range `try_cast` would keep. `keep` names the rules
    that can change a value of this batch (`tasks.records.guards`); None keeps them all."""
    col = f"{f.json}__text"  # the typed value, under the name the per-record path's text has
    if f.kind == "text":
        if _kept(f, "nul", keep):
            col = f"drop_nul({col})"
        if _kept(f, "rtrim", keep):
            col = f"rtrim_blanks({col})"
        return _text_rules(f, col, keep)
    if checked_kind(f) == "integer":
        if not _kept(f, "int32", keep):
            return f"cast({col} as integer)"
        return f"case when {col} between {INT32[0]} and {INT32[1]} then cast({col} as integer) end"
    return col


def typed_problem(f: Field, keep: Rules = None) -> str:
    """`field_problem` for the fast path: of its reasons, only these can befall a value of the
    declared kind (missing, a 64-bit integer out of the 32-bit range, NaN or Infinity)."""
    col = f"{f.json}__text"
    checks = []
    if _kept(f, "missing", keep):
        if f.required is True:
            checks.append(f"when {col} is null then 'missing {f.json}'")
        elif f.required:
            checks.append(f"when {col} is null and ({f.required}) then 'missing {f.json}'")
    if checked_kind(f) == "integer" and _kept(f, "int32", keep):
        checks.append(
            f"when {col} not between {INT32[0]} and {INT32[1]} then '{f.json} out of range'"
        )
    if f.kind == "number" and _kept(f, "finite", keep):
        checks.append(f"when not isfinite({col}) then '{f.json} is not a finite number'")
    return f"case {' '.join(checks)} end" if checks else "null"


def _kept(f: Field, rule: str, keep: Rules) -> bool:
    return keep is None or f"{f.json}.{rule}" in keep


def problem(f: Field) -> str:
    """Why the field's value breaks its declared kind, else NULL (sql/parse/field_problem)."""
    return (
        f"field_problem({f.json}__kind, {f.json}__text, '{f.json}', '{checked_kind(f)}', "
        f"{required(f)})"
    )


def _text_rules(f: Field, sql: str, keep: Rules = None) -> str:
    """A text field's staged text from its value: repaired, unquoted, blanks decided."""
    if f.repair and _kept(f, "repair", keep):
        sql = f"repair_text({sql})"
    if f.unquote and _kept(f, "unquote", keep):
        sql = f"unquote({sql})"
    if f.blank != "keep" and _kept(f, "blank", keep):
        blank = "''" if f.blank == "empty" else "null"
        sql = f"case when trim({sql}, {_BLANKS}) = '' then {blank} else {sql} end"
    return sql


def bounded(f: Field, keep: Rules = None) -> str:
    """The converted value with the `null` and `truncate` policies applied."""
    col = f.column
    if f.max_bytes and not _kept(f, "size", keep):
        return col
    if f.bounded and f.out_of_range == "null" and not _kept(f, "range", keep):
        return col
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


def value_problems(fields: tuple[Field, ...], keep: Rules = None) -> list[str]:
    """The `reject` rules on converted values, one CASE each (NULL values never break one)."""
    problems = []
    for f in fields:
        col = f.column
        if f.non_empty and _kept(f, "non_empty", keep):
            problems.append(f"case when {col} = '' then '{col} is empty' end")
        if f.max_bytes and f.oversize == "reject" and _kept(f, "size", keep):
            problems.append(
                f"case when strlen({col}) > {f.max_bytes} "
                f"then '{f.json} is over {f.max_bytes} bytes' end"
            )
        if f.allowed and _kept(f, "allowed", keep):
            values = ", ".join(f"'{v}'" for v in f.allowed)
            words = " or ".join(f.allowed)
            problems.append(f"case when {col} not in ({values}) then '{f.json} is not {words}' end")
        if f.bounded and f.out_of_range == "reject" and _kept(f, "range", keep):
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


ROWS = ("all", "accepted", "rejected")


@cache
def render_staging(
    name: str,
    kind: str,
    split: bool = False,
    typed: bool = False,
    create: bool = False,
    rows: str = "all",
    keep: Rules = None,
) -> str:
    """`sql/parse/<name>.duckdb.sql.j2` rendered for one kind of record: `parsed` inserts the
    batch's records (the per-record path's), with `split` the values a stream cut found, with
    `typed` the fast path's records (registered as typed_batch); with `create` it makes the
    empty table, once per staging task. `rows="accepted"` inserts only the accepted records,
    straight into `{kind}_incoming` (the fast path's clean batches never fill `parsed`), and
    `rows="rejected"` only the rejected ones into `parsed`. With `keep` (the fast path only),
    just the rules it names are rendered: the others cannot change or reject a value of the
    batch (`tasks.records.guards`)."""
    if rows not in ROWS or kind not in FIELDS or (keep is not None and not typed):
        raise ValueError(f"no staging render for rows={rows!r}, kind={kind!r}, keep={keep!r}")
    fields = FIELDS[kind]
    columns = ", ".join(f.column for f in fields)
    records = "parse/records_from_split" if split else f"parse/{kind}_records"
    if create:
        target, select = "create or replace temp table parsed as", "select * from final limit 0"
    elif rows == "accepted":
        incoming = f"sparkify_staging.{kind}_incoming"
        target = f"insert into {incoming} ({columns}, source_file, line_number)"
        select = f"select {columns}, source_file, line_number from final where reason is null"
    else:
        target = "insert into parsed"
        select = "select * from final" + (" where reason is not null" if rows == "rejected" else "")
    return _ENV.get_template(f"parse/{name}.duckdb.sql.j2").render(
        target=target,
        select=select,
        typed=typed,
        typed_value=arrow_column,
        records=render(records, "duckdb").strip(),
        kind=kind,
        fields=fields,
        columns=columns,
        converted=partial(typed_converted, keep=keep) if typed else converted,
        problem=partial(typed_problem, keep=keep) if typed else problem,
        bounded=partial(bounded, keep=keep),
        required=required,
        checked_kind=checked_kind,
        value_problems=value_problems(fields, keep),
        max_record_bytes=MAX_RECORD_BYTES,
    )
