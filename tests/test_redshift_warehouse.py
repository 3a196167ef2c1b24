"""The Redshift warehouse: its SQL, its COPY statements, and its code path through the real
redshift_connector driver (PostgreSQL 16 behind PgBouncer stands in for the cluster; COPY is
the one step it cannot run). A live test runs when SPARKIFY_REDSHIFT_* variables are set."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from datetime import date
from pathlib import Path

import pytest
import redshift_connector
import sqlglot

from flows.sparkify_etl import sparkify_etl
from tasks.checks import check_table
from tasks.errors import WarehouseError
from tasks.lake import LakeFile, LakeSource, list_log_files, list_song_files, open_lake
from tasks.marts import MARTS, build_table
from tasks.publish import publish
from tasks.redshift import RedshiftWarehouse, WarehouseUnavailable
from tasks.redshift_copy import (
    EVENT_JSONPATHS,
    UnsafeLiteral,
    compact_songs,
    copy_statement,
    manifest,
    max_errors,
)
from tasks.run_spec import RunSpec
from tasks.schema import create_schema
from tasks.scope import scope_changes
from tasks.staging import StageResult, stage_events, stage_songs
from tasks.staging_redshift import URI_KINDS, stage_with_copy
from tasks.warehouse import Session, WarehouseTarget, connect, run_lock
from tests.conftest import UDACITY_SAMPLE
from tests.factories import prepared_run
from tests.redshift_rig import reset_rig_warehouse, rig_env
from tests.reference import star_schema
from tests.s3_server import free_port

ROLE = "arn:aws:iam::123456789012:role/sparkify-copy"
COPY_VALUES = {
    "manifest_uri": "s3://sparkify-staging/etl/runs/r1/events-00000.manifest",
    "jsonpaths_uri": "s3://sparkify-staging/etl/runs/r1/log_json_path.json",
    "iam_role": ROLE,
    "region": "us-west-2",
    "max_errors": 12,
}


def test_the_events_copy_is_pinned_and_parses_as_redshift() -> None:
    text = copy_statement("staging/copy_events", COPY_VALUES, URI_KINDS)
    assert text.splitlines()[1:] == [
        "copy sparkify_staging.events_copy",
        "from 's3://sparkify-staging/etl/runs/r1/events-00000.manifest'",
        "iam_role 'arn:aws:iam::123456789012:role/sparkify-copy'",
        "format as json 's3://sparkify-staging/etl/runs/r1/log_json_path.json'",
        "manifest",
        "region 'us-west-2'",
        "compupdate off",
        "statupdate off",
        "maxerror 12",
    ]
    assert sqlglot.parse_one(text, read="redshift") is not None


def test_the_songs_copy_uses_json_auto_and_the_manifest() -> None:
    values = {k: v for k, v in COPY_VALUES.items() if k != "jsonpaths_uri"}
    text = copy_statement("staging/copy_songs", values, URI_KINDS)
    assert "format as json 'auto'\nmanifest\nregion 'us-west-2'" in text
    assert "copy sparkify_staging.songs_incoming\n" in text


@pytest.mark.parametrize(
    ("key", "hostile"),
    [
        ("manifest_uri", "s3://bucket/x'; drop table users; --"),
        ("manifest_uri", "https://evil.example/manifest"),
        ("iam_role", "arn:aws:iam::123456789012:role/x' credentials 'aws_access_key_id=AKIA"),
        ("region", "us-west-2' maxerror 100000 --"),
        ("max_errors", "12; drop table users"),
    ],
)
def test_hostile_values_never_reach_a_copy_statement(key, hostile) -> None:
    with pytest.raises(UnsafeLiteral):
        copy_statement("staging/copy_events", {**COPY_VALUES, key: hostile}, URI_KINDS)


def test_the_jsonpaths_file_matches_the_one_sparkify_publishes() -> None:
    published = UDACITY_SAMPLE.parent / "udacity_sample" / "log_json_path.json"
    if not published.is_file():
        pytest.skip(f"{published} not found")
    assert json.loads(published.read_text()) == EVENT_JSONPATHS


def test_manifests_name_exact_objects_and_maxerror_follows_the_threshold() -> None:
    files = [LakeFile("log_data/2018/11/2018-11-01-events.json", 30_000)]
    assert manifest("lake", "prefix", files) == {
        "entries": [{"url": "s3://lake/prefix/log_data/2018/11/2018-11-01-events.json",
                     "mandatory": True, "meta": {"content_length": 30_000}}]
    }  # fmt: skip
    assert max_errors(0.01, files) == 1
    assert max_errors(0.01, [LakeFile("big", 3_000_000_000)]) == 100_000


def test_compaction_keeps_every_song_with_its_source_file(small_lake) -> None:
    lake = open_lake(str(small_lake))
    files = list_song_files(lake)
    parts: list[bytes] = []
    rejects = compact_songs(lake, files, parts.append)
    records = [json.loads(line) for part in parts for line in part.decode().splitlines()]
    assert rejects == []
    assert sorted(r["source_file"] for r in records) == sorted(f.key for f in files)
    first = records[0]
    original = json.loads((small_lake / first["source_file"]).read_text())
    assert {k: v for k, v in first.items() if k != "source_file"} == original


def test_block_settings_build_driver_arguments_without_leaking_the_password() -> None:
    block = RedshiftWarehouse(host="h", user="u", password="s3cret", ssl=False)
    assert block.connect_kwargs()["password"] == "s3cret"
    assert "s3cret" not in repr(block) and "s3cret" not in str(block.model_dump())


# --- through the real driver, on the rig -------------------------------------------------


@pytest.fixture
def rig_target(redshift_rig, monkeypatch) -> WarehouseTarget:
    for key, value in rig_env(redshift_rig).items():
        monkeypatch.setenv(key, value)
    return reset_rig_warehouse()


def _load_staging_like_copy(duckdb_run: RunSpec, rig_run: RunSpec) -> dict[str, StageResult]:
    """Stage with the embedded warehouse, then load its incoming rows into the rig's tables,
    standing in for the COPY the rig cannot run."""
    staged = {"events": stage_events.fn(duckdb_run), "songs": stage_songs.fn(duckdb_run)}
    tables = ("events_incoming", "songs_incoming", "incoming_files", "quarantine_incoming")
    with connect(duckdb_run.warehouse) as source, connect(rig_run.warehouse) as rig:
        for table in tables:
            rows = source.query(f"select * from sparkify_staging.{table}")
            if rows:
                marks = ", ".join(["%s"] * len(rows[0]))
                cursor = rig._conn.cursor()
                cursor.executemany(f"insert into sparkify_staging.{table} values ({marks})", rows)
                cursor.close()
    return staged


def _built_on_rig(target: WarehouseTarget, lake: Path, tmp_path: Path) -> tuple[RunSpec, dict]:
    """Schema, staging (loaded as COPY would) and every built table, on the rig."""
    rig_run = RunSpec(lake=LakeSource(str(lake)), warehouse=target)
    create_schema.fn(rig_run)
    staged = _load_staging_like_copy(prepared_run(lake, tmp_path / "w.duckdb"), rig_run)
    for table in MARTS:
        build_table.fn(rig_run, table)
    return rig_run, staged


def _published(target: WarehouseTarget) -> dict[str, list[tuple]]:
    with connect(target) as wh:
        return {t: sorted(wh.query(f'select * from "{t}"')) for t in MARTS}


def test_the_transform_checks_and_publish_run_through_redshift_connector(
    rig_target, small_lake, tmp_path
) -> None:
    rig_run, staged = _built_on_rig(rig_target, small_lake, tmp_path)
    results = [r for table in MARTS for r in check_table.fn(rig_run, table)]
    assert results and all(r.passed for r in results), [r for r in results if not r.passed]
    published = publish.fn(rig_run, staged)
    expected = star_schema(small_lake)
    assert published.rows_after == {t: len(rows) for t, rows in expected.items()}
    assert _published(rig_target) == {t: sorted(rows) for t, rows in expected.items()}
    with connect(rig_target) as wh:
        assert wh.count("sparkify_staging.events") == staged["events"].accepted
        assert wh.count("sparkify_staging.events_incoming") == 0
        assert wh.count("sparkify_meta.load_history") == 1
    publish.fn(rig_run, staged)  # a retried publish (its first COMMIT may have landed)
    assert _published(rig_target) == {t: sorted(rows) for t, rows in expected.items()}
    with connect(rig_target) as wh:
        assert wh.count("sparkify_meta.load_history") == 1


def test_a_failed_publish_rolls_back_and_keeps_the_published_tables(
    rig_target, small_lake, tmp_path
) -> None:
    rig_run, staged = _built_on_rig(rig_target, small_lake, tmp_path)
    publish.fn(rig_run, staged)
    before = _published(rig_target)
    with connect(rig_target) as wh:
        wh.execute("delete from sparkify_build.users")  # the next publish empties users …
        wh.execute('drop table sparkify_build."time"')  # … then fails on time
    with pytest.raises(redshift_connector.ProgrammingError):
        publish.fn(rig_run, staged)
    assert _published(rig_target) == before


def test_a_wrong_password_is_a_one_line_error_without_the_password(rig_target, monkeypatch):
    monkeypatch.setenv("SPARKIFY_REDSHIFT_PASSWORD", "not-the-password")
    with pytest.raises(WarehouseError) as raised, connect(rig_target):
        pass
    assert "refused the login of user etl_user" in str(raised.value)
    assert "not-the-password" not in str(raised.value)


def test_an_unreachable_warehouse_is_transient(monkeypatch) -> None:
    monkeypatch.setenv("SPARKIFY_REDSHIFT_HOST", "127.0.0.1")
    monkeypatch.setenv("SPARKIFY_REDSHIFT_PORT", str(free_port()))
    monkeypatch.setenv("SPARKIFY_REDSHIFT_SSL", "false")
    target = WarehouseTarget(engine="redshift", block="env", dialect="postgres")
    expected = r"^cannot reach Redshift at 127\.0\.0\.1:"
    with pytest.raises(WarehouseUnavailable, match=expected), connect(target):
        pass


LIVE = ("SPARKIFY_REDSHIFT_HOST", "SPARKIFY_LIVE_LAKE")


@pytest.mark.e2e
@pytest.mark.skipif(
    not all(os.environ.get(v) for v in LIVE),
    reason="live Redshift test: set SPARKIFY_REDSHIFT_* (host, user, password, copy_iam_role, "
    "region, staging_uri) and SPARKIFY_LIVE_LAKE=s3://… to run it against a real cluster",
)
@pytest.mark.usefixtures("prefect_server")
def test_live_cluster_loads_a_lake_from_s3() -> None:
    summary = sparkify_etl(source=os.environ["SPARKIFY_LIVE_LAKE"], warehouse="redshift:env")
    assert summary.published and summary.published.rows_after["songplays"] > 0
    assert all(check.passed for check in summary.checks)


class RecordingSession(Session):
    """Records what staging sends, for the COPY steps no local engine can run."""

    def __init__(self) -> None:
        super().__init__(conn=None, dialect="redshift")
        self.sent: list[tuple[str, dict]] = []

    def _execute(self, sql, params) -> None:
        self.sent.append((sql, dict(params or {})))


def test_redshift_staging_writes_manifests_and_copies_each_log_file(
    s3_endpoint, small_lake, monkeypatch
) -> None:
    from tests.s3_server import s3_client, upload_lake

    upload_lake(s3_endpoint, small_lake, "copy-lake", "lake")
    client = s3_client(s3_endpoint)
    client.create_bucket(Bucket="copy-staging")
    client.put_object(Bucket="copy-lake", Key="lake/log_data/2018/", Body=b"")  # folder marker
    client.put_object(Bucket="copy-lake", Key="lake/log_data/2018/11/README.txt", Body=b"notes")
    for key, value in {"HOST": "cluster.example", "COPY_IAM_ROLE": ROLE, "REGION": "us-west-2",
                       "STAGING_URI": "s3://copy-staging/etl"}.items():  # fmt: skip
        monkeypatch.setenv(f"SPARKIFY_REDSHIFT_{key}", value)
    target = WarehouseTarget(engine="redshift", block="env", dialect="redshift")
    run = RunSpec(lake=LakeSource("s3://copy-lake/lake"), warehouse=target, run_id="r1")
    lake = open_lake(run.lake)
    logs, songs = list_log_files(lake), list_song_files(lake)
    events_session, songs_session = RecordingSession(), RecordingSession()
    stage_with_copy(events_session, "events", run, lake, logs, run.run_id)
    stage_with_copy(songs_session, "songs", run, lake, songs, run.run_id)

    copies = [sql for sql, _ in events_session.sent if "\ncopy sparkify_staging.events_copy" in sql]
    assert len(copies) == len(logs)
    assert "log_data/2018/11/README.txt" not in {f.key for f in logs}  # skipped, not read
    errors = [p for sql, p in events_session.sent if "from stl_load_errors" in sql]
    assert len(errors) == len(copies)
    quarantined = [
        sql for sql, _ in events_session.sent if "copy sparkify_staging.quarantine" in sql
    ]
    assert quarantined == []
    for sql, _ in events_session.sent + songs_session.sent:
        assert sqlglot.parse_one(sql, read="redshift") is not None
    listed = client.list_objects_v2(Bucket="copy-staging", Prefix="etl/runs/r1/")["Contents"]
    names = sorted(obj["Key"].rsplit("/", 1)[-1] for obj in listed)
    assert "log_json_path.json" in names and "songs.manifest" in names
    body = client.get_object(Bucket="copy-staging", Key="etl/runs/r1/events-00000.manifest")["Body"]
    first = json.loads(body.read())
    assert first["entries"] == [{"url": f"s3://copy-lake/lake/{logs[0].key}", "mandatory": True,
                                 "meta": {"content_length": logs[0].size}}]  # fmt: skip
    repair = [p for sql, p in events_session.sent if "f_repair_mojibake" in sql]
    assert [p["source_file"] for p in repair] == [f.key for f in logs if not f.problem]


def test_the_repair_lambda_answers_redshifts_batch_protocol() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "repair_lambda",
        Path(__file__).resolve().parents[1] / "deployments/redshift/repair_mojibake_lambda.py",
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    answer = module.handler({"arguments": [["Bj\u00c3\u0083\u00c2\u00b6rk"], [None], ["plain"]]})
    assert answer == {"success": True, "num_records": 3, "results": ["Björk", None, "plain"]}
    assert module.handler({"arguments": [[]]})["success"] is False


def test_a_second_run_on_redshift_waits_for_the_run_lock(rig_target) -> None:
    held = threading.Event()

    def first() -> None:
        with run_lock(rig_target):
            held.set()
            time.sleep(1.5)

    thread = threading.Thread(target=first)
    thread.start()
    held.wait(timeout=30)
    started = time.monotonic()
    with run_lock(rig_target):
        waited = time.monotonic() - started
    thread.join()
    assert waited >= 1.0


def test_a_daily_run_upserts_the_changed_keys_through_redshift_connector(
    rig_target, small_lake, tmp_path
) -> None:
    rig_run, staged = _built_on_rig(rig_target, small_lake, tmp_path)
    publish.fn(rig_run, staged)
    lake = Path(shutil.copytree(small_lake, tmp_path / "lake"))
    day = date(2018, 11, 2)
    log = lake / "log_data" / "2018" / "11" / f"{day.isoformat()}-events.json"
    log.write_text("\n".join(log.read_text().splitlines()[::2]) + "\n")  # half the day's events

    daily = RunSpec(lake=LakeSource(str(lake)), warehouse=rig_target, day=day)
    staged = _load_staging_like_copy(prepared_run(lake, tmp_path / "d.duckdb", day=day), daily)
    scope_changes.fn(daily)
    for table in MARTS:
        build_table.fn(daily, table)
    results = [r for table in MARTS for r in check_table.fn(daily, table)]
    assert results and all(r.passed for r in results), [r for r in results if not r.passed]
    publish.fn(daily, staged)
    expected = star_schema(lake)
    assert _published(rig_target) == {t: sorted(rows) for t, rows in expected.items()}
    with connect(rig_target) as wh:
        assert 0 < wh.count("sparkify_build.songplays") < len(expected["songplays"])
