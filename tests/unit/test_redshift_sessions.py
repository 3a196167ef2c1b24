"""Redshift sessions: every driver error classified by its SQLSTATE (the errors built with the
driver's own ErrorResponse handler), and the run lock's heartbeat setting, without a server. The
lock whose session a heartbeat keeps alive and whose loss stops the run is tested on the
PostgreSQL-behind-PgBouncer rig: tests/rigs/test_redshift_sessions_rig.py."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import redshift_connector
from redshift_connector.core import Connection

from tasks.common.errors import WarehouseError
from tasks.common.retry import is_transient
from tasks.model.ddl import ddl_statements
from tasks.warehouse.base import RunLock
from tasks.warehouse.connect import connect, run_lock
from tasks.warehouse.redshift.lock import (
    DEFAULT_LOCK_HEARTBEAT_S,
    LOCK_HEARTBEAT_ENV,
    LOCK_TABLE_DDL,
    lock_heartbeat_seconds,
)
from tasks.warehouse.redshift.session import (
    Fault,
    RedshiftSession,
    WarehouseConflict,
    WarehouseUnavailable,
    classify,
)
from tasks.warehouse.target import WarehouseTarget


def driver_error(**fields: str) -> Exception:
    """The exception redshift_connector raises for a server ErrorResponse with these fields:
    its own handler decodes the wire message and picks the class (28000 -> InterfaceError,
    23505 -> IntegrityError, anything else -> ProgrammingError)."""
    data = b"".join(key.encode() + value.encode() + b"\x00" for key, value in fields.items())
    conn = SimpleNamespace(error=None)
    Connection.handle_ERROR_RESPONSE(conn, data + b"\x00", None)  # type: ignore[arg-type]
    assert isinstance(conn.error, redshift_connector.Error)
    return conn.error


# Redshift's serializable-isolation abort as redshift_connector reports it (aws-sdk-pandas#665)
SERIALIZABLE_1023 = {
    "S": "ERROR",
    "C": "XX000",
    "M": "1023",
    "D": "Serializable isolation violation on table - 119371, transactions forming the cycle "
    "are: 1745830, 1745762 (pid:15021)",
}

CLASSIFIED = [
    # log-in and permissions: fail at once
    ({"S": "FATAL", "C": "28000", "M": 'password authentication failed for user "etl"'},
     Fault.REFUSED),
    ({"S": "FATAL", "C": "28P01", "M": 'password authentication failed for user "etl"'},
     Fault.REFUSED),
    ({"S": "ERROR", "C": "42501", "M": "permission denied for relation users"}, Fault.REFUSED),
    ({"S": "FATAL", "C": "3D000", "M": 'database "nodb" does not exist'}, Fault.REFUSED),
    ({"S": "FATAL", "C": "08P01", "M": "password authentication failed"}, Fault.REFUSED),
    ({"S": "FATAL", "C": "08P01", "M": 'database "nodb" does not exist'}, Fault.REFUSED),
    # the network or the session: transient
    ({"S": "FATAL", "C": "08006", "M": "connection failure"}, Fault.LOST),
    ({"S": "FATAL", "C": "08P01", "M": "pgbouncer cannot connect to server"}, Fault.LOST),
    ({"S": "FATAL", "C": "57P01", "M": "terminating connection due to administrator command"},
     Fault.LOST),
    ({"S": "FATAL", "C": "57P02", "M": "terminating connection because of crash"}, Fault.LOST),
    ({"S": "FATAL", "C": "57P03", "M": "the database system is starting up"}, Fault.LOST),
    ({"S": "FATAL", "C": "25P03", "M": "terminating connection due to idle-in-transaction "
      "timeout"}, Fault.LOST),
    # locks and serialization: transient
    ({"S": "ERROR", "C": "55P03", "M": "canceling statement due to lock timeout"}, Fault.CONFLICT),
    ({"S": "ERROR", "C": "40001", "M": "could not serialize access"}, Fault.CONFLICT),
    (SERIALIZABLE_1023, Fault.CONFLICT),
    ({"S": "ERROR", "C": "XX000", "M": "Serializable isolation violation on table"},
     Fault.CONFLICT),
    # the statement: propagates unchanged
    ({"S": "ERROR", "C": "42601", "M": 'syntax error at or near "selec"'}, Fault.STATEMENT),
    ({"S": "ERROR", "C": "42P01", "M": 'relation "nope" does not exist'}, Fault.STATEMENT),
    ({"S": "ERROR", "C": "23505", "M": "duplicate key value violates unique constraint"},
     Fault.STATEMENT),
    ({"S": "ERROR", "C": "57014", "M": "canceling statement due to statement timeout"},
     Fault.STATEMENT),
    ({"S": "ERROR", "C": "XX000", "M": "Load into table 'songs' failed."}, Fault.STATEMENT),
]  # fmt: skip


@pytest.mark.parametrize(("fields", "fault"), CLASSIFIED, ids=lambda v: getattr(v, "name", None))
def test_server_errors_are_classified_by_sqlstate_not_by_class(fields, fault) -> None:
    error = driver_error(**fields)
    assert classify(error) is fault


def test_the_driver_raises_a_redshift_wrong_password_as_interface_error() -> None:
    """Why the class decides nothing: 28000 arrives as the class of a broken socket."""
    error = driver_error(S="FATAL", C="28000", M='password authentication failed for user "x"')
    assert type(error) is redshift_connector.InterfaceError
    assert classify(error) is Fault.REFUSED
    assert type(driver_error(S="ERROR", C="23505", M="dup")) is redshift_connector.IntegrityError


@pytest.mark.parametrize(
    ("error", "fault"),
    [
        (redshift_connector.InterfaceError("BrokenPipe: server socket closed. Please check"),
         Fault.LOST),
        (redshift_connector.InterfaceError("connection is closed"), Fault.LOST),
        (redshift_connector.InterfaceError("communication error", ConnectionRefusedError(111)),
         Fault.LOST),
        (redshift_connector.OperationalError("connection time out", TimeoutError("timed out")),
         Fault.LOST),
        (BrokenPipeError(32, "Broken pipe"), Fault.LOST),
        (ConnectionResetError(104, "Connection reset by peer"), Fault.LOST),
        (redshift_connector.InterfaceError("The 'user' connection parameter cannot be None"),
         Fault.STATEMENT),
        (redshift_connector.InterfaceError("Only %s and %% are supported in the query."),
         Fault.STATEMENT),
        (ValueError("not a driver error"), Fault.STATEMENT),
    ],
    ids=lambda v: v.name if isinstance(v, Fault) else type(v).__name__,
)  # fmt: skip
def test_driver_errors_without_server_fields_are_lost_only_when_about_the_socket(
    error, fault
) -> None:
    assert classify(error) is fault
    assert fault.transient is (fault is Fault.LOST)


class _FailingCursor:
    paramstyle = "named"
    description = None

    def __init__(self, error: BaseException) -> None:
        self._error = error

    def execute(self, sql: str, params: Any = None) -> None:
        raise self._error

    def close(self) -> None:
        pass


def _session_failing_with(error: BaseException) -> RedshiftSession:
    conn = SimpleNamespace(cursor=lambda: _FailingCursor(error))
    return RedshiftSession(conn, "redshift", where="cluster.example:5439", user="etl_user")


@pytest.mark.parametrize(
    ("fields", "raised", "transient"),
    [
        ({"S": "FATAL", "C": "57P01", "M": "terminating connection"}, WarehouseUnavailable, True),
        ({"S": "ERROR", "C": "55P03", "M": "could not obtain lock"}, WarehouseConflict, True),
        (SERIALIZABLE_1023, WarehouseConflict, True),
        ({"S": "ERROR", "C": "42501", "M": "permission denied for relation users"},
         WarehouseError, False),
    ],
)  # fmt: skip
def test_a_statement_error_is_raised_as_its_class(fields, raised, transient) -> None:
    session = _session_failing_with(driver_error(**fields))
    with pytest.raises(raised) as caught:
        session.execute("select 1")
    assert is_transient(caught.value) is transient
    assert "\n" not in str(caught.value)
    if raised is WarehouseError:
        assert str(caught.value) == (
            "Redshift at cluster.example:5439 refused user etl_user: "
            "permission denied for relation users"
        )
    if fields is SERIALIZABLE_1023:  # the message names the violation, not just "1023"
        assert "1023 Serializable isolation violation on table" in str(caught.value)


def test_a_wrong_statement_propagates_unchanged() -> None:
    error = driver_error(S="ERROR", C="42601", M='syntax error at or near "selec"')
    with pytest.raises(redshift_connector.ProgrammingError) as caught:
        _session_failing_with(error).execute("selec 1")
    assert caught.value is error
    assert not is_transient(caught.value)


@pytest.fixture
def env_target(monkeypatch) -> WarehouseTarget:
    for key, value in {"HOST": "cluster.example", "USER": "etl_user", "SSL": "false",
                       "PASSWORD": "s3cret-Passw0rd"}.items():  # fmt: skip
        monkeypatch.setenv(f"SPARKIFY_REDSHIFT_{key}", value)
    return WarehouseTarget(adapter="redshift", block="env")


def _connect_raising(monkeypatch, error: BaseException) -> None:
    def connect(**kwargs: Any) -> None:
        raise error

    monkeypatch.setattr(redshift_connector, "connect", connect)


@pytest.mark.parametrize(
    "fields",
    [
        {"S": "FATAL", "C": "28000", "M": 'password authentication failed for user "etl_user"'},
        {"S": "FATAL", "C": "3D000", "M": 'database "dev" does not exist'},
        {"S": "FATAL", "C": "08P01", "M": "password authentication failed"},
    ],
)
def test_a_refused_login_fails_at_once_naming_endpoint_and_user(
    env_target, monkeypatch, fields
) -> None:
    _connect_raising(monkeypatch, driver_error(**fields))
    with pytest.raises(WarehouseError) as caught, connect(env_target):
        pass
    message = str(caught.value)
    assert message.startswith("Redshift at cluster.example:5439 refused the login of user etl_user")
    assert "s3cret-Passw0rd" not in message and "\n" not in message
    assert is_transient(caught.value) is False
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_a_message_that_echoed_the_password_is_masked(env_target, monkeypatch) -> None:
    echoed = driver_error(S="FATAL", C="28000", M="bad password s3cret-Passw0rd for etl_user")
    _connect_raising(monkeypatch, echoed)
    with pytest.raises(WarehouseError) as caught, connect(env_target):
        pass
    assert "s3cret-Passw0rd" not in str(caught.value) and "***" in str(caught.value)


@pytest.mark.parametrize(
    "error",
    [
        redshift_connector.InterfaceError("communication error", ConnectionRefusedError(111)),
        redshift_connector.OperationalError("connection time out", TimeoutError("timed out")),
        driver_error(S="FATAL", C="57P03", M="the database system is starting up"),
    ],
    ids=["refused socket", "timeout", "starting up"],
)
def test_an_endpoint_that_cannot_be_reached_is_transient(env_target, monkeypatch, error) -> None:
    _connect_raising(monkeypatch, error)
    expected = r"^cannot reach Redshift at cluster"
    with pytest.raises(WarehouseUnavailable, match=expected) as caught, connect(env_target):
        pass
    assert is_transient(caught.value)


def test_any_other_connect_failure_is_a_one_line_error_not_retried(env_target, monkeypatch):
    _connect_raising(monkeypatch, redshift_connector.InterfaceError("Server refuses SSL"))
    expected = r"^cannot open Redshift at .*: Server refuses SSL$"
    with pytest.raises(WarehouseError, match=expected), connect(env_target):
        pass


# --- the run lock's heartbeat, without a warehouse -----------------------------------------


def test_the_heartbeat_interval_comes_from_the_environment_and_is_bounded() -> None:
    assert lock_heartbeat_seconds({}) == DEFAULT_LOCK_HEARTBEAT_S == 300
    assert lock_heartbeat_seconds({LOCK_HEARTBEAT_ENV: "0.5"}) == 0.5
    assert lock_heartbeat_seconds({LOCK_HEARTBEAT_ENV: " "}) == DEFAULT_LOCK_HEARTBEAT_S
    for bad in ("0", "-1", "3600", "nan", "inf", "five"):
        expected = LOCK_HEARTBEAT_ENV if bad == "five" else "at most 1800 seconds"
        with pytest.raises(WarehouseError, match=expected):
            lock_heartbeat_seconds({LOCK_HEARTBEAT_ENV: bad})


def test_create_schema_does_not_create_the_lock_table() -> None:
    """On Redshift, CREATE TABLE IF NOT EXISTS on the lock table waits for the run's LOCK."""
    assert LOCK_TABLE_DDL not in {statement.name for statement in ddl_statements()}


def test_a_duckdb_run_lock_has_nothing_to_lose(tmp_path) -> None:
    with run_lock(WarehouseTarget(path=str(tmp_path / "w.duckdb"))) as lock:
        assert isinstance(lock, RunLock) and lock.lost is None
        lock.check()
