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

    def replace_staged(self, wh: Session, kind: str, whole: bool) -> None:
        """A full load's incoming table is renamed into the published one's place, and a new empty
        incoming table made: at 10M events, copying the rows cost 11.6 s of a 22.7 s publish
        (bench/RESULTS.md). DuckDB runs DROP and ALTER TABLE RENAME inside the transaction,
        so a failed publish still leaves the previous table. The incoming table is made by
        CREATE TABLE AS, which keeps no NOT NULL: both tables are given the published one's
        first, so the constraints move with the rows. A table that differs from the published
        one in its columns (an older warehouse), or a publish run again after it committed, is
        copied as on any engine."""
        if not whole:  # a daily run replaces some files: copied as on any engine
            super().replace_staged(wh, kind, whole)
            return
        published, incoming = f"sparkify_staging.{kind}", f"sparkify_staging.{kind}_incoming"
        columns = _columns(wh, kind)
        same_shape = [c[:2] for c in _columns(wh, f"{kind}_incoming")] == [c[:2] for c in columns]
        # a run whose incoming files are gone published already (publish clears them): moving
        # its empty incoming table in would empty staging, where copying changes nothing
        ((replaced,),) = wh.rows("publish/staged_files", {"kind": kind})
        if not same_shape or not replaced:
            super().replace_staged(wh, kind, whole)
            return
        not_null = [name for name, _, nullable in columns if not nullable]
        _set_not_null(wh, incoming, not_null)
        wh.execute(f"drop table {published}", label=f"publish {published}: drop")
        wh.execute(f"alter table {incoming} rename to {kind}", label=f"publish {published}: move")
        wh.execute(self.create_like(incoming, published), label=f"publish {incoming}: create")
        _set_not_null(wh, incoming, not_null)

    def reclaim(self, wh: Session, tables: Sequence[str]) -> None:
        """Nothing to run: DuckDB reuses the blocks deleted rows free for later writes, and its
        VACUUM reclaims no space (https://duckdb.org/docs/stable/operations_manual/footprint_of_duckdb/reclaiming_space)."""


def _columns(wh: Session, table: str) -> list[tuple[str, str, bool]]:
    """A staging table's columns in order: name, type, whether it takes NULL."""
    return [
        (name, kind, nullable == "YES")
        for name, kind, nullable in wh.rows("publish/staged_columns", {"table_name": table})
    ]


def _set_not_null(wh: Session, table: str, columns: list[str]) -> None:
    for column in columns:
        wh.execute(
            f'alter table {table} alter column "{column}" set not null',
            label=f"publish {table}: {column} not null",
        )
