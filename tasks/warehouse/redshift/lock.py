"""Redshift's run lock: a session's LOCK on sparkify_meta.run_lock, kept alive by a heartbeat."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping

from tasks.common.errors import EtlError, WarehouseError, first_line
from tasks.warehouse.base import RunLock, Session, _lock_lost_message, env_seconds

log = logging.getLogger("sparkify.warehouse")

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


def lock_heartbeat_seconds(environ: Mapping[str, str] = os.environ) -> float:
    """Seconds between the run lock's heartbeats: SPARKIFY_REDSHIFT_LOCK_HEARTBEAT_S, or 300
    (well under Redshift's idle-session timeouts, see MAX_LOCK_HEARTBEAT_S)."""
    return _checked_heartbeat(env_seconds(LOCK_HEARTBEAT_ENV, DEFAULT_LOCK_HEARTBEAT_S, environ))


def _checked_heartbeat(seconds: float) -> float:
    """A heartbeat slower than half the shortest idle timeout would let the session die."""
    if not 0 < seconds <= MAX_LOCK_HEARTBEAT_S:  # also refuses nan and inf
        raise WarehouseError(
            f"the run lock's heartbeat must be more than 0 and at most "
            f"{MAX_LOCK_HEARTBEAT_S:g} seconds, not {seconds:g}"
        )
    return seconds


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
