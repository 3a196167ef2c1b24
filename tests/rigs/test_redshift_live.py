"""The live tier: the ETL against a real Amazon Redshift cluster or Serverless workgroup.

Skipped unless SPARKIFY_REDSHIFT_* points at one (see `live_redshift_missing` in
tests/tiers.py); the skip reason names what is missing. Settings are read as `--warehouse
redshift:env` reads them (`RedshiftWarehouse.from_env`): SPARKIFY_REDSHIFT_HOST (or
_SERVERLESS_WORK_GROUP), _PORT, _DATABASE, _USER, _PASSWORD (or _IAM, _REGION, _DB_USER, ...),
_COPY_IAM_ROLE, _STAGING_URI, and the worker needs the standard AWS environment to write the
staged Parquet parts to _STAGING_URI (and to read an S3 lake).

POINT IT AT A THROWAWAY DATABASE. The ETL owns fixed names, the schemas sparkify_staging,
sparkify_build and sparkify_meta and the public tables users, songs, artists, "time" and
songplays, and every test here drops them first (`live_target`). For the same reason the tests
must run one at a time (no pytest-xdist against one database).

What each test needs beyond the settings above:

- EXPLAIN of every statement, the dirty lake, the wrong password: nothing more (the wrong
  password test needs password logins: SPARKIFY_REDSHIFT_USER and _PASSWORD, not _IAM).
- The public sample, full then daily: SPARKIFY_LIVE_LAKE=s3://... holding the Udacity sample
  (song_data/, log_data/); its tables are compared with tests/reference.py when the local copy
  (SPARKIFY_UDACITY_SAMPLE, see tests/tiers.py) exists.
- The run lock past a short SESSION TIMEOUT: SPARKIFY_LIVE_LOCK_USER and
  SPARKIFY_LIVE_LOCK_PASSWORD, a throwaway user that logs in with a password at
  SPARKIFY_REDSHIFT_HOST. The test ALTERs it (`session timeout 60`, then `reset session
  timeout`), so the connecting user must be a superuser or hold the ALTER USER privilege.
"""

from __future__ import annotations

import os
import re
import secrets
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from datetime import date
from typing import Any

import pytest

import tasks.publish
import tasks.scope
from flows.sparkify_etl import sparkify_etl
from tasks.build import build_statements
from tasks.check import table_checks
from tasks.common.errors import WarehouseError, first_line
from tasks.common.results import StageResult
from tasks.common.retry import is_transient
from tasks.common.run_spec import RunSpec
from tasks.common.sql_files import SqlFileNotFound, sql_path, statement_names
from tasks.create_schema import create_schema
from tasks.lake.files import LakeSource
from tasks.model.tables import MARTS
from tasks.publish import publish
from tasks.reporting.summary import RunSummary
from tasks.sample_lake import LakeSpec, generate_lake
from tasks.scope import scope_changes
from tasks.warehouse.base import Session
from tasks.warehouse.connect import connect, run_lock
from tasks.warehouse.redshift.adapter import RedshiftAdapter
from tasks.warehouse.redshift.lock import LOCK_TABLE, LOCK_TABLE_DDL, MAX_LOCK_HEARTBEAT_S
from tasks.warehouse.target import WarehouseTarget
from tests.factories import make_dirty
from tests.helpers import assert_tables_equal, published_tables, query, renders
from tests.reference import star_schema
from tests.tiers import UDACITY_SAMPLE, live_redshift_missing, udacity_sample_found

ENV = os.environ
WAREHOUSE = "redshift:env"
_MISSING = live_redshift_missing(ENV)  # the header `make test` prints says the same

# "live" is not a registered marker (pyproject's --strict-markers would refuse it): e2e only.
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        bool(_MISSING),
        reason="live Redshift tier: set "
        + ", ".join(_MISSING)
        + " (plus SPARKIFY_REDSHIFT_USER/_PASSWORD or _IAM, and AWS credentials that can write "
        "the staging URI) to run it against a throwaway cluster database or Serverless "
        "workgroup",
    ),
]

SAMPLE_DAY = date(2018, 11, 15)
FLOW_TIMEOUT_S = 1800  # two flow runs, each with a VACUUM FULL of every table on a full load
# Typed stand-ins for the values the ETL binds (`:name` for the redshift dialect, paramstyle
# "named"; `%(name)s` for the rig's postgres dialect), so a statement can be EXPLAINed alone.
DUMMY_VALUES = {
    "kind": "'events'::varchar",
    "run_id": "'live-explain'::varchar",
    "partition_label": "'full'::varchar",
    "event_files": "0::integer",
    "events_accepted": "0::bigint",
    "events_rejected": "0::bigint",
    "song_files": "0::integer",
    "songs_accepted": "0::bigint",
    "songs_rejected": "0::bigint",
    "limit": "5",  # LIMIT takes a plain constant
    "start_time": "'2018-11-01 00:00:00'::timestamp",
    "end_time": "'2018-12-01 00:00:00'::timestamp",
}
# Redshift's EXPLAIN takes SELECT, SELECT INTO, CREATE TABLE AS, INSERT, UPDATE and DELETE
# "If you use EXPLAIN for other SQL commands, such as data definition language (DDL) or
# database operations, the EXPLAIN operation fails":
# https://docs.aws.amazon.com/redshift/latest/dg/r_EXPLAIN.html
EXPLAINABLE = {"select", "with", "insert", "update", "delete"}
# A string literal (kept), a comment (dropped: its prose may hold an apostrophe or name a
# parameter; sqlglot's renders carry them as /* ... */), or a bound parameter (`::` casts
# never match).
_SQL_TOKEN = re.compile(
    r"'(?:[^']|'')*'|--[^\n]*|/\*.*?\*/"
    r"|(?<![:\w]):([a-z_][a-z0-9_]*)\b|%\(([a-z_][a-z0-9_]*)\)s",
    re.DOTALL,
)


def with_dummy_values(sql: str) -> str:
    """`sql` with its comments dropped and each bound parameter replaced by `DUMMY_VALUES`'s
    typed literal; a parameter without one raises KeyError (add it to DUMMY_VALUES)."""

    def swap(match: re.Match[str]) -> str:
        token = match.group(0)
        name = match.group(1) or match.group(2)
        if name is None:
            return " " if token.startswith(("--", "/*")) else token
        return DUMMY_VALUES[name]

    return _SQL_TOKEN.sub(swap, sql)


def first_keyword(sql: str) -> str:
    words = with_dummy_values(sql).split()
    return words[0].lower().lstrip("(") if words else ""


def live_warehouse() -> WarehouseTarget:
    return WarehouseTarget.parse(WAREHOUSE)  # engine redshift, block env, dialect redshift


def reset_live_warehouse() -> WarehouseTarget:
    """The `redshift:env` target with every schema and table the ETL owns dropped."""
    target = live_warehouse()
    with connect(target) as wh:
        for schema in ("sparkify_staging", "sparkify_build", "sparkify_meta"):
            wh.execute(f"drop schema if exists {schema} cascade", label=f"drop {schema}")
        for table in MARTS:
            wh.execute(f'drop table if exists "{table}"', label=f"drop {table}")
    return target


@pytest.fixture
def live_target() -> WarehouseTarget:
    return reset_live_warehouse()


@pytest.fixture
def live_lake() -> str:
    lake = ENV.get("SPARKIFY_LIVE_LAKE", "")
    if not lake.startswith("s3://"):
        pytest.skip("set SPARKIFY_LIVE_LAKE=s3://bucket/prefix holding the Udacity sample")
    return lake


def redshift_tables(target: WarehouseTarget) -> dict[str, list[tuple]]:
    """Every published table as a sorted list of row tuples (as tests.helpers reads DuckDB)."""
    with connect(target) as wh:
        return {t: sorted(wh.query(f'select * from "{t}"')) for t in MARTS}


def assert_published_and_checked(summary: RunSummary) -> None:
    assert summary.checks, "the run reported no quality checks"
    failed = [c for c in summary.checks if not c.passed]
    assert not failed, failed
    assert summary.published is not None
    assert summary.published.rows_after["songplays"] > 0


# --- EXPLAIN of every statement ----------------------------------------------------------


class _Recorder(Session):
    """A session that keeps the statements a task sends instead of running them (every
    count it is asked for is 0)."""

    def __init__(self) -> None:
        super().__init__(conn=None, dialect="redshift")
        self.sent: list[tuple[str, str]] = []

    def execute(
        self, sql: str, params: Any = None, label: str = "statement"
    ) -> None:  # Session.run comes here with the file's name as the label
        self.sent.append((label, sql))

    def _execute(self, sql: str, params: Any) -> None:
        self.sent.append((sql, sql))  # begin / commit / rollback

    def _fetch(self, sql: str, params: Any) -> list[Any]:
        return [(0,)]


def _sent_by(module: Any, task: Callable[[], object]) -> list[tuple[str, str]]:
    """The statements `task` sends through `module.connect`, recorded instead of run."""
    recorder = _Recorder()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(module, "connect", lambda target: nullcontext(recorder))
        task()
    return recorder.sent


def sql_file_statements() -> list[tuple[str, str]]:
    """(name, SQL) of every file under sql/ with a Redshift render, in each form its template
    takes; DuckDB-only files (the worker's parsing and macros) raise SqlFileNotFound for
    redshift and are left out."""
    statements = []
    for name in statement_names():
        try:
            sql_path(name, "redshift")
        except SqlFileNotFound:
            continue
        statements += [(name, sql) for sql in renders(name, "redshift")]
    return statements


def recorded_statements(target: WarehouseTarget) -> list[tuple[str, str]]:
    """What scope_changes and publish send, full and daily (statements they build in code:
    DELETE + INSERT of each table, the changed keys' DELETE), recorded without running."""
    staged = {kind: StageResult(kind, 0, 0, 0, 0.0) for kind in ("events", "songs")}
    statements = []
    for day in (None, SAMPLE_DAY):
        run = RunSpec(lake=LakeSource("s3://unused/lake"), warehouse=target, day=day)
        mode = "daily" if day else "full"
        if day:
            sent = _sent_by(tasks.scope, lambda run=run: scope_changes.fn(run))
            statements += [(f"scope ({mode}): {label}", sql) for label, sql in sent]
        sent = _sent_by(tasks.publish, lambda run=run: publish.fn(run, staged))
        statements += [(f"publish ({mode}): {label}", sql) for label, sql in sent]
    return statements


def test_redshift_explains_every_statement_the_etl_sends(live_target) -> None:
    """Each SELECT / INSERT / DELETE / UPDATE of the Redshift dialect, EXPLAINed on the cluster
    after `create schema` (so every table it names exists): the SQL files, each mart's build
    and each table's checks (full and daily), and what scope and publish build in code. The
    builds' DROP / CREATE run for real, so the INSERT and the checks after them have their
    build table (the files under sql/checks/ read it too, so they come after the builds)."""
    run = RunSpec(lake=LakeSource("s3://unused/lake"), warehouse=live_target)
    create_schema.fn(run)
    steps: list[tuple[str, str]] = []
    for incremental in (False, True):
        mode = "daily" if incremental else "full"
        for table in MARTS:
            for label, sql in build_statements(table, RedshiftAdapter(), incremental):
                steps.append((f"build {table} ({mode}): {label}", sql))
    steps += sql_file_statements()
    for incremental in (False, True):
        mode = "daily" if incremental else "full"
        for table in MARTS:
            for check in table_checks(table, "redshift", incremental):
                wrapped = f"select count(*) from ({check.sql}) as offending"  # as run_check
                steps.append((f"check {table}.{check.name} ({mode})", wrapped))
    steps += recorded_statements(live_target)

    failures, explained, ran = [], 0, 0
    with connect(live_target) as wh:
        for label, sql in steps:
            keyword = first_keyword(sql)
            try:
                if keyword in EXPLAINABLE:
                    plan = wh.query(f"explain {with_dummy_values(sql)}")
                    assert plan, "EXPLAIN returned no plan"
                    explained += 1
                elif keyword in {"drop", "create"} and label.startswith("build "):
                    wh.execute(sql, label=label)  # the build table the next steps read
                    ran += 1
            except ConnectionError:
                raise  # the session is gone: the rest would fail for that reason alone
            except Exception as exc:
                failures.append(f"{label}: {type(exc).__name__}: {first_line(exc)}")
    tried = explained + ran + len(failures)
    assert not failures, f"{len(failures)} of {tried} statements failed:\n" + "\n".join(failures)
    assert ran == len(MARTS) * 4 and explained > len(MARTS) * 4  # 2 DDL per build, full + daily


# --- the public sample, full then daily -----------------------------------------------------


@pytest.mark.usefixtures("prefect_server")
@pytest.mark.timeout(FLOW_TIMEOUT_S)
def test_the_public_sample_loads_in_full_then_daily_as_the_reference_says(
    live_lake, live_target
) -> None:
    full = sparkify_etl(source=live_lake, warehouse=WAREHOUSE)
    assert_published_and_checked(full)
    after_full = redshift_tables(live_target)
    if udacity_sample_found():  # the same sample, on this machine
        assert_tables_equal(after_full, star_schema(UDACITY_SAMPLE))
        assert full.published.rows_after == {t: len(r) for t, r in after_full.items()}

    daily = sparkify_etl(source=live_lake, warehouse=WAREHOUSE, day=SAMPLE_DAY)
    assert_published_and_checked(daily)
    assert daily.partition == SAMPLE_DAY.isoformat()
    assert daily.staged["events"].files == 1  # that day's log file only
    # loading a day again ends with the tables a full load makes
    assert_tables_equal(redshift_tables(live_target), after_full)
    with connect(live_target) as wh:
        assert wh.count("sparkify_meta.load_history") == 2


# --- a dirty lake, from a local directory --------------------------------------------------

DIRTY_SPEC = LakeSpec(songs=60, events=1500, days=3, users=20, seed=11)
DIRTY_SHARE = 0.05  # one bad song of 61 is over the default 1%


QUARANTINE_BY_REASON = (
    "select kind, reason, count(*) from sparkify_staging.quarantine group by kind, reason"
)
QUARANTINED = "select kind, source_file, line_number, reason from sparkify_staging.quarantine"


@pytest.mark.usefixtures("prefect_server")
@pytest.mark.timeout(FLOW_TIMEOUT_S)
def test_a_dirty_local_lake_loads_into_redshift_exactly_as_into_duckdb(
    live_target, tmp_path
) -> None:
    """The worker stages a local lake to Parquet under the staging URI and the cluster COPYs
    it: the same rows accepted, the same records quarantined for the same reasons, the same
    published tables as a DuckDB run of the lake."""
    lake = tmp_path / "lake"
    generate_lake(lake, DIRTY_SPEC)
    make_dirty(lake)
    on_redshift = sparkify_etl(
        source=str(lake), warehouse=WAREHOUSE, max_rejected_share=DIRTY_SHARE
    )
    duckdb_file = tmp_path / "w.duckdb"
    on_duckdb = sparkify_etl(
        source=str(lake), warehouse=str(duckdb_file), max_rejected_share=DIRTY_SHARE
    )
    assert_published_and_checked(on_redshift)
    assert_published_and_checked(on_duckdb)

    for kind in ("events", "songs"):
        got, want = on_redshift.staged[kind], on_duckdb.staged[kind]
        assert (got.files, got.accepted, got.rejected) == (want.files, want.accepted, want.rejected)
        assert got.rejected_by_reason == want.rejected_by_reason
        assert (got.lake_accepted, got.lake_rejected) == (want.lake_accepted, want.lake_rejected)
    assert on_redshift.staged["events"].rejected >= 5 and on_redshift.staged["songs"].rejected >= 1

    with connect(live_target) as wh:
        by_reason = sorted(wh.query(QUARANTINE_BY_REASON))
        quarantined = sorted(wh.query(QUARANTINED), key=repr)
        ((agent, location),) = wh.query(  # cut to the column's bytes, at a character boundary
            "select max(octet_length(user_agent)), max(octet_length(location)) "
            "from sparkify_staging.events where item_in_session > 90000"
        )
    assert by_reason == sorted(query(duckdb_file, QUARANTINE_BY_REASON))
    assert quarantined == sorted(query(duckdb_file, QUARANTINED), key=repr)
    assert (agent, location) == (1024, 1023)
    assert_tables_equal(redshift_tables(live_target), published_tables(duckdb_file))


# --- a wrong password --------------------------------------------------------------------


def test_a_wrong_password_fails_at_once_in_one_line_without_the_password(monkeypatch) -> None:
    if ENV.get("SPARKIFY_REDSHIFT_IAM", "").lower() in {"1", "true", "yes"}:
        pytest.skip("SPARKIFY_REDSHIFT_IAM is set: the live login takes no password")
    if not ENV.get("SPARKIFY_REDSHIFT_USER"):
        pytest.skip("set SPARKIFY_REDSHIFT_USER (and _PASSWORD) for a password login")
    wrong = f"not-the-password-{secrets.token_hex(8)}"
    monkeypatch.setenv("SPARKIFY_REDSHIFT_PASSWORD", wrong)
    started = time.monotonic()
    with pytest.raises(WarehouseError) as raised, connect(live_warehouse()):
        pass
    elapsed = time.monotonic() - started
    message = str(raised.value)
    assert message.startswith("Redshift at ") and "refused the login of user" in message
    assert "\n" not in message
    assert wrong not in "".join(traceback.format_exception(raised.value))
    assert not is_transient(raised.value)  # not retried: a task fails on the first attempt
    assert elapsed < 30, f"refusing the login took {elapsed:.1f} s"


# --- the run lock past a short SESSION TIMEOUT -----------------------------------------------

# ALTER USER ... SESSION TIMEOUT limit: "The maximum time in seconds that a session remains
# inactive or idle. The range is 60 seconds (one minute) to 1,728,000 seconds (20 days)."
# https://docs.aws.amazon.com/redshift/latest/dg/r_ALTER_USER.html
SESSION_TIMEOUT_S = 60
HOLD_S = 90  # past the timeout, idle between heartbeats
HEARTBEAT_S = 20
_USER_NAME = re.compile(r"[a-z_][a-z0-9_]{0,126}")


@pytest.fixture
def lock_user_target(live_target) -> Iterator[WarehouseTarget]:
    """`redshift:env` logged in as SPARKIFY_LIVE_LOCK_USER, whose SESSION TIMEOUT is 60 s for
    the test (reset afterwards); it may use the lock table, which the connecting user makes."""
    user, password = ENV.get("SPARKIFY_LIVE_LOCK_USER"), ENV.get("SPARKIFY_LIVE_LOCK_PASSWORD")
    if not (user and password):
        pytest.skip(
            "destructive: set SPARKIFY_LIVE_LOCK_USER and SPARKIFY_LIVE_LOCK_PASSWORD to a "
            "throwaway user this test may ALTER (session timeout 60)"
        )
    if not _USER_NAME.fullmatch(user):
        pytest.fail(f"SPARKIFY_LIVE_LOCK_USER {user!r} is not a plain lower-case user name")
    if not ENV.get("SPARKIFY_REDSHIFT_HOST"):
        pytest.skip("the lock user logs in with a password at SPARKIFY_REDSHIFT_HOST: set it")
    with connect(live_target) as admin:
        admin.run("ddl/schema_meta")
        admin.run(LOCK_TABLE_DDL)
        admin.execute(f"grant usage on schema sparkify_meta to {user}")
        admin.execute(f"grant all on {LOCK_TABLE} to {user}")
        admin.execute(f"alter user {user} session timeout {SESSION_TIMEOUT_S}")
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("SPARKIFY_REDSHIFT_USER", user)
            patch.setenv("SPARKIFY_REDSHIFT_PASSWORD", password)
            patch.setenv("SPARKIFY_REDSHIFT_IAM", "false")
            for name in ("DB_USER", "PROFILE", "CLUSTER_IDENTIFIER", "SERVERLESS_WORK_GROUP"):
                patch.delenv(f"SPARKIFY_REDSHIFT_{name}", raising=False)
            yield live_warehouse()
    finally:
        with connect(live_target) as admin:
            admin.execute(f"alter user {user} reset session timeout")


@pytest.mark.timeout(HOLD_S * 3)
def test_the_heartbeat_keeps_the_run_lock_past_a_short_session_timeout(lock_user_target):
    with run_lock(lock_user_target, heartbeat_seconds=HEARTBEAT_S) as lock:
        time.sleep(HOLD_S)
        lock.check()  # passes: the heartbeat's `select 1` kept the session from idling out
        assert lock.lost is None


@pytest.mark.timeout(HOLD_S * 3)
def test_without_a_heartbeat_the_session_timeout_ends_the_lock_and_check_says_so(
    lock_user_target,
) -> None:
    unprotected = pytest.raises(WarehouseError, match="the run went on without it")
    with unprotected, run_lock(lock_user_target, heartbeat_seconds=MAX_LOCK_HEARTBEAT_S) as lock:
        time.sleep(HOLD_S)  # no heartbeat before 1,800 s: idle past the 60 s timeout
        with pytest.raises(WarehouseError, match="the run lock's session ended") as lost:
            lock.check()
        assert "\n" not in str(lost.value)
    # the server ended the session, so it released the lock: the next run takes it at once
    started = time.monotonic()
    with run_lock(lock_user_target, heartbeat_seconds=HEARTBEAT_S) as lock:
        lock.check()
    assert time.monotonic() - started < 30
