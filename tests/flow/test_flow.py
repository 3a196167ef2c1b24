"""The whole flow through Prefect (a real temporary server) on generated lakes and the sample."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pandera.pandas as pa
import pytest
from pandera.typing import Series
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.client.schemas.sorting import ArtifactSort

from flows.sparkify_etl import main, sparkify_etl
from tasks.common.errors import LakeError, QualityCheckFailed, RejectedShareExceeded
from tasks.model.contracts import CONTRACTS, Songs
from tests.factories import song, write_songs
from tests.helpers import assert_tables_equal, published_tables, query, table_counts
from tests.reference import star_schema

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_server")]


def _copy(lake: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(lake, tmp_path / "lake"))


def test_full_load_equals_the_reference_model(small_lake, tmp_path) -> None:
    summary = sparkify_etl(source=str(small_lake), warehouse=str(tmp_path / "w.duckdb"))
    expected = star_schema(small_lake)
    assert_tables_equal(published_tables(tmp_path / "w.duckdb"), expected)
    assert summary.published.rows_after == {t: len(rows) for t, rows in expected.items()}
    assert summary.rejected == 0
    assert all(check.passed for check in summary.checks)
    # the generated lake exercises the rules: some plays match, most do not
    matched = sum(1 for row in expected["songplays"] if row[4] is not None)
    assert 0 < matched < len(expected["songplays"])


def test_a_rerun_changes_nothing(small_lake, tmp_path) -> None:
    warehouse = tmp_path / "w.duckdb"
    sparkify_etl(source=str(small_lake), warehouse=str(warehouse))
    first = published_tables(warehouse)
    staged = query(warehouse, "select count(*) from sparkify_staging.events")
    sparkify_etl(source=str(small_lake), warehouse=str(warehouse))
    assert published_tables(warehouse) == first
    assert query(warehouse, "select count(*) from sparkify_staging.events") == staged


def test_loading_day_by_day_gives_the_tables_of_one_full_load(small_lake, tmp_path) -> None:
    sparkify_etl(source=str(small_lake), warehouse=str(tmp_path / "full.duckdb"))
    days = sorted(p.name[:10] for p in (small_lake / "log_data").rglob("*-events.json"))
    for day in reversed(days):  # out of order on purpose: a backfill need not go forwards
        sparkify_etl(
            source=str(small_lake), warehouse=str(tmp_path / "daily.duckdb"),
            day=date.fromisoformat(day),
        )  # fmt: skip
    assert published_tables(tmp_path / "daily.duckdb") == published_tables(tmp_path / "full.duckdb")


def test_the_public_sample_gives_the_known_counts(udacity_lake, tmp_path) -> None:
    sparkify_etl(source=str(udacity_lake), warehouse=str(tmp_path / "w.duckdb"))
    counts = table_counts(tmp_path / "w.duckdb")
    assert counts == {"songplays": 6820, "users": 97, "songs": 71, "artists": 69, "time": 6813}
    matched = query(
        tmp_path / "w.duckdb", "select count(*) from songplays where song_id is not null"
    )
    assert matched == [(1,)]
    assert_tables_equal(published_tables(tmp_path / "w.duckdb"), star_schema(udacity_lake))


def test_too_many_rejects_fail_the_run_and_keep_the_published_tables(small_lake, tmp_path):
    lake, warehouse = _copy(small_lake, tmp_path), tmp_path / "w.duckdb"
    sparkify_etl(source=str(lake), warehouse=str(warehouse))
    before = published_tables(warehouse)
    day_file = next((lake / "log_data").rglob("*-events.json"))
    lines = day_file.read_text().splitlines()
    day_file.write_text("\n".join(lines + ["{broken"] * (len(lines) // 10)) + "\n")
    with pytest.raises(
        RejectedShareExceeded,
        match=r"of the lake's events records would be rejected .* over the 1\.00%",
    ):
        sparkify_etl(source=str(lake), warehouse=str(warehouse))
    assert published_tables(warehouse) == before
    reasons = query(warehouse, "select distinct reason from sparkify_staging.quarantine_incoming")
    assert reasons == [("malformed JSON",)]
    # the failed run's artifact lists what it would have quarantined, with file and line
    with get_client(sync_client=True) as client:
        artifact = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=["sparkify-rejected-records"])
            ),
            sort=ArtifactSort.CREATED_DESC,
            limit=1,
        )[0]
    data = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
    listed = {(row["source_file"], row["line_number"], row["reason"]) for row in data}
    day_key = day_file.relative_to(lake).as_posix()
    assert listed == {
        (day_key, n, "malformed JSON") for n in range(len(lines) + 1, len(lines) * 11 // 10 + 1)
    }


def test_a_few_rejects_are_quarantined_and_the_good_rows_all_load(small_lake, tmp_path):
    lake, warehouse = _copy(small_lake, tmp_path), tmp_path / "w.duckdb"
    expected = star_schema(small_lake)
    day_file = sorted((lake / "log_data").rglob("*-events.json"))[0]
    day_file.write_text(day_file.read_text() + '{"ts": "soon"}\n[]\n')
    summary = sparkify_etl(source=str(lake), warehouse=str(warehouse))
    assert summary.staged["events"].rejected == 2
    assert_tables_equal(published_tables(warehouse), expected)
    quarantined = query(warehouse, "select reason from sparkify_staging.quarantine order by 1")
    assert quarantined == [("missing itemInSession",), ("not a JSON object",)]
    sparkify_etl(source=str(lake), warehouse=str(warehouse))  # rerun: still two, not four
    assert query(warehouse, "select count(*) from sparkify_staging.quarantine") == [(2,)]


class StricterSongs(Songs):
    duration: Series[float] = pa.Field(gt=0, lt=9_000)


def test_a_failed_quality_check_keeps_the_previous_tables(small_lake, tmp_path, monkeypatch):
    """Staging lets no bad record through, so a check fails only when a transform (here: a
    stricter contract standing in for a broken mart) does: the run fails, nothing publishes."""
    lake, warehouse = _copy(small_lake, tmp_path), tmp_path / "w.duckdb"
    sparkify_etl(source=str(lake), warehouse=str(warehouse))
    before = published_tables(warehouse)
    write_songs(lake, [song(duration=9_999.0)])

    monkeypatch.setitem(CONTRACTS, "songs", StricterSongs)
    with pytest.raises(QualityCheckFailed, match=r"songs\.duration less_than: 1 rows"):
        sparkify_etl(source=str(lake), warehouse=str(warehouse))
    assert published_tables(warehouse) == before


def test_a_lake_without_logs_fails_in_one_line(tmp_path) -> None:
    (tmp_path / "lake" / "song_data").mkdir(parents=True)
    with pytest.raises(LakeError, match="has no log files under log_data/"):
        sparkify_etl(source=str(tmp_path / "lake"), warehouse=str(tmp_path / "w.duckdb"))


def test_the_cli_prints_a_summary(small_lake, tmp_path, capsys) -> None:
    code = main(["--source", str(small_lake), "--warehouse", str(tmp_path / "w.duckdb")])
    out = capsys.readouterr().out
    assert code == 0
    for needle in ("rows per table", "songplays", "rejected", "seconds per stage", "staging"):
        assert needle in out


@pytest.mark.parametrize("missing", ["no-such-lake", "empty-lake"])
def test_the_cli_reports_a_missing_or_empty_lake_in_one_line(tmp_path, capsys, missing) -> None:
    (tmp_path / "empty-lake").mkdir()
    code = main(["--source", str(tmp_path / missing), "--warehouse", str(tmp_path / "w.duckdb")])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("error: lake ")


def test_a_missing_warehouse_directory_is_a_one_line_error(small_lake, tmp_path, capsys) -> None:
    target = tmp_path / "nowhere" / "w.duckdb"
    code = main(["--source", str(small_lake), "--warehouse", str(target)])
    assert code == 1
    assert (
        capsys.readouterr()
        .err.strip()
        .endswith(f"warehouse directory {target.parent} does not exist")
    )


def test_a_days_run_reads_only_new_or_changed_song_files(small_lake, tmp_path) -> None:
    lake, warehouse = _copy(small_lake, tmp_path), tmp_path / "w.duckdb"
    sparkify_etl(source=str(lake), warehouse=str(warehouse))
    day = date(2018, 11, 2)
    unchanged = sparkify_etl(source=str(lake), warehouse=str(warehouse), day=day)
    assert unchanged.staged["songs"].files == 0
    with get_client(sync_client=True) as client:  # nothing to read is done, not stuck at 0%
        progress = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["sparkify-staging-songs"])),
            sort=ArtifactSort.CREATED_DESC,
            limit=1,
        )[0]
    assert (progress.data, progress.description) == (
        100.0,
        "staging songs: no files to read (none new or changed)",
    )
    write_songs(lake, [song(song_id="SONEWSONGNEWSONG00", artist_id="ARNEWARTISTNEWART0")])
    changed = next((lake / "song_data").rglob("*.json"))
    changed.write_text(changed.read_text().replace('"num_songs": 1', '"num_songs": 2'))
    later = sparkify_etl(source=str(lake), warehouse=str(warehouse), day=day)
    assert later.staged["songs"].files == 2
    assert_tables_equal(published_tables(warehouse), star_schema(lake))
