"""The DuckDB adapter: the embedded warehouse file is its own staging area and its own lock."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager

from tasks.common.run_spec import RunSpec
from tasks.warehouse.base import Adapter, RunLock, Session
from tasks.warehouse.duckdb.session import DuckDBSession, file_lock, open_session
from tasks.warehouse.target import WarehouseTarget


class DuckDBAdapter(Adapter):
    """A DuckDB file: staging parses straight into it, and a run's lock is an `flock` on
    `<file>.lock` (DuckDB's own lock covers one connection, and a run opens many)."""

    dialect = "duckdb"

    def session(
        self, target: WarehouseTarget, read_only: bool = False
    ) -> AbstractContextManager[Session]:
        return open_session(target, read_only)

    @contextmanager
    def run_lock(
        self,
        target: WarehouseTarget,
        *,
        shared: bool = False,
        poll_seconds: float = 1.0,
        heartbeat_seconds: float | None = None,
    ) -> Iterator[RunLock]:
        """A second run waits here until the first ends; readers (`shared`) hold the lock
        together, so a report never reads a load half-way. The lock belongs to the process
        and cannot be lost while it lives, so the plain `RunLock` stands for it."""
        with file_lock(target, poll_seconds, shared):
            yield RunLock()

    @contextmanager
    def staging(
        self, run: RunSpec, kind: str, clear: Callable[[Session], None]
    ) -> Iterator[DuckDBSession]:
        """The warehouse itself, its incoming rows of `kind` cleared first. Staging commits
        one transaction per batch: DuckDB keeps a transaction's new rows in memory until it
        commits, so one transaction for the whole lake would grow with the lake. Nothing
        reads the incoming tables until publish, and a retry clears them first."""
        with open_session(run.warehouse) as wh:
            with wh.transaction():
                clear(wh)
            yield wh

    def create_like(self, table: str, like: str) -> str:
        return f"create table {table} as select * from {like} where 1 = 0"

    def reclaim(self, wh: Session, tables: Sequence[str]) -> None:
        """Nothing to run: DuckDB reuses the blocks deleted rows free for later writes, and its
        VACUUM reclaims no space (https://duckdb.org/docs/stable/operations_manual/footprint_of_duckdb/reclaiming_space)."""
