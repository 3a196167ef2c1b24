"""Audit the built tables before they are published (write, audit, publish).

A check is a query that returns the offending rows: zero rows pass. Column checks are compiled
from the pandera contracts in `tasks.model.contracts` (not-null, unique, allowed values, patterns,
ranges, lengths), foreign keys from its `RELATIONSHIPS` into sql/checks/relationship.sql; any
other check is a file under sql/checks/ named `<table>__<check>.sql`. Every result carries its
table, check, failing row count and a sample.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import pandera.pandas as pa
from prefect import task
from sqlglot import exp

from tasks.common.errors import QualityCheckFailed
from tasks.common.results import Check, CheckResult
from tasks.common.retry import WAREHOUSE_TASK
from tasks.common.run_spec import RunSpec
from tasks.common.sql_files import render, sql_path, statement_names
from tasks.model.contracts import CONTRACTS, RELATIONSHIPS, Relationship
from tasks.model.tables import BUILD_SCHEMA
from tasks.warehouse.base import Session
from tasks.warehouse.connect import adapter_for, connect

SAMPLE_ROWS = 5


def column_checks(table: str, model: type[pa.DataFrameModel], dialect: str) -> list[Check]:
    """Compile a pandera model's column rules into SQL checks on the built table."""
    source = exp.table_(table, db=BUILD_SCHEMA, quoted=True)
    checks = []
    for name, column in model.to_schema().columns.items():
        col = exp.column(name, quoted=True)
        conditions: list[tuple[str, exp.Expression, str]] = []
        if not column.nullable:
            conditions.append(("not_null", col.is_(exp.null()), "never NULL"))
        for rule in column.checks:
            violation = _violation(col, rule.name, rule.statistics)
            conditions.append((rule.name, violation, limit(rule.name, rule.statistics)))
        for check_name, condition, rule_text in conditions:
            query = exp.select("*").from_(source.copy()).where(condition)
            sql = query.sql(dialect=dialect)
            checks.append(Check(table, f"{name} {check_name}", sql, rule_text))
        if column.unique:
            duplicates = (
                exp.select(col.copy(), exp.Count(this=exp.Star()).as_("copies"))
                .from_(source.copy())
                .where(exp.not_(col.copy().is_(exp.null())))
                .group_by(col.copy())
                .having(exp.Count(this=exp.Star()) > 1)
            )
            sql = duplicates.sql(dialect=dialect)
            checks.append(Check(table, f"{name} unique", sql, "no two rows share it"))
    return checks


def sql_checks(table: str, dialect: str, incremental: bool = False) -> list[Check]:
    """The SQL checks of `table`: its declared relationships and its files under sql/checks/,
    by name.

    On a daily run the build holds only the changed keys' rows, so a lookup into another
    table looks into that table's next state (unchanged published rows + rebuilt rows): the
    checks' `next_state` macro, rendered with `is_incremental`.
    """
    checks = [
        relationship_check(relationship, dialect, incremental)
        for relationship in RELATIONSHIPS
        if relationship.child == table
    ]
    for name in statement_names(f"checks/{table}__"):
        sql = render(name, dialect, is_incremental=incremental)
        checks.append(Check(table, name.split("__", 1)[1], sql, _header(name)))
    return sorted(checks, key=lambda check: check.name)


def relationship_check(relationship: Relationship, dialect: str, incremental: bool) -> Check:
    """One declared foreign key as a check: sql/checks/relationship.sql filled from the
    declaration, whose names come from the closed `RELATIONSHIPS`, never from input."""
    sql = render("checks/relationship", dialect, is_incremental=incremental, **asdict(relationship))
    return Check(relationship.child, relationship.name, sql, relationship.rule)


def table_checks(table: str, dialect: str, incremental: bool = False) -> list[Check]:
    """Column checks on the built rows, then the table's hand-written checks."""
    columns = column_checks(table, CONTRACTS[table], dialect)
    return columns + sql_checks(table, dialect, incremental)


@task(
    name="check table",
    task_run_name="check {table}",
    **WAREHOUSE_TASK,
)
def check_table(run: RunSpec, table: str) -> list[CheckResult]:
    """Run every check of one built table; failures are returned, not raised, to be reported."""
    with connect(run.warehouse) as wh:
        checks = table_checks(table, adapter_for(run.warehouse).dialect, run.incremental)
        return [run_check(wh, check) for check in checks]


def run_check(wh: Session, check: Check) -> CheckResult:
    """Count a check's offending rows and keep a few of them for the report."""
    failing = int(wh.scalar(f"select count(*) from ({check.sql}) as offending"))
    sample = []
    if failing:
        rows = wh.query(f"select * from ({check.sql}) as offending limit {SAMPLE_ROWS}")
        sample = [repr(tuple(row)) for row in rows]
    return CheckResult(check.table, check.name, failing, sample, check.rule)


def enforce(results: list[CheckResult]) -> None:
    """Fail the run, naming each failed check, so the previous tables stay published."""
    failed = [r for r in results if not r.passed]
    if failed:
        details = "; ".join(f"{r.table}.{r.check}: {r.failing_rows:,} rows" for r in failed)
        raise QualityCheckFailed(f"{len(failed)} quality check(s) failed: {details}")


def _violation(col: exp.Column, rule: str, stats: dict[str, Any]) -> Any:  # a condition
    """The condition a row meets when it breaks one pandera check (NULLs never break one)."""
    c = col.copy()
    if rule == "isin":
        return exp.not_(c.isin(*[exp.Literal.string(v) for v in stats["allowed_values"]]))
    if rule == "str_matches":
        return exp.not_(exp.RegexpLike(this=c, expression=exp.Literal.string(stats["pattern"])))
    if rule == "greater_than":
        return c <= _number(stats["min_value"])
    if rule == "greater_than_or_equal_to":
        return c < _number(stats["min_value"])
    if rule == "less_than":
        return c >= _number(stats["max_value"])
    if rule == "less_than_or_equal_to":
        return c > _number(stats["max_value"])
    if rule == "in_range":
        low = c < _number(stats["min_value"])
        high = c > _number(stats["max_value"])
        return exp.or_(low, high)
    if rule == "str_length":
        length = exp.Length(this=c)
        bounds: list[exp.Expression] = []
        if stats.get("min_value") is not None:
            bounds.append(length < _number(stats["min_value"]))
        if stats.get("max_value") is not None:
            bounds.append(length > _number(stats["max_value"]))
        return exp.or_(*bounds)
    raise NotImplementedError(f"pandera check {rule!r} has no SQL translation yet")


def limit(rule: str, stats: dict[str, Any]) -> str:
    """What a pandera check allows, in words, for the quality-checks artifact."""
    low, high = stats.get("min_value"), stats.get("max_value")
    words = {
        "isin": lambda: "one of " + ", ".join(map(str, stats.get("allowed_values", ()))),
        "str_matches": lambda: f"matches {stats.get('pattern')}",
        "greater_than": lambda: f"over {low}",
        "greater_than_or_equal_to": lambda: f"at least {low}",
        "less_than": lambda: f"under {high}",
        "less_than_or_equal_to": lambda: f"at most {high}",
        "in_range": lambda: f"from {low} to {high}",
        "str_length": lambda: (
            f"{low} to {high} characters"
            if low is not None and high is not None
            else f"at most {high} characters"
            if high is not None
            else f"at least {low} characters"
        ),
    }
    return words[rule]() if rule in words else rule


def _header(name: str) -> str:
    """A hand-written check's rule: its header comment up to the colon."""
    first = sql_path(name, "redshift")[0].read_text(encoding="utf-8").splitlines()[0]
    return first.removeprefix("--").split(":", 1)[0].strip()


def _number(value: float) -> exp.Expression:
    return exp.Literal.number(value)
