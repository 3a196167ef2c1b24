"""The Redshift adapter: sessions over redshift_connector, a session-held run lock, and staging
on the worker loaded with COPY from Parquet."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from tasks.common.errors import WarehouseError, first_line
from tasks.common.run_log import run_logger
from tasks.common.run_spec import RunSpec
from tasks.common.sql_files import transpile
from tasks.warehouse.base import Adapter, RunLock, Session, _lock_lost_message, quote_table
from tasks.warehouse.duckdb.session import DuckDBSession
from tasks.warehouse.redshift.lock import (
    LOCK_TABLE,
    _checked_heartbeat,
    _create_lock_table,
    _SessionLock,
    lock_heartbeat_seconds,
)
from tasks.warehouse.redshift.parquet import copy_settings, load_into_redshift, scratch_warehouse
from tasks.warehouse.redshift.session import open_redshift
from tasks.warehouse.target import WarehouseTarget

log = logging.getLogger("sparkify.warehouse")


class RedshiftAdapter(Adapter):
    """Amazon Redshift. `dialect="postgres"` is the test rig's setting: PostgreSQL behind
    PgBouncer standing in for a cluster, with the SQL translated for it."""

    # Redshift locks whole tables: two COPY transactions writing the shared incoming tables
    # would serialise anyway, and risk a serializable-isolation abort.
    stages_kinds_together = False

    def __init__(self, dialect: str = "redshift") -> None:
        self.dialect = dialect

    @contextmanager
    def session(self, target: WarehouseTarget, read_only: bool = False) -> Iterator[Session]:
        """A session as Redshift opens them (`read_only` changes nothing: readers see only
        committed tables, and a run publishes in one transaction)."""
        session = open_redshift(target, self.dialect)
        try:
            yield session
        finally:
            session.close()

    @contextmanager
    def run_lock(
        self,
        target: WarehouseTarget,
        *,
        shared: bool = False,
        poll_seconds: float = 1.0,
        heartbeat_seconds: float | None = None,
    ) -> Iterator[RunLock]:
        """A session holds `LOCK` on sparkify_meta.run_lock in an open transaction for the
        run's length; a second run's LOCK waits for it, whichever deployment, backfill day or
        command line started it. A heartbeat (`heartbeat_seconds`, default
        `lock_heartbeat_seconds()`) keeps that session from timing out idle; if the session
        ends anyway the yielded lock's `check()` raises, and so does the end of the block (a
        run that finished without its lock may have interleaved with another). A reader
        (`shared`) takes no lock: its queries read committed tables."""
        if shared:
            yield RunLock()
            return
        heartbeat = (
            lock_heartbeat_seconds()
            if heartbeat_seconds is None
            else _checked_heartbeat(heartbeat_seconds)
        )
        with self.session(target) as holder:
            _create_lock_table(holder)
            holder.execute("begin", label="run lock")
            holder.execute(f"lock {LOCK_TABLE}", label="run lock")
            lock = _SessionLock(holder, heartbeat)
            lock.start()
            try:
                yield lock
            except BaseException:
                lock.stop()  # the run's own error is the one to report
                if lock.lost:
                    log.warning("the run lock's session ended during the run: %s", lock.lost)
                raise
            lock.stop()
            if lock.lost:
                raise WarehouseError(
                    _lock_lost_message(lock.lost, "the run went on without it, unprotected")
                )

    @contextmanager
    def staging(
        self, run: RunSpec, kind: str, clear: Callable[[Session], None]
    ) -> Iterator[DuckDBSession]:
        """A scratch DuckDB file on the worker; once staging has parsed into it, its tables go
        to the cluster as Parquet parts and one COPY each, in one transaction with `clear`
        (`tasks.warehouse.redshift.parquet`). The block's COPY settings are checked before
        the lake is read, so a bad block fails at once."""
        settings = copy_settings(run.warehouse)
        with scratch_warehouse() as scratch:
            yield scratch
            with self.session(run.warehouse) as wh:
                load_into_redshift(wh, scratch, kind, run, settings, clear)

    def create_like(self, table: str, like: str) -> str:
        """`CREATE TABLE … (LIKE published)` keeps the distribution style, sort key and NOT
        NULL columns (AWS, CREATE TABLE:
        https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_TABLE_NEW.html), which a
        `CREATE TABLE AS … WHERE 1 = 0` would lose. The rig's translation keeps the byte-width
        checks on the copy (`tasks.common.sql_files`)."""
        return transpile(f"create table {table} (like {like})", self.dialect)

    def reclaim(self, wh: Session, tables: Sequence[str]) -> None:
        """Run `reclaim_statements`; a failure (another VACUUM is running: a cluster runs one
        at a time) is logged, not raised: the run's tables are already published, and
        Redshift's automatic vacuum delete catches up in the background."""
        for label, sql in self.reclaim_statements(tables):
            try:
                wh.execute(sql, label=label)
            except Exception as exc:
                if isinstance(exc, ConnectionError):
                    raise
                run_logger().warning("%s failed after publishing: %s", label, first_line(exc))
                return

    def reclaim_statements(self, tables: Sequence[str]) -> list[tuple[str, str]]:
        """(label, SQL) run after a full load commits. Its DELETE + INSERT of every table leaves
        the deleted rows' blocks and an unsorted region behind (AWS, "Vacuuming tables":
        https://docs.aws.amazon.com/redshift/latest/dg/t_Reclaiming_storage_space202.html),
        so VACUUM FULL reclaims and re-sorts them and ANALYZE refreshes the planner's
        statistics. VACUUM cannot run inside a transaction block (AWS, VACUUM:
        https://docs.aws.amazon.com/redshift/latest/dg/r_VACUUM_command.html): it runs after
        the commit, on the autocommit session.

        Chosen over swapping in freshly built tables by rename: the published tables keep
        their identity, so analysts' grants, views bound to them and their dist and sort keys
        survive. The PostgreSQL rig runs plain VACUUM (it has no TO … PERCENT)."""
        statements = []
        for table in tables:
            name = quote_table(table)
            vacuum = (
                f"vacuum full {name} to 100 percent"
                if self.dialect == "redshift"
                else f"vacuum {name}"
            )
            statements += [(f"vacuum {table}", vacuum), (f"analyze {table}", f"analyze {name}")]
        return statements
