"""The one place a warehouse adapter is chosen: `connect` and `run_lock` for any target.

Tasks receive a `WarehouseTarget` and open their own session, so no connection outlives a
task or crosses threads.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from tasks.common.errors import WarehouseError, first_line
from tasks.warehouse.base import RunLock, Session, _lock_lost_message
from tasks.warehouse.duckdb import DuckDBSession, _disk_failed, _file_lock, _open_duckdb, log
from tasks.warehouse.redshift_lock import (
    LOCK_TABLE,
    _checked_heartbeat,
    _create_lock_table,
    _SessionLock,
    lock_heartbeat_seconds,
)
from tasks.warehouse.target import WarehouseTarget


@contextmanager
def connect(target: WarehouseTarget, read_only: bool = False) -> Iterator[Session]:
    """Open a session on the target; a one-line `WarehouseError` if it cannot be opened.

    `read_only` opens a DuckDB file as a reader: many readers share the file, none can write,
    and the file must exist. Redshift sessions open as they always do (`open_redshift`).
    While another process holds a DuckDB file, opening waits for it (`_open_duckdb`).
    """
    if target.engine == "redshift":
        from tasks.warehouse.redshift import open_redshift  # the driver loads only when it is used

        session: Session = open_redshift(target)
    else:
        session = DuckDBSession(_open_duckdb(Path(target.path), read_only), target.dialect)
    try:
        yield session
    except duckdb.Error as exc:
        if not _disk_failed(exc):
            raise
        raise WarehouseError(f"cannot write warehouse {target.path}: {first_line(exc)}") from exc
    finally:
        try:
            session._conn.close()
        except Exception as exc:  # a connection that already dropped must not mask the error
            log.warning("closing the warehouse connection failed: %s", first_line(exc))


@contextmanager
def run_lock(
    target: WarehouseTarget,
    poll_seconds: float = 1.0,
    heartbeat_seconds: float | None = None,
    shared: bool = False,
) -> Iterator[RunLock]:
    """Hold the warehouse for one whole run, so two runs never interleave their writes.

    For a DuckDB file this is an advisory lock on `<file>.lock`: a second run waits here until
    the first ends (DuckDB's own lock only covers a single connection, so two runs could
    otherwise take turns between tasks). On Redshift a session holds `LOCK` on
    sparkify_meta.run_lock in an open transaction for the run's length; a second run's LOCK
    waits for it, whichever deployment, backfill day or command line started it. A heartbeat
    (`heartbeat_seconds`, default `lock_heartbeat_seconds()`) keeps that session from timing
    out idle; if the session ends anyway the yielded lock's `check()` raises, and so does the
    end of the block (a run that finished without its lock may have interleaved with another).

    `shared=True` is a reader's turn (the report). Readers hold a DuckDB file's lock together;
    a run waits until they are done, and they wait for a run, so a report never reads a load
    half-way. Neither wait has a bound of its own (a run's flow has a timeout). On Redshift a
    reader takes no lock: its queries read committed tables, and a run publishes in one
    transaction.
    """
    if target.engine != "duckdb":
        if shared:
            yield RunLock()
            return
        heartbeat = (
            lock_heartbeat_seconds()
            if heartbeat_seconds is None
            else _checked_heartbeat(heartbeat_seconds)
        )
        with connect(target) as holder:
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
        return
    with _file_lock(target, poll_seconds, shared):
        yield RunLock()
