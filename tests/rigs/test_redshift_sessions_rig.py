"""Redshift sessions on the PostgreSQL-behind-PgBouncer rig: a refused login and a terminated
backend classified as the real driver reports them, and a run lock whose session a heartbeat
keeps alive and whose loss stops the run (the classification itself, from the driver's own
ErrorResponse handler, is tested without a server in tests/unit/test_redshift_sessions.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import pytest
import redshift_connector

from tasks.common.errors import WarehouseError
from tasks.common.retry import is_transient
from tasks.create_schema import create_schema
from tasks.warehouse.base import Session
from tasks.warehouse.connect import connect, run_lock
from tasks.warehouse.redshift.adapter import RedshiftAdapter
from tasks.warehouse.redshift.lock import LOCK_TABLE_DDL, _create_lock_table
from tasks.warehouse.redshift.session import WarehouseUnavailable
from tasks.warehouse.target import WarehouseTarget
from tests.redshift_rig import RigEndpoint, reset_rig_warehouse, rig_env

# --- on the rig ------------------------------------------------------------------------------


@pytest.fixture
def rig_target(redshift_rig: RigEndpoint, monkeypatch: pytest.MonkeyPatch) -> WarehouseTarget:
    """`redshift:env` pointing at the rig, with every schema the ETL owns dropped."""
    for key, value in rig_env(redshift_rig).items():
        monkeypatch.setenv(key, value)
    return reset_rig_warehouse()


@contextmanager
def _observer(rig: RigEndpoint) -> Iterator[Any]:
    """A plain driver cursor of another session, to watch and terminate backends."""
    conn = redshift_connector.connect(**rig.connect_kwargs())
    conn.autocommit = True
    try:
        yield conn.cursor()
    finally:
        conn.close()


def _terminate(rig: RigEndpoint, pid: int) -> None:
    with _observer(rig) as cursor:
        cursor.execute("select pg_terminate_backend(%s, 5000)", (pid,))  # waits for it to exit
        assert cursor.fetchone()[0] is True


def _lock_holders(rig: RigEndpoint) -> list[int]:
    with _observer(rig) as cursor:
        cursor.execute(
            "select pid from pg_locks where relation = 'sparkify_meta.run_lock'::regclass"
            " and granted and mode = 'AccessExclusiveLock'"
        )
        return [row[0] for row in cursor.fetchall()]


@pytest.fixture
def session_setup(monkeypatch) -> SimpleNamespace:
    """`.statements` run on every session `RedshiftAdapter.session` opens (the run
    lock's among them: a hook on that session only), and `.pids` collects their backend pids."""
    setup = SimpleNamespace(pids=[], statements=[])
    original = RedshiftAdapter.session

    @contextmanager
    def connect_with_setup(
        self: RedshiftAdapter, target: WarehouseTarget, read_only: bool = False
    ) -> Iterator[Session]:
        with original(self, target, read_only) as session:
            for statement in setup.statements:
                session.execute(statement)
            setup.pids.append(int(session.scalar("select pg_backend_pid()")))
            yield session

    monkeypatch.setattr(RedshiftAdapter, "session", connect_with_setup)
    return setup


def test_a_wrong_password_on_the_rig_fails_at_once_and_is_not_retried(
    rig_target, redshift_rig, monkeypatch
) -> None:
    monkeypatch.setenv("SPARKIFY_REDSHIFT_PASSWORD", "not-the-password")
    started = time.monotonic()
    with pytest.raises(WarehouseError) as caught, connect(rig_target):
        pass
    assert time.monotonic() - started < 5
    assert is_transient(caught.value) is False
    message = str(caught.value)
    where = f"{redshift_rig.host}:{redshift_rig.port}"
    assert message.startswith(f"Redshift at {where} refused the login of user {redshift_rig.user}")
    assert "not-the-password" not in message and "\n" not in message


def test_a_terminated_backend_is_transient(rig_target, redshift_rig) -> None:
    with connect(rig_target) as wh:
        _terminate(redshift_rig, int(wh.scalar("select pg_backend_pid()")))
        lost = r"^lost the Redshift connection: "
        with pytest.raises(WarehouseUnavailable, match=lost) as caught:
            wh.query("select 1")
    assert is_transient(caught.value)


def test_the_heartbeat_keeps_an_idle_lock_session_past_its_idle_timeout(
    rig_target, redshift_rig, session_setup
) -> None:
    # PostgreSQL's stand-in for Redshift's SESSION TIMEOUT: the session ends after 2 s idle
    session_setup.statements.append("set idle_in_transaction_session_timeout = '2s'")
    with run_lock(rig_target, heartbeat_seconds=0.5) as lock:
        (holder,) = session_setup.pids
        time.sleep(4.5)
        assert lock.lost is None
        lock.check()
        assert _lock_holders(redshift_rig) == [holder]
    assert _lock_holders(redshift_rig) == []


def test_without_a_heartbeat_the_idle_timeout_ends_the_lock_and_check_raises(
    rig_target, redshift_rig, session_setup
) -> None:
    """The control for the test above: the timeout is real, and check() notices at once."""
    session_setup.statements.append("set idle_in_transaction_session_timeout = '1s'")
    with (
        pytest.raises(WarehouseError, match=r"^the run lock's session ended \(.*\); nothing"),
        run_lock(rig_target, heartbeat_seconds=1000) as lock,
    ):
        time.sleep(2.5)
        assert _lock_holders(redshift_rig) == []  # the server ended the session
        lock.check()
    assert lock.lost is not None


def test_a_killed_lock_session_is_noticed_by_the_heartbeat_and_check_raises(
    rig_target, redshift_rig
) -> None:
    with (
        pytest.raises(WarehouseError, match=r"^the run lock's session ended .*nothing more is "
                      r"published$") as caught,
        run_lock(rig_target, heartbeat_seconds=0.5) as lock,
    ):  # fmt: skip
        (holder,) = _lock_holders(redshift_rig)
        _terminate(redshift_rig, holder)
        deadline = time.monotonic() + 10
        while lock.lost is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert lock.lost is not None  # the heartbeat noticed, before anyone checked
        lock.check()
    assert "\n" not in str(caught.value)


def test_a_run_that_ends_after_losing_its_lock_fails(rig_target, redshift_rig) -> None:
    with (
        pytest.raises(WarehouseError, match=r"^the run lock's session ended .*unprotected$"),
        run_lock(rig_target, heartbeat_seconds=1000),
    ):
        (holder,) = _lock_holders(redshift_rig)
        _terminate(redshift_rig, holder)
    with run_lock(rig_target, heartbeat_seconds=1000) as lock:  # the next run takes the lock
        lock.check()


def test_the_lock_table_lookup_does_not_wait_for_a_held_lock(rig_target) -> None:
    with run_lock(rig_target) as lock, connect(rig_target) as other:
        other.execute("set statement_timeout = '1s'")
        with pytest.raises(redshift_connector.ProgrammingError, match="statement timeout"):
            other.query("select count(*) from sparkify_meta.run_lock")  # the lock is real
        ran: list[str] = []
        other.run = lambda name, params=None: ran.append(name)  # type: ignore[method-assign]
        started = time.monotonic()
        _create_lock_table(other)  # finds the table in the catalogue, creates nothing
        assert time.monotonic() - started < 1 and ran == []
        lock.check()


def test_create_schema_runs_while_another_run_holds_the_lock(rig_target) -> None:
    from tasks.common.run_spec import RunSpec
    from tasks.lake.files import LakeSource

    run = RunSpec(lake=LakeSource("unused"), warehouse=rig_target)
    with run_lock(rig_target) as lock:
        create_schema.fn(run)
        lock.check()


def test_the_lock_table_is_created_only_when_missing(rig_target) -> None:
    with connect(rig_target) as wh:
        ran: list[str] = []
        run = wh.run

        def recording(name: str, params: Any = None) -> None:
            ran.append(name)
            run(name, params)

        wh.run = recording  # type: ignore[method-assign]
        _create_lock_table(wh)  # a fresh warehouse: schema and table are created
        assert ran == ["ddl/schema_meta", LOCK_TABLE_DDL]
        _create_lock_table(wh)
        assert ran == ["ddl/schema_meta", LOCK_TABLE_DDL]  # found: nothing more ran
        assert wh.count("sparkify_meta.run_lock") == 0
