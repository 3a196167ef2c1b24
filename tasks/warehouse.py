"""The warehouse a run writes to: open a session, run named SQL files, keep loads atomic.

Every statement the ETL sends goes through `Session.run(name)`: it picks the file for the
engine's dialect (`tasks.sql_files`), binds values as parameters and logs the statement's name
and duration, never its parameters. Tasks receive a `WarehouseTarget` (a small, serialisable
description naming a file or a Prefect block, never a secret) and open their own session, so
no connection outlives a task or crosses threads.
"""

from __future__ import annotations

import fcntl
import logging
import math
import os
import re
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from tasks.errors import EtlError, WarehouseBusy, WarehouseError, first_line
from tasks.run_log import run_logger
from tasks.sql_files import render
from tasks.text_repair import repair_mojibake_arrow, truncate_utf8

log = logging.getLogger("sparkify.warehouse")

REDSHIFT_PREFIX = "redshift:"

# DuckDB's Python client caches one database instance per file and registers its Arrow scan
# function in it only after handing the instance out: a thread that opens the same file at
# that moment can run a query before the function exists ("Table Function with name
# python_arrow_scan does not exist!", reproduced about once in 15 rounds of four threads).
# Opening one connection at a time closes that window; queries still run in parallel.
_OPENING = threading.Lock()


@dataclass(frozen=True)
class WarehouseTarget:
    """Where the star schema lives: a DuckDB file, or Redshift through a named Prefect block.

    `dialect` is the SQL the engine speaks: `duckdb`, `redshift`, or `postgres` for the
    PostgreSQL test rig that stands in for Redshift behind the same driver.
    """

    path: str = ""
    engine: str = "duckdb"
    block: str = ""
    dialect: str = "duckdb"

    @classmethod
    def parse(cls, warehouse: str) -> WarehouseTarget:
        """`redshift:BLOCK` (a `RedshiftWarehouse` block, or `env` for SPARKIFY_REDSHIFT_*), else a
        DuckDB file path."""
        if warehouse.startswith(REDSHIFT_PREFIX):
            block = warehouse[len(REDSHIFT_PREFIX) :]
            return cls(engine="redshift", block=block, dialect="redshift")
        if "\\" in warehouse:
            # DuckDB reads it as a separator: the file opened and the run lock would differ
            raise WarehouseError(f"warehouse path {warehouse!r} contains a backslash")
        return cls(path=str(Path(warehouse).expanduser().resolve()))

    def __str__(self) -> str:
        return self.path or f"{REDSHIFT_PREFIX}{self.block}"


class Session:
    """One open connection to the warehouse."""

    def __init__(self, conn: Any, dialect: str) -> None:
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
        self._execute(sql, params)
        log.debug("%s ran in %.3f s", label, time.perf_counter() - started)

    def rows(self, name: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Rows of the query in `sql/<name>.sql` (small results: counts, checks, summaries)."""
        return self.query(render(name, self.dialect), params)

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


class DuckDBSession(Session):
    """A session on the embedded warehouse file."""

    def _execute(self, sql: str, params: Mapping[str, Any] | None) -> None:
        self._conn.execute(sql, dict(params) if params else None)

    def _fetch(self, sql: str, params: Mapping[str, Any] | None) -> list[Any]:
        return self._conn.execute(sql, dict(params) if params else None).fetchall()

    def _described(self, sql: str, params: Mapping[str, Any] | None) -> tuple[list[str], list]:
        cursor = self._conn.execute(sql, dict(params) if params else None)
        return [column[0] for column in cursor.description], cursor.fetchall()

    def register(self, view_name: str, data: Any) -> None:
        """Expose an Arrow table or batch to SQL under `view_name`."""
        self._conn.register(view_name, data)

    def unregister(self, view_name: str) -> None:
        self._conn.unregister(view_name)

    def record_batches(self, sql: str, rows: int) -> pa.RecordBatchReader:
        """A query's rows as a stream of Arrow batches of up to `rows` rows (bounded memory)."""
        return self._conn.sql(sql).to_arrow_reader(rows)

    def column_names(self, table: str) -> list[str]:
        """A table's columns in order."""
        cursor = self._conn.execute(f"select * from {quote_table(table)} limit 0")
        return [column[0] for column in cursor.description]


def quote_table(table: str) -> str:
    """`schema.table` or `table` with each part double-quoted, as every engine accepts."""
    parts = table.split(".")
    if not all(part.replace("_", "").isalnum() for part in parts):
        raise ValueError(f"not a table name the ETL owns: {table!r}")
    return ".".join(f'"{part}"' for part in parts)


@contextmanager
def connect(target: WarehouseTarget, read_only: bool = False) -> Iterator[Session]:
    """Open a session on the target; a one-line `WarehouseError` if it cannot be opened.

    `read_only` opens a DuckDB file as a reader: many readers share the file, none can write,
    and the file must exist. Redshift sessions open as they always do (`open_redshift`).
    While another process holds a DuckDB file, opening waits for it (`_open_duckdb`).
    """
    if target.engine == "redshift":
        from tasks.redshift import open_redshift  # the driver loads only when it is used

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


# The run lock on Redshift is a session's LOCK, and Redshift ends idle sessions: after the
# user's SESSION TIMEOUT (60 s to 20 days; "If no session timeout is set for the user, the
# cluster setting applies"), https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_USER.html
# and by default after 4 hours idle, or 6 hours for an open transaction left idle:
# https://docs.aws.amazon.com/redshift/latest/mgmt/amazon-redshift-limits.html
# A trivial statement on the lock's session every few minutes keeps it from ever being idle
# that long. The interval must stay well inside the shortest timeout in force: we plan for a
# 3,600 s SESSION TIMEOUT on Serverless (that page's Serverless table says 4 hours), so at
# most half of it is accepted; a user whose SESSION TIMEOUT is lower needs a shorter one.
LOCK_HEARTBEAT_ENV = "SPARKIFY_REDSHIFT_LOCK_HEARTBEAT_S"
DEFAULT_LOCK_HEARTBEAT_S = 300.0
MAX_LOCK_HEARTBEAT_S = 1800.0
LOCK_TABLE = "sparkify_meta.run_lock"
# Created by `run_lock` itself (not by create schema's DDL, which runs while a run holds it).
LOCK_TABLE_DDL = "ddl/run_lock"
_LOCK_TABLE_EXISTS = (
    "select count(*) from information_schema.tables"
    " where table_schema = 'sparkify_meta' and table_name = 'run_lock'"
)


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


class _SessionLock(RunLock):
    """`LOCK sparkify_meta.run_lock` held by a session that a daemon thread keeps alive with
    `select 1` every `heartbeat_s` seconds; the first heartbeat that fails marks the lock lost.
    The session's connection runs one statement at a time (`_using`)."""

    def __init__(self, holder: Session, heartbeat_s: float) -> None:
        self._holder = holder
        self._heartbeat_s = heartbeat_s
        self._using = threading.Lock()
        self._stop = threading.Event()
        self._lost: str | None = None
        self._thread = threading.Thread(target=self._beat, name="run-lock-heartbeat", daemon=True)

    @property
    def lost(self) -> str | None:
        return self._lost

    def start(self) -> None:
        """Start the heartbeat (the lock is held)."""
        self._thread.start()

    def check(self) -> None:
        """Probe the session now (the heartbeat may not have run since it died), then raise if
        the lock is lost."""
        if not self._stop.is_set():
            self._probe()
        if self._lost is not None:
            raise WarehouseError(_lock_lost_message(self._lost, "nothing more is published"))

    def stop(self) -> None:
        """Stop the heartbeat and end the lock's transaction (`_release`)."""
        self._stop.set()
        with self._using:  # waits for a heartbeat in flight
            if self._lost is None:
                self._lost = _release(self._holder)
        self._thread.join(timeout=5)  # it stops at once: `_stop` is set and `_using` was free

    def _beat(self) -> None:
        while not self._stop.wait(self._heartbeat_s) and self._probe():
            pass

    def _probe(self) -> bool:
        """One `select 1` on the lock's session; False (and the lock lost) when it fails."""
        with self._using:
            if self._lost is not None or self._stop.is_set():
                return False
            try:
                self._holder.execute("select 1", label="run lock heartbeat")
            except Exception as exc:  # whatever it was, the session cannot hold the lock now
                self._lost = first_line(exc)
                log.error("the run lock's session ended: %s", self._lost)
                return False
        return True


def _lock_lost_message(reason: str, consequence: str) -> str:
    return f"the run lock's session ended ({reason}); {consequence}"


def lock_heartbeat_seconds(environ: Mapping[str, str] = os.environ) -> float:
    """Seconds between the run lock's heartbeats: SPARKIFY_REDSHIFT_LOCK_HEARTBEAT_S, or 300
    (well under Redshift's idle-session timeouts, see MAX_LOCK_HEARTBEAT_S)."""
    return _checked_heartbeat(env_seconds(LOCK_HEARTBEAT_ENV, DEFAULT_LOCK_HEARTBEAT_S, environ))


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


def _checked_heartbeat(seconds: float) -> float:
    """A heartbeat slower than half the shortest idle timeout would let the session die."""
    if not 0 < seconds <= MAX_LOCK_HEARTBEAT_S:  # also refuses nan and inf
        raise WarehouseError(
            f"the run lock's heartbeat must be more than 0 and at most "
            f"{MAX_LOCK_HEARTBEAT_S:g} seconds, not {seconds:g}"
        )
    return seconds


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


@contextmanager
def _file_lock(target: WarehouseTarget, poll_seconds: float, shared: bool) -> Iterator[None]:
    """`flock` on `<file>.lock`, shared (readers) or exclusive (runs), waiting for it."""
    lock_path = Path(f"{target.path}.lock")
    if not lock_path.parent.is_dir():
        raise WarehouseError(f"warehouse directory {lock_path.parent} does not exist")
    try:
        handle = lock_path.open("a")
    except OSError as exc:  # a read-only directory or file system, or no space for the file
        raise WarehouseError(f"cannot lock warehouse {target.path}: {exc.strerror}") from exc
    mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    with handle:
        started = time.monotonic()
        waited = False
        while True:
            try:
                fcntl.flock(handle, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waited:
                    holder = "a run" if shared else "a run or a report"
                    run_logger().warning(
                        "%s holds %s; waiting for it to finish", holder, target.path
                    )
                    waited = True
                time.sleep(poll_seconds)
        if waited:
            run_logger().info("waited %.1f s for the run lock on %s", time.monotonic() - started,
                              target.path)  # fmt: skip
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _disk_failed(exc: duckdb.Error) -> bool:
    """A write the file system refused: disk full, file too large, read-only, I/O error. DuckDB
    raises it as an IOException, or as a failed commit when the write-ahead log cannot grow."""
    return isinstance(exc, duckdb.IOException) or any(cause in str(exc) for cause in _DISK_FAILURES)


_DISK_FAILURES = ("No space left", "File too large", "Read-only file system", "Input/output error")


def _create_lock_table(holder: Session) -> None:
    """The lock table, created by whichever run comes first, and only if the catalogue lacks
    it. A run holds LOCK on the table for its whole length, and on Redshift even CREATE TABLE
    IF NOT EXISTS on it waits for that lock; the lookup reads only the catalogue, so a second
    run gets as far as its own LOCK and queues there. Two runs starting together on a fresh
    warehouse can both create it; the loser's CREATE fails on the catalogue (PostgreSQL raises
    a unique violation), and a second try finds the table there."""
    for attempt in (1, 2):
        try:
            if int(holder.scalar(_LOCK_TABLE_EXISTS)) > 0:
                return
            holder.run("ddl/schema_meta")
            holder.run(LOCK_TABLE_DDL)
            return
        except Exception as exc:
            if attempt == 2 or isinstance(exc, ConnectionError | EtlError):
                raise
            log.info("creating the run lock raced another run (%s); trying again", first_line(exc))
            time.sleep(0.5)


def _release(holder: Session) -> str | None:
    """End the run lock's transaction (it wrote nothing): None, or why it could not (its
    session had ended, so the server had already released the lock)."""
    try:
        holder.execute("rollback", label="run lock release")
    except Exception as exc:
        return first_line(exc)
    return None


def duckdb_config() -> dict[str, str]:
    """DuckDB's buffer pool defaults to 80% of RAM; a bounded one spills to disk instead, so a
    run's memory stays flat however large the lake (SPARKIFY_DUCKDB_MEMORY_LIMIT, e.g. 4GB)."""
    return {
        "memory_limit": os.environ.get("SPARKIFY_DUCKDB_MEMORY_LIMIT", "1GB"),
        # no statement here needs rows in insertion order, and keeping it buffers whole inserts
        "preserve_insertion_order": "false",
    }


# How long opening a DuckDB file waits while another process holds it: an analyst's
# read-only connection, a report, a load started by hand. DuckDB locks the whole file (one
# writer, or any number of readers: https://duckdb.org/docs/current/connect/concurrency) and
# does not wait itself; it names the holder in its error, which the wait logs.
LOCK_WAIT_ENV = "SPARKIFY_DUCKDB_LOCK_WAIT_S"
DEFAULT_LOCK_WAIT_S = 300.0
LOCK_POLL_S = 0.5
_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.*?) \(PID (?P<pid>\d+)\)")


def lock_wait_seconds(environ: Mapping[str, str] = os.environ) -> float:
    """Seconds an open waits for another process's hold on a DuckDB file to end:
    SPARKIFY_DUCKDB_LOCK_WAIT_S, or 300; 0 fails at once."""
    seconds = env_seconds(LOCK_WAIT_ENV, DEFAULT_LOCK_WAIT_S, environ)
    if not 0 <= seconds < math.inf:  # also refuses nan
        raise WarehouseError(f"{LOCK_WAIT_ENV} must be a number of seconds, 0 or more: {seconds:g}")
    return seconds


class _Held(Exception):
    """One attempt found the file locked by `holder` (`PID n (program)` as DuckDB reports)."""

    def __init__(self, holder: str) -> None:
        super().__init__(holder)
        self.holder = holder


def _lock_holder(message: str) -> str | None:
    """Who holds the file, from DuckDB's lock error; None if the error is not a lock conflict."""
    if "Could not set lock" not in message and "Conflicting lock" not in message:
        return None
    found = _HOLDER.search(message)
    return f"PID {found['pid']} ({found['program']})" if found else "another process"


def _open_duckdb(
    path: Path, read_only: bool = False, poll_seconds: float = LOCK_POLL_S
) -> duckdb.DuckDBPyConnection:
    """Open the file, waiting up to `lock_wait_seconds()` while another process holds it; then
    `WarehouseBusy`, naming the holder. The wait is logged once per holder, and its length."""
    if not path.parent.is_dir():
        raise WarehouseError(f"warehouse directory {path.parent} does not exist")
    bound = lock_wait_seconds()
    started = time.monotonic()
    waiting_for: str | None = None
    while True:
        try:
            conn = _open_once(path, read_only)
        except _Held as held:
            waited = time.monotonic() - started
            if waited >= bound:
                raise WarehouseBusy(
                    f"warehouse {path} is held by {held.holder}: gave up after waiting {bound:g} s"
                    f" ({LOCK_WAIT_ENV}); close that connection or wait longer"
                ) from None
            if held.holder != waiting_for:
                run_logger().warning("waiting up to %g s for %s, which holds warehouse %s",
                                     bound, held.holder, path)  # fmt: skip
                waiting_for = held.holder
            time.sleep(min(poll_seconds, bound - waited))
            continue
        if waiting_for:
            run_logger().info("opened warehouse %s after waiting %.1f s for %s", path,
                              time.monotonic() - started, waiting_for)  # fmt: skip
        return conn


def _open_once(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    """One attempt to open the file; `_Held` if another process holds its lock."""
    try:
        with _OPENING:
            conn = duckdb.connect(str(path), read_only=read_only, config=duckdb_config())
            _register_functions(conn)
    except duckdb.Error as exc:
        message = first_line(exc)
        holder = _lock_holder(message) if isinstance(exc, duckdb.IOException) else None
        if holder:
            raise _Held(holder) from None
        raise WarehouseError(f"cannot open warehouse {path}: {message}") from exc
    return conn


def _register_functions(conn: duckdb.DuckDBPyConnection) -> None:
    """Python scalar functions the staging SQL calls; registered once per database instance."""
    # One registration per database instance: other connections of this process share it.
    with suppress(duckdb.CatalogException):
        conn.create_function(
            "f_repair_mojibake",
            repair_mojibake_arrow,
            ["VARCHAR"],
            "VARCHAR",
            type="arrow",
            null_handling="special",
            side_effects=False,
        )
    with suppress(duckdb.CatalogException):
        conn.create_function(
            "f_truncate_utf8",
            truncate_utf8,
            ["VARCHAR", "INTEGER"],
            "VARCHAR",
            side_effects=False,
        )
