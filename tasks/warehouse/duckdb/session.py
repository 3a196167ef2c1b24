"""DuckDB, the embedded warehouse: one file, opened with a bounded wait, locked per run."""

from __future__ import annotations

import fcntl
import logging
import math
import os
import re
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from tasks.common.errors import WarehouseBusy, WarehouseError, first_line
from tasks.common.run_log import run_logger
from tasks.records.text_repair import repair_mojibake_arrow, truncate_utf8
from tasks.warehouse.base import Session, env_seconds, quote_table
from tasks.warehouse.target import WarehouseTarget

log = logging.getLogger("sparkify.warehouse")

# DuckDB's Python client caches one database instance per file and registers its Arrow scan
# function in it only after handing the instance out: a thread that opens the same file at
# that moment can run a query before the function exists ("Table Function with name
# python_arrow_scan does not exist!", reproduced about once in 15 rounds of four threads).
# Opening one connection at a time closes that window; queries still run in parallel.
_OPENING = threading.Lock()


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


@contextmanager
def open_session(target: WarehouseTarget, read_only: bool = False) -> Iterator[DuckDBSession]:
    """A session on the target's file, closed when the block ends; a write the disk refuses is
    a one-line `WarehouseError`.

    `read_only` opens the file as a reader: many readers share the file, none can write, and
    the file must exist. While another process holds the file, opening waits for it
    (`_open_duckdb`).
    """
    session = DuckDBSession(_open_duckdb(Path(target.path), read_only), "duckdb")
    try:
        yield session
    except duckdb.Error as exc:
        if not _disk_failed(exc):
            raise
        raise WarehouseError(f"cannot write warehouse {target.path}: {first_line(exc)}") from exc
    finally:
        session.close()


# How long a run waits for the warehouse's run lock (another run, or reports reading), and a
# report for a run: SPARKIFY_RUN_LOCK_WAIT_S, by default 2 hours (a run's flow times out after 6).
RUN_LOCK_WAIT_ENV = "SPARKIFY_RUN_LOCK_WAIT_S"
DEFAULT_RUN_LOCK_WAIT_S = 2 * 3600.0


def run_lock_wait_seconds(environ: Mapping[str, str] = os.environ) -> float:
    """Seconds a run (or a report) waits for the run lock: SPARKIFY_RUN_LOCK_WAIT_S, or 7200."""
    return _wait_bound(RUN_LOCK_WAIT_ENV, DEFAULT_RUN_LOCK_WAIT_S, environ)


@contextmanager
def file_lock(target: WarehouseTarget, poll_seconds: float, shared: bool) -> Iterator[None]:
    """`flock` on `<file>.lock`, shared (readers) or exclusive (runs), waiting for it up to
    `run_lock_wait_seconds()`, then `WarehouseBusy`.

    Runs go first: a run waiting for readers holds `<file>.lock.turn`, which every reader
    passes through before taking its shared lock, so reports that arrive while a run waits
    queue behind it (the turnstile of the readers-writers problem). Without it, reports that
    overlap without a gap would hold the shared lock forever and the run would never start.
    """
    lock_path = Path(f"{target.path}.lock")
    if not lock_path.parent.is_dir():
        raise WarehouseError(f"warehouse directory {lock_path.parent} does not exist")
    with ExitStack() as files:
        try:
            handle = files.enter_context(lock_path.open("a"))
            turn = files.enter_context(Path(f"{target.path}.lock.turn").open("a"))
        except OSError as exc:  # a read-only directory or file system, or no space left
            raise WarehouseError(f"cannot lock warehouse {target.path}: {exc.strerror}") from exc
        wait = _LockWait(target.path, shared, poll_seconds)
        wait.acquire(turn, fcntl.LOCK_EX)  # the turnstile: a waiting run holds it
        try:
            wait.acquire(handle, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        finally:
            fcntl.flock(turn, fcntl.LOCK_UN)
        wait.done()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class _LockWait:
    """One wait for the run lock: logged once when it starts and once with its length, and
    bounded by `run_lock_wait_seconds()` across both locks it takes."""

    def __init__(self, path: str, shared: bool, poll_seconds: float) -> None:
        self.path, self.shared, self.poll_seconds = path, shared, poll_seconds
        self.bound = run_lock_wait_seconds()
        self.started = time.monotonic()
        self.waited = False

    def acquire(self, handle: Any, mode: int) -> None:
        while True:
            try:
                fcntl.flock(handle, mode | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                elapsed = time.monotonic() - self.started
                if elapsed >= self.bound:
                    raise WarehouseBusy(
                        f"{self._holder()} holds warehouse {self.path}: gave up after waiting "
                        f"{self.bound:g} s ({RUN_LOCK_WAIT_ENV})"
                    ) from None
                if not self.waited:
                    run_logger().warning("%s holds %s; waiting for it to finish", self._holder(),
                                         self.path)  # fmt: skip
                    self.waited = True
                time.sleep(min(self.poll_seconds, self.bound - elapsed))

    def done(self) -> None:
        if self.waited:
            waited = time.monotonic() - self.started
            run_logger().info("waited %.1f s for the run lock on %s", waited, self.path)

    def _holder(self) -> str:
        return "a run" if self.shared else "a run or a report"


def _disk_failed(exc: duckdb.Error) -> bool:
    """A write the file system refused: disk full, file too large, read-only, I/O error. DuckDB
    raises it as an IOException, or as a failed commit when the write-ahead log cannot grow."""
    return isinstance(exc, duckdb.IOException) or any(cause in str(exc) for cause in _DISK_FAILURES)


_DISK_FAILURES = ("No space left", "File too large", "Read-only file system", "Input/output error")


def duckdb_config() -> dict[str, str | bool | int | float | list[str]]:
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
    return _wait_bound(LOCK_WAIT_ENV, DEFAULT_LOCK_WAIT_S, environ)


def _wait_bound(name: str, default: float, environ: Mapping[str, str]) -> float:
    seconds = env_seconds(name, default, environ)
    if not 0 <= seconds < math.inf:  # also refuses nan
        raise WarehouseError(f"{name} must be a number of seconds, 0 or more: {seconds:g}")
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
        )  # type: ignore[call-overload]  # the stubs type `type` and `null_handling` as enums
    with suppress(duckdb.CatalogException):
        conn.create_function(
            "f_truncate_utf8",
            truncate_utf8,
            ["VARCHAR", "INTEGER"],
            "VARCHAR",
            side_effects=False,
        )
