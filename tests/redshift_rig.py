"""A wire-level Redshift stand-in: PostgreSQL 16 (pgserver) behind PgBouncer on 127.0.0.1.

redshift_connector sends start-up parameters plain PostgreSQL rejects (client_protocol_version,
driver_version, ...) and parses the server's version string; PgBouncer drops those parameters
and pgserver's PostgreSQL reports a bare "16.2", so the real driver can be tested end to end.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest

from tasks.warehouse.connect import register_adapter

# The rig is an adapter setting, not a production field: Redshift's adapter speaking
# PostgreSQL's dialect (the rig's server behind PgBouncer), under a name of its own.
RIG_ADAPTER = "redshift-rig"


def _rig_adapter() -> Any:
    from tasks.warehouse.redshift.adapter import RedshiftAdapter

    return RedshiftAdapter(dialect="postgres")


register_adapter(RIG_ADAPTER, _rig_adapter)

AuthType = Literal["scram-sha-256", "md5"]

# What redshift_connector puts in its start-up packet that PostgreSQL would refuse.
IGNORED_STARTUP_PARAMETERS = (
    "extra_float_digits",
    "client_protocol_version",
    "driver_version",
    "os_version",
    "driver_discovery_version",
)
# Debian installs pgbouncer in /usr/sbin, which a non-root PATH often lacks.
PGBOUNCER_FALLBACKS = ("/usr/sbin/pgbouncer", "/usr/local/sbin/pgbouncer")
SSL_REQUEST_CODE = 80877103  # the protocol's SSLRequest; a TLS-less server answers b"N"
STARTUP_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 5.0
# Set to 1 in CI so a missing install fails the fixture instead of silently skipping it.
REQUIRED_ENV = "REDSHIFT_RIG_REQUIRED"
_SAFE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class RigUnavailable(RuntimeError):
    """A prerequisite (pgbouncer binary, pgserver package) is missing; the message is one line."""


class RigStartError(RuntimeError):
    """The rig's prerequisites exist but a process failed to start (message carries its log)."""


@dataclass(frozen=True)
class RigEndpoint:
    """Where the rig listens and who may log in: the fields redshift_connector.connect needs."""

    host: str
    port: int
    database: str
    user: str
    password: str

    def connect_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for redshift_connector.connect (ssl=False: the rig offers no TLS)."""
        return {
            "host": self.host,
            "port": self.port,
            "database": self.database,
            "user": self.user,
            "password": self.password,
            "ssl": False,
            "timeout": 10,
        }


def find_pgbouncer() -> str | None:
    """The pgbouncer executable, also looking in sbin dirs that a user's PATH may omit."""
    found = shutil.which("pgbouncer")
    if found:
        return found
    return next((path for path in PGBOUNCER_FALLBACKS if os.access(path, os.X_OK)), None)


def unavailable_reason(pgbouncer_bin: str | None = None) -> str | None:
    """Why the rig cannot start here (one line), or None when everything it needs is installed."""
    binary = pgbouncer_bin or find_pgbouncer()
    if binary is None or not os.access(binary, os.X_OK):
        return "pgbouncer binary not found (install it: make test-deps)"
    try:
        _import_pgserver()
    except ImportError as err:
        return f"pgserver package not importable ({err}); install it: pip install pgserver==0.1.4"
    return None


def _import_pgserver() -> Any:
    """Import pgserver without the platformdirs warning it emits when XDG_RUNTIME_DIR is unset."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import pgserver

    return pgserver


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _check_name(kind: str, value: str) -> str:
    """Names go into SQL and config files unquoted-safe; refuse anything odd instead of escaping."""
    if not _SAFE_NAME.match(value):
        raise ValueError(f"rig {kind} must match {_SAFE_NAME.pattern}: {value!r}")
    return value


def _create_role_and_database(server: Any, database: str, user: str, password: str) -> None:
    """A non-superuser login owning its database, like an ETL user on a Redshift cluster.

    Sessions run in UTC whatever the host's zone, as Redshift's do.
    """
    server.psql(
        "\\set ON_ERROR_STOP on\n"
        f"CREATE ROLE {user} LOGIN PASSWORD '{password}';\n"
        f"CREATE DATABASE {database} OWNER {user};\n"
        f"ALTER DATABASE {database} SET timezone TO 'UTC';\n"
    )


def _write_pgbouncer_config(
    workdir: Path,
    *,
    socket_dir: Path,
    pg_port: int,
    port: int,
    auth_type: AuthType,
    user: str,
    password: str,
    database: str,
) -> Path:
    """Session pooling keeps a client's multi-statement transaction on one server connection."""
    (workdir / "userlist.txt").write_text(f'"{user}" "{password}"\n')
    (workdir / "userlist.txt").chmod(0o600)
    backend = f"host={socket_dir} port={pg_port}"
    ini = workdir / "pgbouncer.ini"
    ini.write_text(
        "[databases]\n"
        f"{database} = {backend} dbname={database}\n"
        f"* = {backend}\n"
        "\n[pgbouncer]\n"
        "listen_addr = 127.0.0.1\n"
        f"listen_port = {port}\n"
        "unix_socket_dir =\n"
        f"auth_type = {auth_type}\n"
        f"auth_file = {workdir / 'userlist.txt'}\n"
        "pool_mode = session\n"
        f"ignore_startup_parameters = {','.join(IGNORED_STARTUP_PARAMETERS)}\n"
        "max_client_conn = 100\n"
        "default_pool_size = 20\n"
        f"logfile = {workdir / 'pgbouncer.log'}\n"
    )
    return ini


def _run_as(system_user: str | None) -> dict[str, Any]:
    """Popen arguments to drop root: pgbouncer refuses to run as root (use pgserver's user)."""
    if system_user is None:
        return {}
    return {"user": system_user, "group": system_user, "extra_groups": []}


def _log_tail(path: Path, lines: int = 20) -> str:
    if not path.exists():
        return "(no log written)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _speaks_postgres(port: int) -> bool:
    """Send an SSLRequest and expect PgBouncer's b"N": a bare TCP connect could reach whatever
    other process took the port between choosing it and pgbouncer binding it."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(struct.pack("!ii", 8, SSL_REQUEST_CODE))
            return sock.recv(1) == b"N"
    except OSError:
        return False


def _wait_listening(proc: subprocess.Popen[bytes], port: int, log: Path) -> bool:
    """True once pgbouncer answers on the port; False if it died (e.g. the port was taken)."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if _speaks_postgres(port) and proc.poll() is None:
            return True
        time.sleep(0.05)
    raise RigStartError(
        f"pgbouncer not listening on 127.0.0.1:{port} after {STARTUP_TIMEOUT_S}s; "
        f"log:\n{_log_tail(log)}"
    )


def _stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it lingers (newer PgBouncers wait for clients on SIGTERM)."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=STOP_TIMEOUT_S)


@contextmanager
def _pgbouncer(
    binary: str, workdir: Path, system_user: str | None, **config: Any
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """Start pgbouncer on a free port (retried if the port is taken meanwhile); stop it after."""
    log = workdir / "pgbouncer.log"
    for _attempt in range(3):
        port = _free_port()
        ini = _write_pgbouncer_config(workdir, port=port, **config)
        if system_user is not None:
            for path in (workdir, *workdir.iterdir()):
                shutil.chown(path, system_user, system_user)
        proc = subprocess.Popen(
            [binary, "--quiet", str(ini)],  # --quiet: it logs to `log`, not to the test's stderr
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            **_run_as(system_user),
        )
        try:
            listening = _wait_listening(proc, port, log)
        except BaseException:
            _stop_process(proc)
            raise
        if listening:
            try:
                yield proc, port
            finally:
                _stop_process(proc)
            return
        if "already in use" not in _log_tail(log):
            break
    raise RigStartError(f"pgbouncer exited with code {proc.returncode}; log:\n{_log_tail(log)}")


@contextmanager
def start_redshift_rig(
    *,
    database: str = "dev",
    user: str = "etl_user",
    password: str | None = None,
    auth_type: AuthType = "md5",
    base_dir: Path | None = None,
    pgbouncer_bin: str | None = None,
) -> Iterator[RigEndpoint]:
    """Run a throwaway PostgreSQL behind PgBouncer; on exit stop and delete all that it started.

    Raises RigUnavailable (one-line message) when pgbouncer or pgserver is missing, so callers can
    skip with that reason. `database` defaults to "dev", Redshift's default database name.
    """
    reason = unavailable_reason(pgbouncer_bin)
    if reason is not None:
        raise RigUnavailable(reason)
    binary = pgbouncer_bin or find_pgbouncer()
    assert binary is not None
    _check_name("database", database)
    _check_name("user", user)
    password = password or secrets.token_hex(16)
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", password):
        raise ValueError("rig password may only hold letters, digits, '_', '.' and '-'")
    pgserver = _import_pgserver()

    workdir = Path(tempfile.mkdtemp(prefix="redshift-rig-", dir=base_dir))
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        server = pgserver.get_server(workdir / "pgdata", cleanup_mode="delete")
        stack.callback(server.cleanup)  # pg_ctl stop (fast mode), then delete pgdata
        _create_role_and_database(server, database, user, password)
        info = server.get_postmaster_info()
        bouncer_dir = workdir / "pgbouncer"
        bouncer_dir.mkdir()
        _proc, port = stack.enter_context(
            _pgbouncer(
                binary,
                bouncer_dir,
                server.system_user,
                socket_dir=info.socket_dir,
                pg_port=info.port,
                auth_type=auth_type,
                user=user,
                password=password,
                database=database,
            )
        )
        yield RigEndpoint("127.0.0.1", port, database, user, password)


def require_rig() -> None:
    """In a test: skip when the rig cannot start here, or fail if REDSHIFT_RIG_REQUIRED=1 (CI)."""
    reason = unavailable_reason()
    if reason is None:
        return
    if os.environ.get(REQUIRED_ENV) == "1":
        pytest.fail(f"{REQUIRED_ENV}=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def redshift_rig() -> Iterator[RigEndpoint]:
    """One rig for the whole test session; skips when pgbouncer or pgserver is missing."""
    require_rig()
    with start_redshift_rig() as endpoint:
        yield endpoint


# --- faults: a server backend that dies mid-statement ----------------------------------------


@dataclass
class BackendKiller:
    """What `terminate_backend_blocked_on` did: the backend pids it terminated."""

    terminated: list[int]


@contextmanager
def terminate_backend_blocked_on(
    endpoint: RigEndpoint,
    table: str,
    query_like: str,
    mode: str = "share",
    timeout: float = 60.0,
) -> Iterator[BackendKiller]:
    """Kill the server backend of the first statement matching `query_like` (SQL LIKE) that
    waits on `table`, the way an administrator's pg_terminate_backend or a crashed node would.

    A second session locks `table` in `mode` (SHARE lets reads through and stops writes), so
    the victim stops on the statement chosen; a third terminates it, then the lock is released.
    """
    import redshift_connector

    if mode not in {"share", "exclusive", "access exclusive"}:
        raise ValueError(f"unsupported lock mode {mode!r}")
    blocker = redshift_connector.connect(**endpoint.connect_kwargs())
    watcher = redshift_connector.connect(**endpoint.connect_kwargs())
    watcher.autocommit = True
    killer = BackendKiller(terminated=[])
    stop = threading.Event()
    blocker.cursor().execute(f"lock table {table} in {mode} mode")  # opens a transaction

    def watch() -> None:
        cursor = watcher.cursor()
        deadline = time.monotonic() + timeout
        while not stop.is_set() and time.monotonic() < deadline:
            cursor.execute(
                "select pid from pg_stat_activity where wait_event_type = 'Lock' "
                "and query like %s and pid <> pg_backend_pid()",
                (query_like,),
            )
            waiting = [row[0] for row in cursor.fetchall()]
            if waiting:
                cursor.execute("select pg_terminate_backend(%s)", (waiting[0],))
                killer.terminated.append(waiting[0])
                break
            time.sleep(0.05)
        blocker.rollback()  # the lock goes; later attempts run through

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield killer
    finally:
        stop.set()
        thread.join(timeout=timeout)
        blocker.close()
        watcher.close()


def rig_env(rig: Any, timeout: int = 20, **extra: str) -> dict[str, str]:
    """SPARKIFY_REDSHIFT_* variables for `redshift:env` pointing at the rig."""
    settings = {"HOST": rig.host, "PORT": str(rig.port), "DATABASE": rig.database,
                "USER": rig.user, "PASSWORD": rig.password, "SSL": "false",
                "TIMEOUT": str(timeout), **extra}  # fmt: skip
    return {f"SPARKIFY_REDSHIFT_{key}": value for key, value in settings.items()}


def reset_rig_warehouse() -> Any:
    """The `redshift:env` target with every schema and table the ETL owns dropped."""
    from tasks.model.tables import MARTS
    from tasks.warehouse.connect import connect
    from tasks.warehouse.target import WarehouseTarget

    target = WarehouseTarget(adapter=RIG_ADAPTER, block="env")
    with connect(target) as wh:
        for schema in ("sparkify_staging", "sparkify_build", "sparkify_meta"):
            wh.execute(f"drop schema if exists {schema} cascade")
        for table in MARTS:
            wh.execute(f'drop table if exists "{table}"')
    return target
