"""Amazon Redshift, the production warehouse, reached with redshift_connector.

Connection settings live in a `RedshiftWarehouse` Prefect block (the password as a secret,
or IAM / Serverless options that redshift_connector supports), or for one-off runs in
`SPARKIFY_REDSHIFT_*` environment variables (`--warehouse redshift:env`). Neither is ever
logged: tasks pass the block's *name*, and open the connection themselves.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping
from typing import Any

import redshift_connector
from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from tasks.errors import WarehouseError
from tasks.warehouse import Session, WarehouseTarget

ENV_PREFIX = "SPARKIFY_REDSHIFT_"
_PARAMSTYLE = {"redshift": "named", "postgres": "pyformat"}
_AUTH_FAILED = ("28000", "28P01")
# A dead peer is noticed after about 2 minutes of silence (60 s idle, then 4 probes 15 s apart).
KEEPALIVE = {"tcp_keepalive_idle": 60, "tcp_keepalive_interval": 15, "tcp_keepalive_count": 4}
_SESSION_ENDED = {"57P01", "57P02", "57P03"}  # admin_shutdown, crash_shutdown, cannot_connect_now


class WarehouseUnavailable(ConnectionError):
    """Redshift cannot be reached right now: transient, so tasks retry with backoff."""


class RedshiftWarehouse(Block):
    """Where the star schema lives in Redshift, and what COPY needs to read the lake."""

    _block_type_name = "Sparkify Redshift Warehouse"
    _block_type_slug = "sparkify-redshift-warehouse"

    host: str | None = Field(default=None, description="Cluster or workgroup endpoint host.")
    port: int = 5439
    database: str = "dev"
    user: str | None = None
    password: SecretStr | None = None
    iam: bool = Field(default=False, description="Authenticate with IAM instead of a password.")
    cluster_identifier: str | None = None
    serverless_work_group: str | None = None
    is_serverless: bool = False
    region: str | None = None
    db_user: str | None = None
    profile: str | None = None
    ssl: bool = True
    timeout: int = 30
    copy_iam_role: str | None = Field(
        default=None, description="ARN of the role COPY assumes to read the lake and staging."
    )
    staging_uri: str | None = Field(
        default=None, description="s3://bucket/prefix for manifests and compacted song files."
    )

    @property
    def serverless(self) -> bool:
        return self.is_serverless or self.serverless_work_group is not None

    def connect_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for redshift_connector.connect (the only place secrets are read)."""
        kwargs: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "database": self.database,
            "user": self.user,
            "password": self.password.get_secret_value() if self.password else None,
            "iam": self.iam or None,
            "cluster_identifier": self.cluster_identifier,
            "serverless_work_group": self.serverless_work_group,
            "is_serverless": self.is_serverless,
            "region": self.region,
            "db_user": self.db_user,
            "profile": self.profile,
            "ssl": self.ssl,
            "timeout": self.timeout,
        }
        return {key: value for key, value in kwargs.items() if value is not None}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> RedshiftWarehouse:
        """Settings from SPARKIFY_REDSHIFT_HOST, _PORT, _DATABASE, _USER, _PASSWORD, …"""
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            raw = environ.get(f"{ENV_PREFIX}{name.upper()}")
            if raw is not None:
                values[name] = raw.lower() in {"1", "true", "yes"} if name in _FLAGS else raw
        if not values.get("host") and not values.get("serverless_work_group"):
            raise WarehouseError(
                f"{ENV_PREFIX}HOST is not set (needed for --warehouse redshift:env)"
            )
        return cls(**values)


_FLAGS = {"iam", "ssl", "is_serverless"}


class RedshiftSession(Session):
    """A session over redshift_connector; autocommit, with explicit transactions."""

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
            if connection_lost(exc):  # transient: the task retries on a new connection
                raise WarehouseUnavailable(
                    f"lost the Redshift connection: {_first_line(exc)}"
                ) from exc
            raise


def connection_lost(exc: BaseException) -> bool:
    """True when the session is gone rather than the statement wrong: the socket broke or timed
    out (the driver's InterfaceError / OperationalError, or a bare OSError on a dead socket), or
    the server ended the session (SQLSTATE class 08, or 57P01-57P03: terminated by an
    administrator, a crash or a restart), which redshift_connector raises as ProgrammingError."""
    if isinstance(exc, redshift_connector.InterfaceError | redshift_connector.OperationalError):
        return True
    if isinstance(exc, OSError):
        return True
    detail = exc.args[0] if isinstance(exc, redshift_connector.Error) and exc.args else None
    code = detail.get("C", "") if isinstance(detail, dict) else ""
    return code.startswith("08") or code in _SESSION_ENDED


def load_settings(target: WarehouseTarget) -> RedshiftWarehouse:
    """The block a target names (`env`: the SPARKIFY_REDSHIFT_* variables)."""
    if target.block == "env":
        return RedshiftWarehouse.from_env()
    return RedshiftWarehouse.load(target.block)


def open_redshift(target: WarehouseTarget) -> RedshiftSession:
    """Connect; a one-line error that names the endpoint but never the password."""
    settings = load_settings(target)
    where = f"{settings.host or settings.serverless_work_group}:{settings.port}"
    try:
        conn = redshift_connector.connect(**settings.connect_kwargs(), **_keepalive())
    except redshift_connector.InterfaceError as exc:
        raise WarehouseUnavailable(
            f"cannot reach Redshift at {where}: {_first_line(exc)}"
        ) from None
    except redshift_connector.ProgrammingError as exc:
        if any(code in str(exc) for code in _AUTH_FAILED) or "authentication failed" in str(exc):
            raise WarehouseError(
                f"Redshift at {where} refused the login of user {settings.user}"
            ) from None
        raise WarehouseError(f"cannot open Redshift at {where}: {_first_line(exc)}") from None
    conn.autocommit = True
    # The driver applies `timeout` to every socket read, so it would also cut off any statement
    # that runs longer (a COPY, a mart build) and make it look like a dropped connection. Keep
    # it for connecting; TCP keepalive (KEEPALIVE) notices a peer that is gone.
    if getattr(conn, "_usock", None) is not None:
        conn._usock.settimeout(None)
    return RedshiftSession(conn, target.dialect)


def _keepalive() -> dict[str, int]:
    """KEEPALIVE, where the installed driver takes it (redshift_connector 2.1.x does not)."""
    accepted = inspect.signature(redshift_connector.connect).parameters
    return {key: value for key, value in KEEPALIVE.items() if key in accepted}


def _first_line(exc: BaseException) -> str:
    detail = exc.args[0] if exc.args else exc
    if isinstance(detail, dict):  # the server's error fields: M is the message
        detail = detail.get("M", detail)
    text = str(detail)
    return text.splitlines()[0] if text else type(exc).__name__
