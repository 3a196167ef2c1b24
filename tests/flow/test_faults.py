"""Faults to survive, each against real components: S3 failing or dying mid-staging (moto behind a
faulty proxy), the warehouse connection dropping mid-load (a backend terminated on the Redshift
rig, a process killed on DuckDB), two runs at once, a full disk and a read-only warehouse."""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest
from prefect import flow
from prefect.settings import PREFECT_API_URL

import tasks.lake.s3
from flows.sparkify_etl import main, sparkify_etl
from tasks.build import build_table
from tasks.common.errors import LakeError
from tasks.common.results import StageResult
from tasks.common.retry import is_transient
from tasks.common.run_spec import RunSpec
from tasks.common.sql_files import render
from tasks.create_schema import create_schema
from tasks.lake import open_lake
from tasks.lake.files import LakeSource
from tasks.lake.listing import list_log_files
from tasks.model.tables import DIMENSIONS, FACT, MARTS
from tasks.publish import publish
from tasks.sample_lake import generate_lake
from tasks.stage import stage_events, stage_songs
from tasks.warehouse.connect import connect, run_lock
from tasks.warehouse.redshift.session import Fault, WarehouseUnavailable, classify
from tasks.warehouse.target import WarehouseTarget
from tests.conftest import SMALL_LAKE
from tests.factories import prepared_run
from tests.helpers import assert_tables_equal, published_tables, query
from tests.redshift_rig import (
    RigEndpoint,
    reset_rig_warehouse,
    rig_env,
    terminate_backend_blocked_on,
)
from tests.reference import star_schema
from tests.s3_server import FaultyS3Proxy, upload_lake

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_server")]

PROJECT = Path(__file__).resolve().parents[2]
BUCKET = "sparkify-faults"
BOTO_ATTEMPTS = 3
DROPPED_DAY = "2018-11-04"  # the previous run's lake lacks this day, so the tables differ


@pytest.fixture(scope="module")
def previous_lake(small_lake: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The lake as it was one run ago: the small lake without its last day (a subset of it)."""
    lake = Path(shutil.copytree(small_lake, tmp_path_factory.mktemp("previous") / "lake"))
    next((lake / "log_data").rglob(f"{DROPPED_DAY}-events.json")).unlink()
    return lake


@pytest.fixture(scope="module")
def previous_warehouse(previous_lake: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DuckDB warehouse a clean run of the previous lake published (tests copy it)."""
    warehouse = tmp_path_factory.mktemp("previous-warehouse") / "w.duckdb"
    sparkify_etl(source=str(previous_lake), warehouse=str(warehouse))
    assert not Path(f"{warehouse}.wal").exists()  # checkpointed: the file alone is the warehouse
    return warehouse


def _copy_warehouse(warehouse: Path, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(warehouse, directory / "w.duckdb"))


def _history(warehouse: Path) -> int:
    return query(warehouse, "select count(*) from sparkify_meta.load_history")[0][0]


def _tables_in(warehouse: Path, schema: str) -> list[tuple]:
    sql = f"select table_name from information_schema.tables where table_schema = '{schema}'"
    return sorted(query(warehouse, sql))


def _error_lines(stderr: str) -> list[str]:
    """The CLI's own lines (Prefect's run logs share stderr and carry the trace)."""
    return [line for line in stderr.splitlines() if line.startswith("error: ")]


# --- 1. S3 fails or dies mid-staging ------------------------------------------------------


@pytest.fixture(scope="module")
def faults_bucket(s3_endpoint: str, small_lake: Path) -> str:
    upload_lake(s3_endpoint, small_lake, BUCKET, "lake")
    return f"s3://{BUCKET}/lake"


@pytest.fixture
def proxy(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultyS3Proxy]:
    """The faulty network, with the standard AWS environment pointing boto3 through it.

    botocore makes 3 attempts here instead of production's 5 (same mode, same backoff with
    jitter), so that exhausting them costs about 1.5 s rather than 7.5 s.
    """
    retries = {**tasks.lake.s3.CLIENT_CONFIG["retries"], "total_max_attempts": BOTO_ATTEMPTS}
    monkeypatch.setitem(tasks.lake.s3.CLIENT_CONFIG, "retries", retries)
    with FaultyS3Proxy(s3_endpoint) as faulty:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", faulty.endpoint)
        yield faulty


def _object(kind: str, lake: Path, index: int) -> str:
    prefix = "song_data" if kind == "songs" else "log_data"
    return sorted(p.relative_to(lake).as_posix() for p in (lake / prefix).rglob("*.json"))[index]


def test_transient_s3_errors_are_retried_by_botocore_then_by_the_task(
    faults_bucket, proxy, small_lake, tmp_path
) -> None:
    slow, reset = _object("songs", small_lake, 3), _object("songs", small_lake, 7)
    failing, cut = _object("events", small_lake, 1), _object("events", small_lake, 2)
    proxy.fail(slow, 503, 503)  # SlowDown twice: botocore backs off and succeeds
    proxy.fail(reset, "reset", "reset")  # connection reset twice: botocore again
    proxy.fail(failing, *[500] * BOTO_ATTEMPTS)  # every botocore attempt fails: the task retries
    proxy.fail(cut, "truncate")  # body cut off: botocore cannot retry, the task does

    sparkify_etl(source=faults_bucket, warehouse=str(tmp_path / "w.duckdb"))

    assert_tables_equal(published_tables(tmp_path / "w.duckdb"), star_schema(small_lake))
    gets = {key.removeprefix("lake/"): count for key, count in proxy.gets.items()}
    assert (gets[slow], gets[reset]) == (3, 3)
    assert (gets[failing], gets[cut]) == (BOTO_ATTEMPTS + 1, 1 + 1)
    songs = {k: n for k, n in gets.items() if k.startswith("song_data/") and k not in (slow, reset)}
    assert set(songs.values()) == {1}  # song staging never needed its task retry
    logs = {k: n for k, n in gets.items() if k.startswith("log_data/") and k not in (failing, cut)}
    assert logs and set(logs.values()) == {2}  # the events task ran twice, reading every file


def test_an_s3_endpoint_that_dies_mid_staging_and_comes_back_is_survived(
    faults_bucket, proxy, small_lake, tmp_path
) -> None:
    proxy.outage(after=60, seconds=2.0)  # 60 objects in, every connection drops for 2 s
    sparkify_etl(source=faults_bucket, warehouse=str(tmp_path / "w.duckdb"))
    assert proxy.dropped > 0
    assert_tables_equal(published_tables(tmp_path / "w.duckdb"), star_schema(small_lake))


def test_an_object_that_keeps_failing_fails_the_run_in_one_line_and_changes_nothing(
    faults_bucket, proxy, previous_warehouse, small_lake, tmp_path, capsys, monkeypatch
) -> None:
    warehouse = _copy_warehouse(previous_warehouse, tmp_path)
    before = published_tables(warehouse)
    staged = query(warehouse, "select count(*) from sparkify_staging.events")
    monkeypatch.setattr(stage_events, "retry_delay_seconds", [0.1, 0.1, 0.1])  # not 2, 4, 8 s
    broken = _object("events", small_lake, 2)
    proxy.fail(broken, *[500] * 100)

    code = main(["--source", faults_bucket, "--warehouse", str(warehouse)])

    assert code == 1
    assert _error_lines(capsys.readouterr().err) == [
        f"error: LakeUnavailable: S3 keeps failing for s3://{BUCKET}/lake/{broken} (InternalError)"
    ]
    # every botocore attempt of every task attempt (the first and its 3 retries) reached S3
    assert proxy.gets[f"lake/{broken}"] == BOTO_ATTEMPTS * 4
    assert published_tables(warehouse) == before
    assert query(warehouse, "select count(*) from sparkify_staging.events") == staged
    assert _history(warehouse) == 1


def test_missing_aws_credentials_are_a_configuration_error_not_retried(
    faults_bucket, monkeypatch, tmp_path
) -> None:
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    with pytest.raises(LakeError, match=r"^no usable AWS credentials to read s3://") as raised:
        list_log_files(open_lake(faults_bucket))
    assert not is_transient(raised.value)


# --- 2. the warehouse connection drops mid-load -------------------------------------------


@pytest.fixture
def rig_target(redshift_rig: RigEndpoint, monkeypatch: pytest.MonkeyPatch) -> WarehouseTarget:
    """`redshift:env` pointing at the rig, with every schema the ETL owns dropped."""
    for key, value in rig_env(redshift_rig, timeout=30).items():
        monkeypatch.setenv(key, value)
    return reset_rig_warehouse()


# The statement publish sends to delete songplays on the rig, as rendered (SQL LIKE, so % ends it)
DELETE_SONGPLAYS = (
    render("publish/mart_replaced", "postgres", table="songplays", is_incremental=False) + "%"
)
INCOMING = ("events_incoming", "songs_incoming", "incoming_files", "quarantine_incoming")


def _stage_on_rig(lake: Path, rig_run: RunSpec, workdir: Path) -> dict[str, StageResult]:
    """Schema, then staging as COPY would leave it (the rig cannot COPY): staged by the
    embedded warehouse, its incoming rows inserted into the rig's incoming tables."""
    create_schema.fn(rig_run)
    duck = prepared_run(lake, workdir / f"staging-{uuid.uuid4().hex[:8]}.duckdb")
    staged = {"events": stage_events.fn(duck), "songs": stage_songs.fn(duck)}
    with connect(duck.warehouse) as source, connect(rig_run.warehouse) as rig:
        for table in INCOMING:
            rig.execute(f"delete from sparkify_staging.{table}")
            rows = source.query(f"select * from sparkify_staging.{table}")
            for start in range(
                0, len(rows), 500
            ):  # multi-row INSERTs: a row per round trip is slow
                chunk = rows[start : start + 500]
                values = ", ".join(["(" + ", ".join(["%s"] * len(rows[0])) + ")"] * len(chunk))
                cursor = rig._conn.cursor()
                cursor.execute(
                    f"insert into sparkify_staging.{table} values {values}",
                    [value for row in chunk for value in row],
                )
                cursor.close()
    return staged


def _rig_published(target: WarehouseTarget) -> dict[str, list[tuple]]:
    with connect(target) as wh:
        return {t: sorted(wh.query(f'select * from "{t}"')) for t in MARTS}


def _rig_counts(target: WarehouseTarget) -> tuple[int, int, int]:
    with connect(target) as wh:
        return (
            wh.count("sparkify_staging.events"),
            wh.count("sparkify_staging.quarantine"),
            wh.count("sparkify_meta.load_history"),
        )


def _publish_previous_lake(target: WarehouseTarget, lake: Path, workdir: Path) -> None:
    run = RunSpec(lake=LakeSource(str(lake)), warehouse=target)
    staged = _stage_on_rig(lake, run, workdir)
    for table in MARTS:
        build_table.fn(run, table)
    publish.fn(run, staged)
    assert _rig_published(target) == star_schema(lake)


def test_a_backend_killed_mid_publish_rolls_back_and_the_retried_publish_succeeds(
    rig_target, redshift_rig, previous_lake, small_lake, tmp_path
) -> None:
    _publish_previous_lake(rig_target, previous_lake, tmp_path)
    before, counts = _rig_published(rig_target), _rig_counts(rig_target)
    run = RunSpec(lake=LakeSource(str(small_lake)), warehouse=rig_target)
    staged = _stage_on_rig(small_lake, run, tmp_path)
    for table in MARTS:
        build_table.fn(run, table)

    # users, songs, artists and time are already replaced inside the transaction when the
    # backend dies waiting to delete songplays
    with (
        terminate_backend_blocked_on(redshift_rig, "songplays", DELETE_SONGPLAYS) as killer,
        pytest.raises(WarehouseUnavailable, match=r"^lost the Redshift connection: ") as raised,
    ):
        publish.fn(run, staged)
    assert killer.terminated and is_transient(raised.value)
    assert _rig_published(rig_target) == before
    assert _rig_counts(rig_target) == counts

    @flow
    def publish_with_retries() -> None:
        publish(run, staged)

    with terminate_backend_blocked_on(redshift_rig, "songplays", DELETE_SONGPLAYS) as killer:
        publish_with_retries()
    assert len(killer.terminated) == 1  # the first attempt died; Prefect retried the task
    assert _rig_published(rig_target) == star_schema(small_lake)


def test_a_backend_killed_while_a_mart_loads_is_retried_and_publishes_exact_rows(
    rig_target, redshift_rig, previous_lake, small_lake, tmp_path
) -> None:
    _publish_previous_lake(rig_target, previous_lake, tmp_path)
    before = _rig_published(rig_target)
    run = RunSpec(lake=LakeSource(str(small_lake)), warehouse=rig_target)
    staged = _stage_on_rig(small_lake, run, tmp_path)

    for table in DIMENSIONS:
        build_table.fn(run, table)

    @flow
    def build_fact_with_retries() -> None:
        build_table(run, FACT)

    # the build table is already dropped and recreated inside the transaction when the backend
    # dies waiting to read staging
    insert = 'insert into "sparkify_build"."songplays"%'
    with terminate_backend_blocked_on(
        redshift_rig, "sparkify_staging.events", insert, mode="access exclusive"
    ) as killer:
        build_fact_with_retries()
    assert len(killer.terminated) == 1
    assert _rig_published(rig_target) == before  # nothing published by building
    publish.fn(run, staged)
    assert _rig_published(rig_target) == star_schema(small_lake)


def test_a_statement_longer_than_the_connect_timeout_is_not_cut_off(
    rig_target, monkeypatch
) -> None:
    monkeypatch.setenv("SPARKIFY_REDSHIFT_TIMEOUT", "1")
    with connect(rig_target) as wh:
        started = time.monotonic()
        wh.query("select pg_sleep(2)")
        assert time.monotonic() - started >= 2
        sock = wh._conn._usock  # a dead peer is still noticed: by TCP keepalive, after 60 s idle
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 60


def test_a_dropped_connection_is_transient_and_a_wrong_statement_is_not() -> None:
    import redshift_connector

    terminated = {"S": "FATAL", "C": "57P01", "M": "terminating connection due to administrator"}
    assert classify(redshift_connector.ProgrammingError(terminated)) is Fault.LOST
    assert (
        classify(redshift_connector.InterfaceError("BrokenPipe: server socket closed"))
        is Fault.LOST
    )
    assert classify(BrokenPipeError(32, "Broken pipe")) is Fault.LOST
    syntax = {"S": "ERROR", "C": "42601", "M": 'syntax error at or near "selec"'}
    assert classify(redshift_connector.ProgrammingError(syntax)) is not Fault.LOST
    assert is_transient(WarehouseUnavailable("lost the Redshift connection: x"))


# sitecustomize for `python -m flows.sparkify_etl` subprocesses: records each warehouse session
# (pid, opened, closed) and can SIGKILL the process right after a named statement ran.
HOOKS = textwrap.dedent(
    """
    import json, os, signal, time
    from contextlib import contextmanager
    import tasks.warehouse.connect as warehouse

    _LOG = os.environ.get("SPARKIFY_TEST_SESSION_LOG")
    _KILL_AFTER = os.environ.get("SPARKIFY_TEST_KILL_AFTER")
    _connect, _execute = warehouse.connect, warehouse.Session.execute

    @contextmanager
    def connect(target):
        opened = time.time()
        try:
            with _connect(target) as session:
                yield session
        finally:
            if _LOG:
                with open(_LOG, "a") as log:
                    record = {"pid": os.getpid(), "opened": opened, "closed": time.time()}
                    log.write(json.dumps(record) + "\\n")

    def execute(self, sql, params=None, label="statement"):
        _execute(self, sql, params, label)
        if label == _KILL_AFTER:
            os.kill(os.getpid(), signal.SIGKILL)

    warehouse.connect, warehouse.Session.execute = connect, execute
    """
)


def _cli(
    lake: Path,
    warehouse: Path,
    hooks_dir: Path,
    preexec: Callable[[], None] | None = None,
    **hook_env: str,
) -> subprocess.Popen:
    """`python -m flows.sparkify_etl` in its own process, on the tests' Prefect server."""
    hooks_dir.mkdir(exist_ok=True)
    (hooks_dir / "sitecustomize.py").write_text(HOOKS)
    # the checkout too: sitecustomize imports tasks before `-m` puts the working directory on
    # sys.path, so without it the hooks would get whatever `tasks` the virtualenv installed
    path = os.pathsep.join([str(hooks_dir), str(PROJECT)])
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "PYTHONPATH": path}
    env.update({f"SPARKIFY_TEST_{key.upper()}": value for key, value in hook_env.items()})
    command = [sys.executable, "-m", "flows.sparkify_etl", "--source", str(lake),
               "--warehouse", str(warehouse)]  # fmt: skip
    return subprocess.Popen(
        command, cwd=PROJECT, env=env, text=True, preexec_fn=preexec,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


def test_a_run_killed_mid_publish_keeps_the_published_tables_and_the_next_run_completes(
    previous_warehouse, previous_lake, small_lake, tmp_path
) -> None:
    warehouse = _copy_warehouse(previous_warehouse, tmp_path / "wh")
    # killed inside the publishing transaction, users already deleted and reinserted
    killed = _cli(small_lake, warehouse, tmp_path / "hooks", kill_after="publish users: insert")
    killed.communicate(timeout=120)
    assert killed.returncode == -9  # died inside the transaction, after the named statement
    assert_tables_equal(published_tables(warehouse), star_schema(previous_lake))
    assert _history(warehouse) == 1
    sparkify_etl(source=str(small_lake), warehouse=str(warehouse))
    assert_tables_equal(published_tables(warehouse), star_schema(small_lake))
    assert _history(warehouse) == 2


# --- 3. two runs at once -------------------------------------------------------------------


def test_two_cli_runs_on_one_duckdb_file_take_turns_and_both_finish(small_lake, tmp_path):
    warehouse, log = tmp_path / "w.duckdb", tmp_path / "sessions.jsonl"
    runs = [_cli(small_lake, warehouse, tmp_path / "hooks", session_log=str(log)) for _ in "ab"]
    outputs = [run.communicate(timeout=180) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err[-2000:] for _, err in outputs]

    sessions = [json.loads(line) for line in log.read_text().splitlines()]
    spans = {}
    for s in sessions:
        first, last = spans.get(s["pid"], (s["opened"], s["closed"]))
        spans[s["pid"]] = (min(first, s["opened"]), max(last, s["closed"]))
    assert sorted(spans) == sorted(run.pid for run in runs)
    (_, first_ends), (second_starts, _) = sorted(spans.values())
    assert first_ends <= second_starts, "the runs interleaved their warehouse sessions"
    assert_tables_equal(published_tables(warehouse), star_schema(small_lake))
    assert _history(warehouse) == 2


def test_two_runs_on_the_redshift_rig_take_turns_and_both_finish(
    rig_target, small_lake, tmp_path
) -> None:
    spans: dict[str, tuple[float, float]] = {}
    errors: list[BaseException] = []

    def one_run(name: str) -> None:
        try:
            run = RunSpec(lake=LakeSource(str(small_lake)), warehouse=rig_target, run_id=name)
            with run_lock(rig_target):
                started = time.monotonic()
                staged = _stage_on_rig(small_lake, run, tmp_path)
                for table in MARTS:
                    build_table.fn(run, table)
                publish.fn(run, staged)
                spans[name] = (started, time.monotonic())
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=one_run, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert errors == []
    (_, first_ends), (second_starts, _) = sorted(spans.values())
    assert first_ends <= second_starts, "the runs interleaved"
    assert _rig_published(rig_target) == star_schema(small_lake)
    with connect(rig_target) as wh:
        assert sorted(wh.query("select run_id from sparkify_meta.load_history")) == [
            ("a",),
            ("b",),
        ]


# --- 4. a full disk, a read-only warehouse ---------------------------------------------------


@contextmanager
def _tmpfs(mount_point: Path, size_bytes: int) -> Iterator[Path]:
    """A small tmpfs at `mount_point` (root only); skips the test where it cannot be mounted."""
    mount_point.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_bytes}", "sparkify-test", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip() or 'mount failed'}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=False)


def _file_size_limit(limit: int) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _assert_previous_warehouse_intact(warehouse: Path, previous_lake: Path) -> None:
    assert_tables_equal(published_tables(warehouse), star_schema(previous_lake))
    assert _tables_in(warehouse, "main") == sorted((t,) for t in MARTS)
    assert _history(warehouse) == 1


@pytest.fixture(scope="module")
def bigger_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ten times the small lake's events: more than the previous warehouse's free blocks hold."""
    lake = tmp_path_factory.mktemp("bigger") / "lake"
    generate_lake(lake, replace(SMALL_LAKE, events=SMALL_LAKE.events * 10))
    return lake


@pytest.mark.parametrize("how", ["tmpfs", "rlimit"])
def test_a_full_disk_fails_in_one_line_and_leaves_the_previous_warehouse_intact(
    previous_warehouse, previous_lake, bigger_lake, tmp_path, how
) -> None:
    size = previous_warehouse.stat().st_size
    with _disk(how, tmp_path / "disk", size) as (directory, preexec, reason):
        warehouse = _copy_warehouse(previous_warehouse, directory)
        run = _cli(bigger_lake, warehouse, tmp_path / "hooks", preexec=preexec)
        _, stderr = run.communicate(timeout=120)
        assert run.returncode == 1, stderr[-3000:]
        errors = _error_lines(stderr)
        assert len(errors) == 1 and stderr.rstrip().endswith(errors[0]), stderr[-3000:]
        assert errors[0].startswith(f"error: cannot write warehouse {warehouse}: ")
        assert errors[0].endswith(reason)
        # what is on the full disk still opens, and holds exactly the previous tables
        kept = _copy_warehouse(warehouse, tmp_path / "kept")
        if Path(f"{warehouse}.wal").exists():
            shutil.copy(f"{warehouse}.wal", f"{kept}.wal")
    _assert_previous_warehouse_intact(kept, previous_lake)
    with duckdb.connect(str(kept)) as conn:  # and opens for writing: nothing to recover
        assert conn.execute("select count(*) from users").fetchone()[0] > 0


@contextmanager
def _disk(how: str, directory: Path, warehouse_size: int) -> Iterator[tuple]:
    """A place to put the warehouse where it cannot grow by more than a little."""
    headroom = 512 * 1024
    if how == "tmpfs":
        with _tmpfs(directory, warehouse_size + headroom) as mounted:
            yield mounted, None, "No space left on device"
    else:
        directory.mkdir(parents=True)
        yield directory, _file_size_limit(warehouse_size + headroom), "File too large"


def test_a_read_only_warehouse_fails_in_one_line_and_is_left_untouched(
    previous_warehouse, previous_lake, small_lake, tmp_path
) -> None:
    directory = tmp_path / "ro"
    with _read_only(directory, previous_warehouse) as warehouse:
        digest = _digest(warehouse)
        run = _cli(small_lake, warehouse, tmp_path / "hooks")
        _, stderr = run.communicate(timeout=120)
        assert run.returncode == 1
        assert _error_lines(stderr) == [
            f"error: cannot lock warehouse {warehouse}: "
            f"{'Read-only file system' if os.geteuid() == 0 else 'Permission denied'}"
        ]
        assert _digest(warehouse) == digest
        assert sorted(p.name for p in directory.iterdir()) == ["w.duckdb"]
        _assert_previous_warehouse_intact(warehouse, previous_lake)


@contextmanager
def _read_only(directory: Path, warehouse: Path) -> Iterator[Path]:
    """The warehouse in a directory nobody may write: by permissions, or (as root, whom
    permissions do not stop) on a tmpfs remounted read-only."""
    if os.geteuid() != 0:
        copy = _copy_warehouse(warehouse, directory)
        directory.chmod(0o555)
        try:
            yield copy
        finally:
            directory.chmod(0o755)
        return
    with _tmpfs(directory, warehouse.stat().st_size + 1024 * 1024):
        copy = _copy_warehouse(warehouse, directory)
        remount = ["mount", "-o", "remount,ro", str(directory)]
        if subprocess.run(remount, capture_output=True).returncode != 0:
            pytest.skip("running as root, and cannot remount a tmpfs read-only here")
        yield copy


# --- 5. the time limit (or a cancel) lands before the schema exists --------------------------


def test_a_time_limit_reached_before_the_schema_exists_still_ends_the_run_timed_out(
    small_lake, tmp_path, monkeypatch
) -> None:
    """The stop's cleanup has nothing to read yet (no schema in a new warehouse): it is logged,
    not raised, so the run ends TimedOut, not Failed on a catalog error; the next run loads."""
    import flows.sparkify_etl

    real = flows.sparkify_etl.create_schema

    def slow_create_schema(run: RunSpec) -> None:
        time.sleep(3)  # the limit below passes here
        real(run)

    monkeypatch.setattr(flows.sparkify_etl, "create_schema", slow_create_schema)
    warehouse = tmp_path / "w.duckdb"
    limited = sparkify_etl.with_options(timeout_seconds=0.5)
    state = limited(source=str(small_lake), warehouse=str(warehouse), return_state=True)
    assert (state.type.value, state.name) == ("FAILED", "TimedOut"), state.message
    assert state.message == "Flow run exceeded timeout of 0.5 second(s)"
    monkeypatch.undo()
    sparkify_etl(source=str(small_lake), warehouse=str(warehouse))
    assert_tables_equal(published_tables(warehouse), star_schema(small_lake))
