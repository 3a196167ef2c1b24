"""Real lakes: nothing lost, nothing blocked forever, and daily runs that end as a full load.

Each test builds a generated lake, changes it the way real lakes change (a day delivered again
under another name, a deleted song file, a corrupt day, a stray bad file) and compares the
daily runs with a fresh full load of the same lake, or checks the rejected share against the
record counts the test computes itself.
"""

from __future__ import annotations

import gzip
import json
import math
import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.client.schemas.sorting import ArtifactSort

from flows.sparkify_etl import sparkify_etl
from tasks.common.errors import RejectedShareExceeded
from tasks.records.fields import COMPRESSION_RATIO, TYPICAL_RECORD_BYTES
from tasks.sample_lake import LakeSpec, generate_lake
from tests.factories import event, log_line, song, write_songs
from tests.helpers import assert_tables_equal, published_tables, query
from tests.reference import star_schema

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_server")]
SPEC = LakeSpec(songs=30, events=2_000, days=10, users=20, seed=11, matched_share=0.5)
DAY = date(2018, 11, 4)


@pytest.fixture(scope="module")
def lake_10_days(tmp_path_factory: pytest.TempPathFactory) -> Path:
    lake = tmp_path_factory.mktemp("real") / "lake"
    generate_lake(lake, SPEC)
    return lake


def _copy(lake: Path, to: Path) -> Path:
    return Path(shutil.copytree(lake, to))


def _day_file(lake: Path, day: date) -> Path:
    return lake / "log_data" / f"{day:%Y}" / f"{day:%m}" / f"{day:%Y-%m-%d}-events.json"


def _latest_artifact(key: str) -> object:
    with get_client(sync_client=True) as client:
        artifact = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
            sort=ArtifactSort.CREATED_DESC,
            limit=1,
        )[0]
    return json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data


def _full_load(lake: Path, warehouse: Path) -> dict[str, list[tuple]]:
    sparkify_etl(source=str(lake), warehouse=str(warehouse))
    return published_tables(warehouse)


def test_a_day_delivered_again_under_another_name_replaces_the_day(lake_10_days, tmp_path):
    lake, warehouse = _copy(lake_10_days, tmp_path / "lake"), tmp_path / "w.duckdb"
    sparkify_etl(source=str(lake), warehouse=str(warehouse))
    old = _day_file(lake, DAY)
    lines = old.read_text(encoding="utf-8").splitlines()
    old.with_name(f"{DAY:%Y-%m-%d}-events-v2.json").write_text(
        "\n".join(lines[: len(lines) // 2]) + "\n", encoding="utf-8"
    )
    old.unlink()
    sparkify_etl(source=str(lake), warehouse=str(warehouse), day=DAY)
    assert published_tables(warehouse) == _full_load(lake, tmp_path / "fresh.duckdb")
    files = query(warehouse, "select distinct source_file from sparkify_staging.events")
    assert (old.relative_to(lake).as_posix(),) not in files


def test_a_deleted_song_file_drops_out_on_the_next_daily_run(lake_10_days, tmp_path) -> None:
    lake, warehouse = _copy(lake_10_days, tmp_path / "lake"), tmp_path / "w.duckdb"
    sparkify_etl(source=str(lake), warehouse=str(warehouse))
    ((song_id,),) = query(
        warehouse, "select song_id from songplays where song_id is not null limit 1"
    )
    for path in (lake / "song_data").rglob("*.json"):
        if song_id in path.read_text(encoding="utf-8"):
            path.unlink()
    sparkify_etl(source=str(lake), warehouse=str(warehouse), day=DAY)
    tables = published_tables(warehouse)
    assert song_id not in {row[0] for row in tables["songs"]}
    assert tables == _full_load(lake, tmp_path / "fresh.duckdb")


def test_a_day_with_one_bad_line_loads_on_its_own_daily_run(lake_10_days, tmp_path) -> None:
    """A small day (15 events) with one bad line: 1 of 16 on its own, but a full load of the
    lake accepts it, so its daily run does too."""
    lake, warehouse = _copy(lake_10_days, tmp_path / "lake"), tmp_path / "w.duckdb"
    sparkify_etl(source=str(lake), warehouse=str(warehouse))
    small = date(2018, 11, 20)
    events = [log_line(event(ts=1542672000000 + i * 60_000, userId="7")) for i in range(15)]
    path = _day_file(lake, small)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([*events[:7], '{"ts": oops', *events[7:]]) + "\n")
    summary = sparkify_etl(source=str(lake), warehouse=str(warehouse), day=small)
    assert (summary.staged["events"].accepted, summary.staged["events"].rejected) == (15, 1)
    assert published_tables(warehouse) == _full_load(lake, tmp_path / "fresh.duckdb")


def test_one_bad_new_song_file_does_not_block_daily_runs(lake_10_days, tmp_path) -> None:
    """Judged as a full load would judge the lake (1 of 31 songs), not as the run's own input
    (1 of 1 changed song file): with a threshold the full load passes, every daily run does."""
    lake, warehouse = _copy(lake_10_days, tmp_path / "lake"), tmp_path / "w.duckdb"
    share = 0.05
    sparkify_etl(source=str(lake), warehouse=str(warehouse), max_rejected_share=share)
    bad = lake / "song_data" / "Z" / "Z" / "Z" / "TRBROKEN.json"
    bad.parent.mkdir(parents=True)
    bad.write_text('{"song_id": "SOBROKEN", "title": ')
    (lake / "song_data" / "README.txt").write_text("song metadata, one object per file")
    for day in (DAY, date(2018, 11, 5)):  # every later daily run, not only the first
        summary = sparkify_etl(
            source=str(lake), warehouse=str(warehouse), day=day, max_rejected_share=share
        )
        assert summary.staged["songs"].skipped == ["song_data/README.txt"]
        assert _latest_artifact("sparkify-skipped-objects") == [
            {"kind": "songs", "object": "song_data/README.txt"}
        ]
    assert summary.staged["songs"].rejected_share == pytest.approx(1 / (SPEC.songs + 1))
    fresh = tmp_path / "fresh.duckdb"
    sparkify_etl(source=str(lake), warehouse=str(fresh), max_rejected_share=share)
    assert published_tables(warehouse) == published_tables(fresh)


def test_a_lost_day_counts_as_its_records_not_as_one(tmp_path) -> None:
    """A corrupt gzip day of 533 events in a lake of ~7,500 is ~7% of it, not '1 of 7,000'."""
    lake = tmp_path / "lake"
    generate_lake(lake, LakeSpec(songs=20, events=7_524, days=14, users=30, seed=3))
    day_file = _day_file(lake, date(2018, 11, 6))
    text = day_file.read_bytes()
    lost = text.count(b"\n")
    packed = gzip.compress(text, mtime=0)
    day_file.with_name(day_file.name + ".gz").write_bytes(packed[: len(packed) // 2])
    day_file.unlink()
    total = sum(p.read_bytes().count(b"\n") for p in (lake / "log_data").rglob("*.json"))
    estimate = math.ceil(len(packed) // 2 * COMPRESSION_RATIO / TYPICAL_RECORD_BYTES["events"])
    assert estimate > lost / 4  # the estimate is of the day's size, whatever its exact count
    with pytest.raises(RejectedShareExceeded) as raised:
        sparkify_etl(source=str(lake), warehouse=str(tmp_path / "w.duckdb"))
    assert f"({estimate:,} of {total + estimate:,};" in str(raised.value)
    # what it would have quarantined is kept for reading
    assert query(
        tmp_path / "w.duckdb",
        "select source_file, reason like 'unreadable file: corrupt compressed data%' "
        "from sparkify_staging.quarantine_incoming",
    ) == [(day_file.relative_to(lake).as_posix() + ".gz", True)]


def test_two_songs_in_one_file_load_both(lake_10_days, tmp_path) -> None:
    lake = _copy(lake_10_days, tmp_path / "lake")
    first, second = song(title="One"), song(title="Two")
    path = write_songs(lake, [first])[0]
    path.write_text(f"{log_line(first)}\n{log_line(second)}\n", encoding="utf-8")
    tables = _full_load(lake, tmp_path / "w.duckdb")
    assert {first["song_id"], second["song_id"]} <= {row[0] for row in tables["songs"]}


def _odd_but_valid(lake: Path) -> None:
    """Rewrite a generated lake in the forms real lakes take, every record still valid: days
    gzip-compressed, back to back, pretty-printed, in Hive and Firehose folders; numbers as
    strings, numbers in text fields, trailing blanks, NULs, oversized free text; songs two to a
    file, with impossible years and coordinates; markers and READMEs beside them."""
    logs = sorted((lake / "log_data").rglob("*.json"))
    for n, path in enumerate(logs):
        records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        for i, r in enumerate(records):
            if i % 7 == 0:
                r["ts"], r["sessionId"] = str(r["ts"]), str(r["sessionId"])
            if i % 11 == 0 and r.get("location"):
                r["location"] = r["location"] + "   "
            if i % 13 == 0 and r.get("userAgent"):
                r["userAgent"] = r["userAgent"] + "\u0000" + "z" * 1100
        day = date.fromisoformat(path.name[:10])
        form = n % 5
        if form == 0:
            text, target = "\n".join(json.dumps(r) for r in records), path.with_suffix(".json.gz")
            target.write_bytes(gzip.compress(text.encode(), mtime=0))
        elif form == 1:
            target = lake / "log_data" / f"year={day:%Y}" / f"month={day:%m}" / f"day={day:%d}"
            target.mkdir(parents=True)
            (target / "part-00000-0a1b-c000.json").write_text(
                "".join(json.dumps(r) for r in records), encoding="utf-8"
            )
            (target / "_SUCCESS").write_bytes(b"")
        elif form == 2:
            target = lake / "log_data" / f"{day:%Y/%m/%d}" / "21"
            target.mkdir(parents=True)
            (target / "sparkify-1-0a1b2c3d").write_text(
                "\n".join(json.dumps(r, indent=2) for r in records), encoding="utf-8"
            )
        else:
            path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
            continue
        path.unlink()
    (lake / "log_data" / "README.txt").write_text("Sparkify activity logs")
    songs = sorted((lake / "song_data").rglob("*.json"))
    for n, path in enumerate(songs):
        record = json.loads(path.read_text(encoding="utf-8"))
        if n % 4 == 0:
            record["year"] = 201
        if n % 5 == 0:
            record["artist_latitude"], record["artist_longitude"] = 95.0, 10.0
        if n % 6 == 0:
            record["duration"] = str(record["duration"])
        if n % 2 == 1:  # every other song joins the file before it
            previous = songs[n - 1]
            previous.write_text(
                previous.read_text(encoding="utf-8") + "\n" + json.dumps(record), encoding="utf-8"
            )
            path.unlink()
        else:
            path.write_text(json.dumps(record), encoding="utf-8")


def test_odd_but_valid_lakes_give_the_reference_tables(lake_10_days, tmp_path) -> None:
    lake = _copy(lake_10_days, tmp_path / "lake")
    plain = published_tables_of(lake, tmp_path / "plain.duckdb")
    _odd_but_valid(lake)
    summary = sparkify_etl(source=str(lake), warehouse=str(tmp_path / "w.duckdb"))
    assert summary.rejected == 0
    hive_days = len([n for n in range(SPEC.days) if n % 5 == 1])
    assert summary.staged["events"].skipped_count == 1 + hive_days  # README, the _SUCCESS files
    tables = published_tables(tmp_path / "w.duckdb")
    assert_tables_equal(tables, star_schema(lake))
    assert len(tables["songplays"]) == len(plain["songplays"])
    # and day by day, each day's daily run on its own, the same tables
    daily = tmp_path / "daily.duckdb"
    sparkify_etl(source=str(lake), warehouse=str(daily), day=SPEC.start)
    for offset in range(1, SPEC.days):
        sparkify_etl(source=str(lake), warehouse=str(daily), day=SPEC.start + timedelta(offset))
    assert published_tables(daily) == tables


def published_tables_of(lake: Path, warehouse: Path) -> dict[str, list[tuple]]:
    sparkify_etl(source=str(lake), warehouse=str(warehouse))
    return published_tables(warehouse)
