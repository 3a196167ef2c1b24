"""The lake in S3: a real S3 API on 127.0.0.1 (moto's server), reached through prefect-aws (the
flow on an S3 lake, through a temporary Prefect server: tests/flow/test_s3_lake_flow.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.sparkify_etl import main
from tasks.common.errors import LakeError
from tasks.lake import open_lake
from tasks.lake.files import LakeSource
from tasks.lake.listing import list_log_files, list_song_files
from tasks.lake.reading import read_batches
from tasks.lake.s3 import LakeUnavailable, S3Lake
from tests.helpers import write_log
from tests.s3_server import free_port, moto_server_with_auth, upload_lake


@pytest.fixture(scope="module")
def s3_lake(s3_endpoint: str, small_lake: Path) -> str:
    upload_lake(s3_endpoint, small_lake, "sparkify-lake", "udacity/2018")
    return "s3://sparkify-lake/udacity/2018"


def test_listing_pages_through_every_object(s3_lake, small_lake) -> None:
    lake = open_lake(s3_lake)
    assert isinstance(lake, S3Lake)
    lake.page_size = 7  # force many pages
    songs = list_song_files(lake)
    local = sorted(
        p.relative_to(small_lake).as_posix() for p in small_lake.rglob("song_data/**/*.json")
    )
    assert [f.key for f in songs] == local
    assert all(f.size > 0 and f.etag for f in songs)


def test_objects_are_read_concurrently_into_batches_with_their_keys(s3_lake, small_lake) -> None:
    lake = open_lake(s3_lake)
    files = list_log_files(lake)
    rows = [row for batch in read_batches(lake, files) for row in batch.content.to_pylist()]
    assert [r["source_file"] for r in rows] == [f.key for f in files]
    first = rows[0]
    assert first["content"] == (small_lake / first["source_file"]).read_text()


def test_an_object_deleted_after_listing_is_quarantined_not_fatal(
    s3_endpoint, small_lake, tmp_path
):
    lake_dir = tmp_path / "lake"
    write_log(lake_dir, "2018-11-01", ["{}"])
    upload_lake(s3_endpoint, lake_dir, "vanishing", "")
    lake = open_lake("s3://vanishing")
    files = list_log_files(lake)
    lake.client.delete_object(Bucket="vanishing", Key=files[0].key)
    rows = [row for batch in read_batches(lake, files) for row in batch.content.to_pylist()]
    assert rows[0]["read_error"].startswith("unreadable file: s3://vanishing/log_data/")


def test_a_missing_bucket_is_one_line_naming_it(s3_endpoint) -> None:
    with pytest.raises(
        LakeError,
        match=r"^bucket no-such-bucket does not exist \(s3://no-such-bucket/lake/log_data/\)$",
    ):
        list_log_files(open_lake("s3://no-such-bucket/lake"))


def test_a_missing_prefix_is_an_empty_lake_naming_bucket_and_prefix(s3_lake, capsys) -> None:
    code = main(["--source", "s3://sparkify-lake/nothing-here", "--warehouse", "unused.duckdb"])
    assert code == 1
    assert capsys.readouterr().err == (
        "error: lake s3://sparkify-lake/nothing-here has no log files under log_data/\n"
    )


def test_denied_access_is_one_line_naming_bucket_and_key(monkeypatch) -> None:
    with moto_server_with_auth() as endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoint)
        with pytest.raises(
            LakeError,
            match=r"^access denied to s3://private/lake/song_data/ \(InvalidAccessKeyId\)$",
        ):
            list_song_files(open_lake("s3://private/lake"))


def test_an_unreachable_endpoint_is_transient_and_names_the_key(monkeypatch) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoint)
    monkeypatch.setattr(
        "tasks.lake.s3.CLIENT_CONFIG", {"retries": {"max_attempts": 1}, "connect_timeout": 1}
    )
    with pytest.raises(
        LakeUnavailable, match=rf"^cannot reach S3 at {endpoint} for s3://b/lake/log_data/: "
    ):
        list_log_files(open_lake(LakeSource("s3://b/lake")))
