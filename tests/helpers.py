"""Small named helpers the tests share: read the published tables, compare, craft lakes."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import duckdb

from tasks.common.sql_files import render, variants
from tasks.model.contracts import RELATIONSHIPS

MARTS = ("songplays", "users", "songs", "artists", "time")


def published_tables(warehouse: Path) -> dict[str, list[tuple]]:
    """Every published table as a sorted list of row tuples."""
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return {t: sorted(conn.execute(f'select * from main."{t}"').fetchall()) for t in MARTS}


def table_counts(warehouse: Path) -> dict[str, int]:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return {t: conn.execute(f'select count(*) from main."{t}"').fetchone()[0] for t in MARTS}


def query(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def assert_tables_equal(actual: dict[str, list[tuple]], expected: dict[str, list[tuple]]) -> None:
    """Compare table by table, showing the first differing rows rather than a wall of tuples."""
    for table in expected:
        got, want = actual[table], expected[table]
        got_rows, want_rows = set(got), set(want)
        missing = [row for row in want if row not in got_rows][:3]
        extra = [row for row in got if row not in want_rows][:3]
        assert (len(got), missing, extra) == (len(want), [], []), f"{table} differs"


def write_log(lake: Path, day: str, lines: list[str]) -> Path:
    """A log partition file holding exactly `lines` (used to craft bad input)."""
    year, month, _ = day.split("-")
    path = lake / "log_data" / year / month / f"{day}-events.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def template_contexts(name: str) -> list[dict[str, Any]]:
    """Every context the ETL renders the SQL file `name` with: a full load's and a daily run's
    (`is_incremental`), and for the two files filled per table or per declared relationship,
    each of those. A file wanting any other variable fails to render (StrictUndefined)."""
    modes: list[dict[str, Any]] = [{"is_incremental": False}, {"is_incremental": True}]
    bases: list[dict[str, Any]] = variants(name)  # each value of its closed-set table names
    if name == "checks/relationship":
        bases = [asdict(r) for r in RELATIONSHIPS]
    return [{**base, **mode} for base in bases for mode in modes]


def renders(name: str, dialect: str) -> list[str]:
    """The distinct statements the SQL file `name` renders to in `dialect`, over every context
    the ETL gives it."""
    return list(dict.fromkeys(render(name, dialect, **c) for c in template_contexts(name)))
