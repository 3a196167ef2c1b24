"""Amazon Redshift, the production warehouse, reached with redshift_connector.

Connection settings live in a `RedshiftWarehouse` Prefect block (the password as a secret,
or IAM / Serverless options that redshift_connector supports), or for one-off runs in
`SPARKIFY_REDSHIFT_*` environment variables (`--warehouse redshift:env`). Neither is ever
logged: tasks pass the block's *name*, and open the connection themselves.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from enum import Enum
from typing import Any

import redshift_connector

from tasks.common.errors import WarehouseError
from tasks.warehouse.base import Session
from tasks.warehouse.redshift.block import RedshiftWarehouse, load_settings
from tasks.warehouse.target import WarehouseTarget

_PARAMSTYLE = {"redshift": "named", "postgres": "pyformat"}
# A dead peer is noticed after about 2 minutes of silence (60 s idle, then 4 probes 15 s apart).
KEEPALIVE = {"tcp_keepalive_idle": 60, "tcp_keepalive_interval": 15, "tcp_keepalive_count": 4}

# What a driver error means is decided by the SQLSTATE the server sent (the "C" field of the
# error fields redshift_connector passes as `exc.args[0]`), not by the exception class: the
# driver raises 28000 (a wrong password on Redshift) as InterfaceError, every other server
# error as ProgrammingError (23505 as IntegrityError), and its own socket failures as
# InterfaceError / OperationalError with plain-text args. The codes are PostgreSQL's, as
# Amazon Redshift lists them:
# https://docs.aws.amazon.com/redshift/latest/mgmt/rsql-query-tool-error-codes.html
# Class 28 (invalid authorization), 42501 (insufficient_privilege) and 3D000
# (invalid_catalog_name: no such database) are configuration: retrying cannot fix them.
_REFUSED = {"42501", "3D000"}
# Sessions the server ended: 57P01-57P03 admin_shutdown, crash_shutdown, cannot_connect_now;
# 57P05 idle_session_timeout and 25P03 idle_in_transaction_session_timeout are PostgreSQL's
# form of Redshift's idle-session timeout (a new session works, so they are transient too).
_SESSION_ENDED = {"57P01", "57P02", "57P03", "57P05", "25P03"}
# 55P03 lock_not_available and 40001 serialization_failure: the transaction can succeed when
# it runs again. Redshift raises its serializable-isolation abort as SQLSTATE XX000 with the
# message "1023" and the detail "Serializable isolation violation on table …", and AWS's
# answer to it is "Retry the canceled transaction":
# https://docs.aws.amazon.com/redshift/latest/dg/c_serial_isolation-serializable-isolation-troubleshooting.html
_CONFLICTS = {"55P03", "40001"}
_SERIALIZABLE_VIOLATION = "serializable isolation violation"
# PgBouncer, and so any pooler in front of the cluster, sends everything it refuses as 08P01
# (protocol_violation), a wrong password included: for class 08 only the message tells a
# refused login from a broken connection.
_POOLER_REFUSALS = (
    "authentication failed",
    "no such user",
    "no such database",
    "does not exist",
    "permission denied",
)
# The driver's own words (no server fields) for a socket that closed or never opened.
_DRIVER_CONNECTION_GONE = (
    "BrokenPipe",
    "connection is closed",
    "communication error",
    "connection time out",
)


class WarehouseUnavailable(ConnectionError):
    """Redshift cannot be reached right now: transient, so tasks retry with backoff."""


class WarehouseConflict(ConnectionError):
    """Another transaction's lock, or a serializable-isolation abort: the statement was right
    but lost a race, so (as a ConnectionError) tasks retry it with backoff."""


class Fault(Enum):
    """What a driver error means for the run (see `classify`)."""

    REFUSED = "refused"  # the log-in or a permission: fail at once, in one line
    LOST = "lost"  # the network or the session is gone: transient
    CONFLICT = "conflict"  # a lock or a serializable-isolation abort: transient
    STATEMENT = "statement"  # the statement itself is wrong: propagates unchanged

    @property
    def transient(self) -> bool:
        """A later attempt, on a new connection, can succeed."""
        return self in (Fault.LOST, Fault.CONFLICT)


class RedshiftSession(Session):
    """A session over redshift_connector; autocommit, with explicit transactions."""

    def __init__(self, conn: Any, dialect: str, where: str = "", user: str | None = None) -> None:
        super().__init__(conn, dialect)
        self.where = where  # endpoint and user, for one-line errors (never the password)
        self.user = user

    def _cursor(self) -> Any:
        cursor = self._conn.cursor()
        cursor.paramstyle = _PARAMSTYLE[self.dialect]
        return cursor

    def _execute(self, sql: str, params: Mapping[str, Any] | None) -> None:
        self._fetch(sql, params, rows=False)

    def _fetch(self, sql: str, params: Mapping[str, Any] | None, rows: bool = True) -> list[Any]:
        return self._described(sql, params, rows)[1]

    def _described(
        self, sql: str, params: Mapping[str, Any] | None, rows: bool = True
    ) -> tuple[list[str], list]:
        try:
            cursor = self._cursor()
            try:
                cursor.execute(sql, dict(params) if params else None)
                if not rows:
                    return [], []
                columns = [column[0] for column in cursor.description or []]
                return columns, list(cursor.fetchall() or [])
            finally:
                cursor.close()
        except Exception as exc:
            fault = classify(exc)
            if fault is Fault.LOST:  # transient: the task retries on a new connection
                raise WarehouseUnavailable(
                    f"lost the Redshift connection: {driver_message(exc)}"
                ) from exc
            if fault is Fault.CONFLICT:  # transient: the task's transaction runs again
                raise WarehouseConflict(
                    f"Redshift aborted the statement for a concurrent transaction: "
                    f"{driver_message(exc)}"
                ) from exc
            if fault is Fault.REFUSED:  # configuration: fails at once, not retried
                raise WarehouseError(
                    f"Redshift at {self.where} refused user {self.user}: {driver_message(exc)}"
                ) from exc
            raise


def classify(exc: BaseException) -> Fault:
    """What a failure from redshift_connector means, decided by the SQLSTATE the server sent
    (the driver picks its exception class by other rules, so the class decides nothing):

    - REFUSED: class 28 (a wrong password: 28000 on Redshift, 28P01 on PostgreSQL), 42501
      (permission denied), 3D000 (no such database); and a pooler's 08P01 whose message says
      authentication failed or the database or user does not exist.
    - LOST: no server fields but a socket error (an OSError, or the driver's InterfaceError /
      OperationalError wrapping one or saying the socket closed), class 08, or a session the
      server ended (57P01-57P03, and PostgreSQL's idle timeouts 57P05 and 25P03).
    - CONFLICT: 55P03 (a lock not available), 40001, or Redshift's "1023 Serializable
      isolation violation" (SQLSTATE XX000, matched by its message).
    - STATEMENT: everything else.
    """
    fields = server_fields(exc)
    if fields is None:
        return Fault.LOST if _socket_failed(exc) else Fault.STATEMENT
    code = str(fields.get("C", ""))
    text = _server_text(fields).lower()
    if code.startswith("28") or code in _REFUSED:
        return Fault.REFUSED
    if code.startswith("08"):
        return Fault.REFUSED if any(s in text for s in _POOLER_REFUSALS) else Fault.LOST
    if code in _SESSION_ENDED:
        return Fault.LOST
    if code in _CONFLICTS or _SERIALIZABLE_VIOLATION in text or _is_1023(fields):
        return Fault.CONFLICT
    return Fault.STATEMENT


def server_fields(exc: BaseException) -> dict[str, str] | None:
    """The server's error fields ("C" SQLSTATE, "M" message, "D" detail, …) that
    redshift_connector passes as the exception's first argument; None for its own errors."""
    if not isinstance(exc, redshift_connector.Error) or not exc.args:
        return None
    detail = exc.args[0]
    return detail if isinstance(detail, dict) else None


def _socket_failed(exc: BaseException) -> bool:
    """A driver error without server fields that is about the socket, not the statement."""
    if isinstance(exc, OSError):  # a dead socket: BrokenPipeError, ConnectionResetError, …
        return True
    if not isinstance(exc, redshift_connector.Error):
        return False
    if isinstance(exc.__cause__, OSError) or any(isinstance(a, OSError) for a in exc.args):
        return True  # "communication error" and "connection time out" carry the socket's error
    text = str(exc.args[0]) if exc.args else ""
    return any(words in text for words in _DRIVER_CONNECTION_GONE)


def _server_text(fields: Mapping[str, Any]) -> str:
    """The message and its detail: Redshift puts the words of error 1023 in the detail."""
    return " ".join(str(fields[key]) for key in ("M", "D") if fields.get(key))


def _is_1023(fields: Mapping[str, Any]) -> bool:
    """Redshift's serializable-isolation abort: message "1023" (the detail says the rest)."""
    message = str(fields.get("M", "")).strip()
    return message == "1023" or message.startswith(("1023 ", "1023:"))


def open_redshift(target: WarehouseTarget, dialect: str = "redshift") -> RedshiftSession:
    """Connect; a one-line error that names the endpoint but never the password. `dialect` is
    the adapter's (`postgres` for the rig that stands in for Redshift)."""
    settings = load_settings(target)
    where = f"{settings.host or settings.serverless_work_group}:{settings.port}"
    user = settings.user or settings.db_user
    try:
        conn = redshift_connector.connect(**settings.connect_kwargs(), **_keepalive())
    except (redshift_connector.Error, OSError) as exc:
        # `from None`: the driver's exception stays out of the traceback and the logs
        reason = _redacted(driver_message(exc), settings)
        fault = classify(exc)
        if fault is Fault.REFUSED:  # a wrong password or database: retrying cannot fix it
            raise WarehouseError(
                f"Redshift at {where} refused the login of user {user}: {reason}"
            ) from None
        if fault.transient:
            raise WarehouseUnavailable(f"cannot reach Redshift at {where}: {reason}") from None
        raise WarehouseError(f"cannot open Redshift at {where}: {reason}") from None
    conn.autocommit = True
    # The driver applies `timeout` to every socket read, so it would also cut off any statement
    # that runs longer (a COPY, a mart build) and make it look like a dropped connection. Keep
    # it for connecting; TCP keepalive (KEEPALIVE) notices a peer that is gone.
    if getattr(conn, "_usock", None) is not None:
        conn._usock.settimeout(None)
    return RedshiftSession(conn, dialect, where=where, user=user)


def _keepalive() -> dict[str, Any]:
    """KEEPALIVE, where the installed driver takes it (redshift_connector 2.1.x does not)."""
    accepted = inspect.signature(redshift_connector.connect).parameters
    return {key: value for key, value in KEEPALIVE.items() if key in accepted}


def _redacted(text: str, settings: RedshiftWarehouse) -> str:
    """A server or driver message with the password masked, should one ever echo it."""
    secret = settings.password.get_secret_value() if settings.password else ""
    return text.replace(secret, "***") if secret else text


def driver_message(exc: BaseException) -> str:
    """A driver error's first line: the server's message (field M) when it sent one."""
    detail = exc.args[0] if exc.args else exc
    if isinstance(detail, dict):  # the server's error fields: M is the message
        message = str(detail.get("M", ""))
        # a bare number ("1023") is Redshift's error code; its words are in the detail
        detail = _server_text(detail) if message.isdigit() else detail.get("M", detail)
    text = str(detail)
    return text.splitlines()[0] if text else type(exc).__name__
