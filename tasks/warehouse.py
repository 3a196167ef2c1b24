"""The warehouse a run writes to: open a session, run named SQL files, keep loads atomic.

Every statement the ETL sends goes through `Session.run(name)`: it picks the file for the
engine (`tasks.sql_files`), binds values as parameters and logs the statement's name and
duration, never its parameters. Tasks receive a `WarehouseTarget` (a small, serialisable
description) and open their own session, so no connection outlives a task or crosses threads.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from tasks.errors import WarehouseError
from tasks.sql_files import render
from tasks.text_repair import repair_mojibake_arrow

log = logging.getLogger("sparkify.warehouse")


class WarehouseBusy(RuntimeError):
    """Another process holds the warehouse file's lock: transient, so the task retries."""


@dataclass(frozen=True)
class WarehouseTarget:
    """Where the star schema lives. Only the embedded DuckDB engine exists so far."""

    path: str
    dialect: str = "duckdb"

    @property
    def default_schema(self) -> str:
        """The schema analysts query: `main` in DuckDB, `public` in Redshift."""
        return "main" if self.dialect == "duckdb" else "public"


class Session:
    """One open connection to the warehouse."""

    def __init__(self, conn: duckdb.DuckDBPyConnection, dialect: str) -> None:
        self._conn = conn
        self.dialect = dialect

    def run(self, name: str, params: Mapping[str, Any] | None = None) -> None:
        """Run the statement in `sql/<name>.sql` (or its engine override)."""
        self.execute(render(name, self.dialect), params, label=name)

    def execute(
        self, sql: str, params: Mapping[str, Any] | None = None, label: str = "statement"
    ) -> None:
        """Run SQL the ETL built itself from a closed set of identifiers; values are bound."""
        started = time.perf_counter()
        self._conn.execute(sql, dict(params) if params else None)
        log.debug("%s ran in %.3f s", label, time.perf_counter() - started)

    def rows(self, name: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Rows of the query in `sql/<name>.sql` (small results: counts, checks, summaries)."""
        return self.query(render(name, self.dialect), params)

    def count(self, table: str) -> int:
        """Rows in a table the ETL owns (`schema.table` from a closed set, quoted here)."""
        return int(self.scalar(f"select count(*) from {quote_table(table)}"))

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Rows of a query, for counts, checks and summaries (small results only)."""
        return self._conn.execute(sql, dict(params) if params else None).fetchall()

    def scalar(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        """The single value a query returns."""
        return self.query(sql, params)[0][0]

    def register(self, view_name: str, data: Any) -> None:
        """Expose an Arrow table or batch to SQL under `view_name` (embedded engine only)."""
        self._conn.register(view_name, data)

    def unregister(self, view_name: str) -> None:
        self._conn.unregister(view_name)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """All-or-nothing: commit when the block ends, roll back if it raises."""
        self._conn.execute("begin transaction")
        try:
            yield self
        except BaseException:
            self._conn.execute("rollback")
            raise
        self._conn.execute("commit")


def quote_table(table: str) -> str:
    """`schema.table` or `table` with each part double-quoted, as both engines accept."""
    parts = table.split(".")
    if not all(part.replace("_", "").isalnum() for part in parts):
        raise ValueError(f"not a table name the ETL owns: {table!r}")
    return ".".join(f'"{part}"' for part in parts)


@contextmanager
def connect(target: WarehouseTarget) -> Iterator[Session]:
    """Open a session on the target; a one-line `WarehouseError` if it cannot be opened."""
    conn = _open_duckdb(Path(target.path))
    try:
        yield Session(conn, target.dialect)
    finally:
        conn.close()


def _open_duckdb(path: Path) -> duckdb.DuckDBPyConnection:
    if not path.parent.is_dir():
        raise WarehouseError(f"warehouse directory {path.parent} does not exist")
    try:
        conn = duckdb.connect(str(path))
    except duckdb.IOException as exc:
        first_line = str(exc).splitlines()[0]
        if "lock" in first_line.lower():
            raise WarehouseBusy(f"warehouse {path} is locked by another process") from exc
        raise WarehouseError(f"cannot open warehouse {path}: {first_line}") from exc
    except duckdb.Error as exc:
        first_line = str(exc).splitlines()[0]
        raise WarehouseError(f"cannot open warehouse {path}: {first_line}") from exc
    _register_functions(conn)
    return conn


def _register_functions(conn: duckdb.DuckDBPyConnection) -> None:
    """Python scalar functions the staging SQL calls; registered once per database instance."""
    # One registration per database instance: other connections of this process share it.
    with suppress(duckdb.CatalogException):
        conn.create_function(
            "repair_mojibake",
            repair_mojibake_arrow,
            ["VARCHAR"],
            "VARCHAR",
            type="arrow",
            null_handling="special",
            side_effects=False,
        )
