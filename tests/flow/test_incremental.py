"""Daily runs rebuild only the keys their changes touch, and still end with a full load's tables."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest

from flows.sparkify_etl import sparkify_etl
from tests.factories import song, write_songs
from tests.helpers import assert_tables_equal, published_tables, query, table_counts
from tests.reference import star_schema

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_server")]
DAY = date(2018, 11, 2)


def _log_file(lake: Path, day: date) -> Path:
    return lake / "log_data" / f"{day:%Y}" / f"{day:%m}" / f"{day:%Y-%m-%d}-events.json"


def test_a_daily_run_rebuilds_only_the_changed_keys(small_lake, tmp_path) -> None:
    lake, warehouse = Path(shutil.copytree(small_lake, tmp_path / "lake")), tmp_path / "w.duckdb"
    sparkify_etl(source=str(lake), warehouse=str(warehouse))
    sparkify_etl(source=str(lake), warehouse=str(warehouse), day=DAY)

    published = table_counts(warehouse)
    built = {
        t: query(warehouse, f'select count(*) from sparkify_build."{t}"')[0][0] for t in published
    }
    day_plays = query(
        warehouse,
        "select count(distinct ts) from sparkify_staging.events where page = 'NextSong' "
        f"and user_id <> '' and source_file like '%{DAY.isoformat()}%'",
    )[0][0]
    assert 0 < built["songplays"] < published["songplays"] / 2
    assert query(warehouse, "select count(*) from sparkify_staging.changed_play_times") == [
        (day_plays,)
    ]
    assert built["songs"] == built["artists"] == 0  # no song file changed
    assert_tables_equal(published_tables(warehouse), star_schema(lake))


def test_daily_runs_after_every_kind_of_change_equal_a_full_load(small_lake, tmp_path) -> None:
    lake, warehouse = Path(shutil.copytree(small_lake, tmp_path / "lake")), tmp_path / "w.duckdb"
    sparkify_etl(source=str(lake), warehouse=str(warehouse))

    # the day's file loses every third line: plays, instants and maybe users disappear
    log = _log_file(lake, DAY)
    lines = log.read_text(encoding="utf-8").splitlines()
    log.write_text("\n".join(lines[::3]) + "\n", encoding="utf-8")
    # a song file changes title: plays that matched it stop matching (they lie on other days)
    matched = query(
        warehouse,
        "select songs.song_id, songs.title from songplays join songs using (song_id) limit 1",
    )
    assert matched, "the generated lake has matched plays"
    song_id, title = matched[0]
    for path in (lake / "song_data").rglob("*.json"):
        record = json.loads(path.read_text(encoding="utf-8"))
        if record["song_id"] == song_id:
            record["title"] = title + " (Remastered)"
            path.write_text(json.dumps(record), encoding="utf-8")
    # a new song file matches a play that matched nothing before
    play = query(
        warehouse,
        "select song, artist, length from sparkify_staging.events where page = 'NextSong' and "
        "user_id <> '' and song not in (select title from songs) limit 1",
    )[0]
    write_songs(lake, [song(title=play[0], artist_name=play[1], duration=play[2])])

    sparkify_etl(source=str(lake), warehouse=str(warehouse), day=DAY)
    expected = star_schema(lake)
    assert_tables_equal(published_tables(warehouse), expected)
    assert query(warehouse, f"select count(*) from songplays where song_id = '{song_id}'") == [(0,)]

    fresh = tmp_path / "fresh.duckdb"
    sparkify_etl(source=str(lake), warehouse=str(fresh))
    assert published_tables(warehouse) == published_tables(fresh)
