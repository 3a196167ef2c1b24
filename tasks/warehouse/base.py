"""What every warehouse adapter provides: a session that runs named SQL files, and a run lock.

Every statement the ETL sends goes through `Session.run(name)`: it picks the file for the
engine's dialect (`tasks.common.sql_files`), binds values as parameters and logs the statement's
name and duration, never its parameters.
"""

from __future__ import annotations

import logging
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any

from tasks.common.errors import WarehouseError, first_line
from tasks.common.sql_files import render

if TYPE_CHECKING:  # types only: the adapters import this module
    from tasks.common.run_spec import RunSpec
    from tasks.warehouse.duckdb.session import DuckDBSession
    from tasks.warehouse.target import WarehouseTarget

log = logging.getLogger("sparkify.warehouse")


class Session:
    """One open connection to the warehouse."""

    def __init__(self, conn: Any, dialect: str) -> None:
        self._conn = conn
        self.dialect = dialect

    def close(self) -> None:
        """Close the connection; a connection that already dropped is logged, never raised, so
        it cannot mask the error that ended the session's block."""
        try:
            self._conn.close()
        except Exception as exc:
            log.warning("closing the warehouse connection failed: %s", first_line(exc))

    def run(self, name: str, params: Mapping[str, Any] | None = None, **context: Any) -> None:
        """Run the statement in `sql/<name>.sql` (or its engine override), its template filled
        from `context` (`tasks.common.sql_files.render`)."""
        self.execute(render(name, self.dialect, **context), params, label=name)

    def execute(
        self, sql: str, params: Mapping[str, Any] | None = None, label: str = "statement"
    ) -> None:
        """Run SQL the ETL built itself from a closed set of identifiers; values are bound."""
        started = time.perf_counter()
        self._execute(sql, params)
        log.debug("%s ran in %.3f s", label, time.perf_counter() - started)

    def rows(
        self, name: str, params: Mapping[str, Any] | None = None, **context: Any
    ) -> list[tuple[Any, ...]]:
        """Rows of the query in `sql/<name>.sql` (small results: counts, checks, summaries)."""
        return self.query(render(name, self.dialect, **context), params)

    def columns_and_rows(
        self, name: str, params: Mapping[str, Any] | None = None
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        """A named query's column names and rows (for reports)."""
        columns, rows = self._described(render(name, self.dialect), params)
        return columns, [tuple(row) for row in rows]

    def count(self, table: str) -> int:
        """Rows in a table the ETL owns (`schema.table` from a closed set, quoted here)."""
        return int(self.scalar(f"select count(*) from {quote_table(table)}"))

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Rows of a query, for counts, checks and summaries (small results only)."""
        return [tuple(row) for row in self._fetch(sql, params)]

    def scalar(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        """The single value a query returns."""
        return self.query(sql, params)[0][0]

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """All-or-nothing: commit when the block ends, roll back if it raises."""
        self._execute("begin", None)
        try:
            yield self
        except BaseException:
            try:
                self._execute("rollback", None)
            except Exception as exc:  # a dropped connection: the server rolls back itself
                log.warning("rollback failed (%s); the original error follows", first_line(exc))
            raise
        self._execute("commit", None)

    def _execute(self, sql: str, params: Mapping[str, Any] | None) -> None:
        raise NotImplementedError

    def _fetch(self, sql: str, params: Mapping[str, Any] | None) -> list[Any]:
        raise NotImplementedError

    def _described(self, sql: str, params: Mapping[str, Any] | None) -> tuple[list[str], list]:
        raise NotImplementedError


def quote_table(table: str) -> str:
    """`schema.table` or `table` with each part double-quoted, as every engine accepts."""
    parts = table.split(".")
    if not all(part.replace("_", "").isalnum() for part in parts):
        raise ValueError(f"not a table name the ETL owns: {table!r}")
    return ".".join(f'"{part}"' for part in parts)


class RunLock:
    """What `run_lock` yields. A run calls `check()` right before it publishes.

    A DuckDB file's lock belongs to the process (fcntl) and cannot end while the process
    lives, so this base class's check passes. Redshift's lock (`_SessionLock`) is a session's,
    and the server can end that session under the run (an idle timeout, a restart, an
    administrator's pg_terminate_backend); another run may then take the lock, and a publish
    from this one would interleave with its writes.
    """

    @property
    def lost(self) -> str | None:
        """Why the lock is no longer held (one line), or None while it is."""
        return None

    def check(self) -> None:
        """Raise a one-line `WarehouseError` if the run no longer holds the lock."""


def _lock_lost_message(reason: str, consequence: str) -> str:
    return f"the run lock's session ended ({reason}); {consequence}"


def env_seconds(name: str, default: float, environ: Mapping[str, str] = os.environ) -> float:
    """A number of seconds from the environment variable `name` (blank: `default`); anything
    that is not a number is a one-line `WarehouseError` naming the variable."""
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise WarehouseError(f"{name} must be a number of seconds: {raw!r}") from None


class Adapter(ABC):
    """Everything the flow and its tasks need to know about one engine.

    One instance per engine, looked up for a target in one place
    (`tasks.warehouse.connect.adapter_for`), as Dagster's `resources_by_deployment_name` or a
    dbt profile's target: no code outside an adapter asks which engine it runs on.
    """

    #: The SQL the engine speaks, as sqlglot names it (`sql/` is written in "redshift").
    dialect: str
    #: Whether the events and songs staging tasks may write the warehouse at the same time.
    stages_kinds_together: bool = True

    @abstractmethod
    def session(
        self, target: WarehouseTarget, read_only: bool = False
    ) -> AbstractContextManager[Session]:
        """An open session, closed when the block ends; a one-line `WarehouseError` if it
        cannot be opened. `read_only` asks for a reader's session where the engine has one."""

    @abstractmethod
    def run_lock(
        self,
        target: WarehouseTarget,
        *,
        shared: bool = False,
        poll_seconds: float = 1.0,
        heartbeat_seconds: float | None = None,
    ) -> AbstractContextManager[RunLock]:
        """Hold the warehouse for one run (`shared`: a reader's turn), waiting for it."""

    @abstractmethod
    def staging(
        self, run: RunSpec, kind: str, clear: Callable[[Session], None]
    ) -> AbstractContextManager[DuckDBSession]:
        """The DuckDB session staging parses one kind of lake file into. `clear` empties the
        warehouse's incoming rows of that kind; when the block ends without an error, the
        staged rows are in the warehouse's incoming tables."""

    @abstractmethod
    def create_like(self, table: str, like: str) -> str:
        """`CREATE TABLE table` empty, with `like`'s columns and whatever layout it keeps."""

    @abstractmethod
    def reclaim(self, wh: Session, tables: Sequence[str]) -> None:
        """After a full load commits: give back the space its deletes left in `tables`."""

    def replace_staged(self, wh: Session, kind: str, whole: bool) -> None:
        """Inside the publish transaction: `sparkify_staging.<kind>` drops the rows of the files
        the run replaces and takes its `<kind>_incoming` rows. `whole`: a full load, which
        replaces every staged file, so the result is exactly the incoming rows. Here by DELETE
        and INSERT, which any engine runs inside a transaction; an adapter may move a whole
        table instead."""
        wh.run("publish/staging_replaced", kind=kind)
        wh.run("publish/incoming", table=kind)
