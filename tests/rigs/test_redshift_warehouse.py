"""The Redshift warehouse's code path through the real redshift_connector driver (PostgreSQL 16
behind PgBouncer stands in for the cluster; its COPY is carried out from the real parts by
tests/parquet_copy.py). Its COPY statements and Parquet parts, without a server, are
tests/warehouse/test_redshift_copy.py. A live test runs when SPARKIFY_REDSHIFT_* variables are
set."""

from __future__ import annotations

import shutil
import threading
import time
from contextlib import suppress
from datetime import date
from pathlib import Path

import boto3
import pytest
import redshift_connector

from tasks.build import build_table
from tasks.check import check_table
from tasks.common.errors import EtlError, LakeError, WarehouseError
from tasks.common.results import StageResult
from tasks.common.run_spec import RunSpec
from tasks.create_schema import create_schema
from tasks.lake.files import LakeSource
from tasks.model.tables import MARTS
from tasks.publish import publish
from tasks.sample_lake import LakeSpec, generate_lake
from tasks.scope import scope_changes
from tasks.stage import stage_events, stage_songs
from tasks.warehouse.connect import connect, run_lock
from tasks.warehouse.target import WarehouseTarget
from tests.factories import make_dirty, prepared_run
from tests.parquet_copy import emulated_parquet_copy, statement_body
from tests.redshift_rig import reset_rig_warehouse, rig_env
from tests.reference import star_schema
from tests.warehouse.test_redshift_copy import ROLE

STAGING_BUCKET = "sparkify-rig-staging"


@pytest.fixture
def rig_target(redshift_rig, s3_endpoint, monkeypatch) -> WarehouseTarget:
    for key, value in staging_env(redshift_rig).items():
        monkeypatch.setenv(key, value)
    return reset_rig_warehouse()


def staging_env(rig) -> dict[str, str]:
    """SPARKIFY_REDSHIFT_* for the rig with the COPY settings: parts go to the S3 server."""
    return rig_env(rig, COPY_IAM_ROLE=ROLE, STAGING_URI=f"s3://{STAGING_BUCKET}/etl")


def stage_on_rig(run: RunSpec) -> dict[str, StageResult]:
    """Both staging tasks, the real Redshift path: staged on the worker, Parquet parts written
    to the S3 server, each COPY carried out on the rig from them (tests/parquet_copy.py)."""
    client = boto3.client("s3")
    with suppress(client.exceptions.BucketAlreadyOwnedByYou):
        client.create_bucket(Bucket=STAGING_BUCKET)
    with pytest.MonkeyPatch.context() as patch, emulated_parquet_copy(patch) as copies:
        staged = {"events": stage_events.fn(run), "songs": stage_songs.fn(run)}
    assert copies, "staging sent no COPY"
    return staged


def _built_on_rig(target: WarehouseTarget, lake: Path, tmp_path: Path) -> tuple[RunSpec, dict]:
    """Schema, staging and every built table, on the rig."""
    rig_run = RunSpec(lake=LakeSource(str(lake)), warehouse=target)
    create_schema.fn(rig_run)
    staged = stage_on_rig(rig_run)
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


STAGED = {
    "events_incoming": "source_file, line_number",
    "songs_incoming": "source_file, line_number, song_id",
    "quarantine_incoming": "kind, source_file, line_number, reason",
    "incoming_files": "kind, source_file, etag",
}


def _staged_rows(target: WarehouseTarget) -> dict[str, list[tuple]]:
    with connect(target) as wh:
        return {
            table: sorted(
                wh.query(f"select * from sparkify_staging.{table} order by {order}"), key=repr
            )
            for table, order in STAGED.items()
        }


def test_redshift_stages_the_same_rows_as_duckdb_from_an_s3_lake(
    rig_target, s3_endpoint, tmp_path, monkeypatch
) -> None:
    """One definition of a record: the cluster loads, from the Parquet parts, exactly the rows
    DuckDB stages from the same lake (a dirty one: every class of bad input the generator
    writes), and leaves no parts behind once the load commits."""
    from tests.s3_server import s3_client, upload_lake

    lake_dir = tmp_path / "lake"
    generate_lake(lake_dir, LakeSpec(songs=60, events=1500, days=3, users=20, seed=11))
    make_dirty(lake_dir)
    (lake_dir / "log_data" / "2018" / "11" / "README.txt").write_text("notes")
    upload_lake(s3_endpoint, lake_dir, "rig-lake", "lake")
    s3_client(s3_endpoint).put_object(Bucket="rig-lake", Key="lake/log_data/2018/", Body=b"")
    rig_run = RunSpec(lake=LakeSource("s3://rig-lake/lake"), warehouse=rig_target, run_id="r1")
    create_schema.fn(rig_run)
    monkeypatch.setenv("SPARKIFY_REDSHIFT_STAGING_URI", "s3://rig-staging-new/etl")
    with pytest.raises(LakeError, match=r"^bucket rig-staging-new does not exist"):
        stage_events.fn(rig_run)  # a one-line error, before anything reaches the cluster
    s3_client(s3_endpoint).create_bucket(Bucket="rig-staging-new")
    with pytest.MonkeyPatch.context() as patch, emulated_parquet_copy(patch) as copies:
        staged = {"events": stage_events.fn(rig_run), "songs": stage_songs.fn(rig_run)}
    duckdb_run = prepared_run(lake_dir, tmp_path / "w.duckdb")
    expected = {"events": stage_events.fn(duckdb_run), "songs": stage_songs.fn(duckdb_run)}

    on_rig, on_duckdb = _staged_rows(rig_target), _staged_rows(duckdb_run.warehouse)
    versions = on_rig.pop("incoming_files"), on_duckdb.pop("incoming_files")
    assert on_rig == on_duckdb
    # the same files, each with its version (an S3 ETag here, a file's mtime for the directory)
    rig_files, duckdb_files = ([(k, f, v is not None) for k, f, v in rows] for rows in versions)
    assert sorted(rig_files) == sorted(duckdb_files)
    for kind in staged:
        assert staged[kind].accepted == expected[kind].accepted > 0
        assert staged[kind].rejected == expected[kind].rejected
        assert staged[kind].rejected_by_reason == expected[kind].rejected_by_reason
    # the NUL line is an object (missing fields) and a malformed value after it: five rejects
    assert staged["events"].rejected == 5 and staged["songs"].rejected == 1
    with connect(rig_target) as wh:  # cut to the column's bytes, at a character boundary
        ((agent, location),) = wh.query(
            "select max(octet_length(user_agent)), max(octet_length(location)) "
            "from sparkify_staging.events_incoming where item_in_session > 90000"
        )
    assert (agent, location) == (1024, 1023)
    assert staged["events"].skipped == ["log_data/2018/11/README.txt"]
    copied = [statement_body(sql).splitlines()[0] for sql in copies]
    assert "copy sparkify_staging.events_incoming" in copied
    assert "copy sparkify_staging.songs_incoming" in copied
    left = s3_client(s3_endpoint).list_objects_v2(Bucket="rig-staging-new", Prefix="etl/runs/r1/")
    assert left.get("KeyCount", 0) == 0


def test_a_bad_block_fails_before_the_lake_is_read(rig_target, monkeypatch, small_lake) -> None:
    monkeypatch.delenv("SPARKIFY_REDSHIFT_STAGING_URI")
    run = RunSpec(lake=LakeSource(str(small_lake)), warehouse=rig_target)
    with pytest.raises(EtlError, match="needs copy_iam_role and staging_uri"):
        stage_events.fn(run)


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
    staged = stage_on_rig(daily)
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
