"""The real redshift_connector driver against PostgreSQL 16 behind PgBouncer (redshift_rig.py).

These pin the driver behaviour warehouse code relies on: bound parameters per cursor, autocommit
off, multi-statement transactions, rollback, and how the rig itself starts and stops.
"""

from __future__ import annotations

import datetime as dt
import socket
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import redshift_connector

from tests.redshift_rig import (
    RigEndpoint,
    RigUnavailable,
    redshift_rig,  # noqa: F401  (the session fixture, until conftest imports it)
    require_rig,
    start_redshift_rig,
)

Connection = redshift_connector.Connection


def _connect(endpoint: RigEndpoint) -> Connection:
    """The exact call warehouse code makes; ssl=False because PgBouncer offers no TLS here."""
    return redshift_connector.connect(
        host=endpoint.host,
        port=endpoint.port,
        database=endpoint.database,
        user=endpoint.user,
        password=endpoint.password,
        ssl=False,
        timeout=10,
    )


@pytest.fixture
def conn(redshift_rig: RigEndpoint) -> Iterator[Connection]:  # noqa: F811
    connection = _connect(redshift_rig)
    yield connection
    connection.close()


@pytest.fixture
def observer(redshift_rig: RigEndpoint) -> Iterator[Connection]:  # noqa: F811
    """A second session: shows what other clients see (autocommit, so it never holds a snapshot)."""
    connection = _connect(redshift_rig)
    connection.autocommit = True
    yield connection
    connection.close()


@pytest.fixture
def table(conn: Connection, observer: Connection) -> Iterator[str]:
    """A fresh two-column table per test, so tests share the session rig without interfering."""
    name = f"plays_{uuid.uuid4().hex[:10]}"
    cur = observer.cursor()
    cur.execute(f"CREATE TABLE {name} (play_id INTEGER PRIMARY KEY, title VARCHAR(256))")
    yield name
    # Even a SELECT leaves `conn` in an open transaction holding a lock DROP would wait for.
    conn.rollback()
    cur.execute(f"DROP TABLE IF EXISTS {name}")


def _rows(connection: Connection, table: str) -> list[tuple[Any, ...]]:
    cur = connection.cursor()
    cur.execute(f"SELECT play_id, title FROM {table} ORDER BY play_id")
    return [tuple(row) for row in cur.fetchall()]


def test_server_reports_a_version_the_driver_parses(conn: Connection) -> None:
    cur = conn.cursor()
    cur.execute(
        "SELECT current_setting('server_version'), current_user, current_database(), "
        "current_setting('TimeZone')"
    )
    version, user, database, zone = cur.fetchone()
    assert version.startswith("16.")
    assert (user, database, zone) == ("etl_user", "dev", "UTC")


def test_connect_kwargs_helper_connects(redshift_rig: RigEndpoint) -> None:  # noqa: F811
    connection = redshift_connector.connect(**redshift_rig.connect_kwargs())
    try:
        cur = connection.cursor()
        cur.execute("SELECT 1")
        assert cur.fetchone()[0] == 1
    finally:
        connection.close()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the driver's own SSLContext() call
def test_driver_default_ssl_is_refused(redshift_rig: RigEndpoint) -> None:  # noqa: F811
    """redshift_connector defaults to TLS; the rig has none, so callers must pass ssl=False."""
    kwargs = {**redshift_rig.connect_kwargs()}
    del kwargs["ssl"]
    with pytest.raises(redshift_connector.InterfaceError, match="Server refuses SSL"):
        redshift_connector.connect(**kwargs)


def test_wrong_password_is_rejected(redshift_rig: RigEndpoint) -> None:  # noqa: F811
    kwargs = {**redshift_rig.connect_kwargs(), "password": "not-the-password"}
    with pytest.raises(redshift_connector.Error, match="password authentication failed"):
        redshift_connector.connect(**kwargs)


def test_format_params_round_trip_types(conn: Connection) -> None:
    """The module default paramstyle is 'format' (%s); values travel as bound parameters."""
    assert redshift_connector.paramstyle == "format"
    cur = conn.cursor()
    cur.execute(
        "CREATE TEMP TABLE typed (id BIGINT, title VARCHAR(64), price NUMERIC(10, 2), "
        "played_at TIMESTAMP, skipped BOOLEAN)"
    )
    played_at = dt.datetime(2018, 11, 1, 21, 1, 46)
    rows = [
        (1, "Don't Stop Me Now / Déjà Vu", Decimal("1.25"), played_at, False),
        (2, None, None, None, None),
        (3, "%s is not a placeholder inside a value", Decimal("0.00"), played_at, True),
    ]
    cur.executemany("INSERT INTO typed VALUES (%s, %s, %s, %s, %s)", rows)
    cur.execute("SELECT * FROM typed WHERE id >= %s ORDER BY id", (1,))
    assert [tuple(row) for row in cur.fetchall()] == rows


@pytest.mark.parametrize(
    ("paramstyle", "insert", "args"),
    [
        ("named", "INSERT INTO {t} VALUES (:play_id, :title)", {"play_id": 7, "title": "named"}),
        (
            "pyformat",
            "INSERT INTO {t} VALUES (%(play_id)s, %(title)s)",
            {"play_id": 7, "title": "py"},
        ),
        ("qmark", "INSERT INTO {t} VALUES (?, ?)", (7, "qmark")),
        ("numeric", "INSERT INTO {t} VALUES (:1, :2)", (7, "numeric")),
    ],
)
def test_paramstyle_can_be_set_per_cursor(
    conn: Connection, observer: Connection, table: str, paramstyle: str, insert: str, args: Any
) -> None:
    """cursor.paramstyle overrides the module-global paramstyle for that cursor only."""
    cur = conn.cursor()
    cur.paramstyle = paramstyle
    cur.execute(insert.format(t=table), args)
    conn.commit()
    assert redshift_connector.paramstyle == "format"
    assert conn.cursor().paramstyle == "format"
    expected_title = args["title"] if isinstance(args, dict) else args[1]
    assert _rows(observer, table) == [(7, expected_title)]


def test_autocommit_is_off_and_work_is_invisible_until_commit(
    conn: Connection, observer: Connection, table: str
) -> None:
    """The driver opens a transaction on first execute; nothing is visible before commit()."""
    assert conn.autocommit is False
    cur = conn.cursor()
    cur.executemany(f"INSERT INTO {table} VALUES (%s, %s)", [(1, "a"), (2, "b")])
    cur.execute(f"UPDATE {table} SET title = %s WHERE play_id = %s", ("b2", 2))
    cur.execute(f"DELETE FROM {table} WHERE play_id = %s", (1,))
    assert _rows(conn, table) == [(2, "b2")]
    assert _rows(observer, table) == []
    conn.commit()
    assert _rows(observer, table) == [(2, "b2")]


def test_rollback_discards_every_statement_of_the_transaction(
    conn: Connection, observer: Connection, table: str
) -> None:
    cur = conn.cursor()
    cur.execute(f"INSERT INTO {table} VALUES (%s, %s)", (1, "kept"))
    conn.commit()
    cur.execute(f"INSERT INTO {table} VALUES (%s, %s)", (2, "dropped"))
    cur.execute(f"UPDATE {table} SET title = %s WHERE play_id = %s", ("changed", 1))
    cur.execute(f"CREATE TABLE {table}_side (x INTEGER)")  # DDL is transactional too
    conn.rollback()
    assert _rows(conn, table) == [(1, "kept")]
    cur.execute("SELECT to_regclass(%s) IS NULL", (f"{table}_side",))
    assert cur.fetchone()[0] is True


def test_error_aborts_the_transaction_until_rollback(conn: Connection, table: str) -> None:
    """After a failed statement every later one fails too: the caller must roll back. (A
    division by zero fails on every engine; a duplicate key would not: Redshift does not
    enforce primary keys.)"""
    cur = conn.cursor()
    cur.execute(f"INSERT INTO {table} VALUES (%s, %s)", (1, "first"))
    with pytest.raises(redshift_connector.ProgrammingError):
        cur.execute("SELECT 1 / (SELECT count(*) - 1 FROM " + table + ")")
    with pytest.raises(redshift_connector.ProgrammingError):
        cur.execute("SELECT 1")
    conn.rollback()
    assert _rows(conn, table) == []


def test_autocommit_on_makes_each_statement_durable(
    conn: Connection, observer: Connection, table: str
) -> None:
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute(f"INSERT INTO {table} VALUES (%s, %s)", (1, "now"))
    assert _rows(observer, table) == [(1, "now")]


def _gone(proc: Any) -> bool:
    """Exited, or a zombie waiting for init to reap it (pg_ctl daemonised the postmaster)."""
    import psutil

    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_rig_stops_and_deletes_everything_it_started(tmp_path: Path) -> None:
    require_rig()
    import psutil  # installed with pgserver

    with start_redshift_rig(base_dir=tmp_path) as endpoint:
        connection = _connect(endpoint)
        connection.close()
        started = [
            proc
            for proc in psutil.process_iter(["cmdline"])
            if any(str(tmp_path) in part for part in proc.info["cmdline"] or ())
        ]
        names = {Path(proc.info["cmdline"][0]).name for proc in started}
        assert {"pgbouncer", "postgres"} <= names
    assert all(_gone(proc) for proc in started)
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", endpoint.port)) != 0
    assert list(tmp_path.iterdir()) == []


def test_missing_pgbouncer_gives_a_one_line_reason() -> None:
    with (
        pytest.raises(RigUnavailable, match="pgbouncer binary not found") as raised,
        start_redshift_rig(pgbouncer_bin="/nonexistent/pgbouncer"),
    ):
        pass
    assert "\n" not in str(raised.value)


def test_scram_auth_is_not_usable_by_this_driver() -> None:
    """Why the rig uses md5: redshift_connector 2.2 mis-parses PostgreSQL's SASL mechanism list.

    It keeps an empty name from the list's closing NUL and scramp rejects it. If this starts
    passing a connection, the driver was fixed and the rig may default to scram-sha-256.
    """
    require_rig()
    with (
        start_redshift_rig(auth_type="scram-sha-256") as endpoint,
        pytest.raises(Exception, match="mechanism name is not supported"),
    ):
        _connect(endpoint)
