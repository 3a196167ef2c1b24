"""One named case per messy-data rule: given records in the lake, the rows each table gets."""

from __future__ import annotations

import hashlib
import random
from datetime import datetime
from pathlib import Path

import pytest

from tasks.build import build_table
from tasks.model.tables import MARTS
from tasks.sample_lake import _mojibake
from tasks.stage import stage_events, stage_songs
from tests.factories import BASE_TS, event, log_line, prepared_run, song, write_songs
from tests.helpers import query, write_log


def build(tmp_path: Path, events: list[dict], songs: list[dict] = ()) -> dict[str, list[tuple]]:
    """Stage the records and build every table; return the built rows (sorted)."""
    lake = tmp_path / "lake"
    write_log(lake, "2018-11-01", [log_line(e) for e in events])
    write_songs(lake, list(songs))
    run = prepared_run(lake, tmp_path / "w.duckdb")
    stage_events.fn(run)
    stage_songs.fn(run)
    for table in MARTS:
        build_table.fn(run, table)
    return {
        t: sorted(query(tmp_path / "w.duckdb", f'select * from sparkify_build."{t}"'))
        for t in MARTS
    }


def matched(rows: dict[str, list[tuple]]) -> list[tuple]:
    """(song_id, artist_id) of every songplay."""
    return [(r[4], r[5]) for r in rows["songplays"]]


def test_logged_out_plays_make_neither_songplay_nor_user(tmp_path) -> None:
    rows = build(tmp_path, [event(userId="", auth="Logged Out", firstName=None), event()])
    assert [r[2] for r in rows["songplays"]] == ["8"]
    assert [r[0] for r in rows["users"]] == ["8"]


def test_a_user_seen_only_on_other_pages_is_a_user_without_plays(tmp_path) -> None:
    rows = build(tmp_path, [event(), event(userId="9", page="Home", song=None, artist=None)])
    assert [r[0] for r in rows["users"]] == ["8", "9"]
    assert [r[2] for r in rows["songplays"]] == ["8"]


def test_user_level_comes_from_the_latest_event_and_plays_keep_their_own(tmp_path) -> None:
    rows = build(
        tmp_path,
        [
            event(ts=BASE_TS + 2_000, level="paid", page="Submit Upgrade", song=None),
            event(ts=BASE_TS, level="free"),
            event(ts=BASE_TS + 5_000, level="paid", lastName="Married"),
        ],
    )
    assert rows["users"] == [("8", "Kaylee", "Married", "F", "paid")]
    assert sorted(r[3] for r in rows["songplays"]) == ["free", "paid"]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_each_user_comes_from_their_latest_event_through_every_tie_break(tmp_path, seed) -> None:
    """Users whose events tie on ts, then on session, then on item, across three files:
    ts, session, item, file and line decide in that order (computed here, not by the SQL)."""
    rng = random.Random(seed)
    days = ["2018-11-01", "2018-11-02", "2018-11-03"]
    lines: dict[str, list[dict]] = {day: [] for day in days}
    for _ in range(300):
        lines[rng.choice(days)].append(
            event(
                userId=str(rng.randint(1, 12)),
                ts=BASE_TS + rng.choice([0, 1, 2]) * 1000,
                sessionId=rng.choice([5, 6]),
                itemInSession=rng.choice([0, 1]),
                level=rng.choice(["free", "paid"]),
                firstName=f"F{rng.randint(0, 999)}",
                lastName=f"L{rng.randint(0, 999)}",
                gender=rng.choice(["F", "M"]),
                page=rng.choice(["NextSong", "Home"]),
            )
        )
    lake = tmp_path / "lake"
    latest: dict[str, tuple] = {}
    for day, records in lines.items():
        write_log(lake, day, [log_line(e) for e in records])
        for line, e in enumerate(records, start=1):
            key = (e["ts"], e["sessionId"], e["itemInSession"], day, line)
            if e["userId"] not in latest or key > latest[e["userId"]][0]:
                latest[e["userId"]] = (key, e)
    run = prepared_run(lake, tmp_path / "w.duckdb")
    stage_events.fn(run)
    build_table.fn(run, "users")
    expected = sorted(
        (u, e["firstName"], e["lastName"], e["gender"], e["level"]) for u, (_, e) in latest.items()
    )
    assert sorted(query(tmp_path / "w.duckdb", "select * from sparkify_build.users")) == expected
    every = [
        (e["userId"], (e["ts"], e["sessionId"], e["itemInSession"]))
        for records in lines.values()
        for e in records
    ]
    tied = [u for u, (key, _) in latest.items() if every.count((u, key[:3])) > 1]
    assert tied  # some winner shares its ts, session and item: file and line decide


def test_a_play_matches_a_song_within_one_millisecond_only(tmp_path) -> None:
    catalogue = [song(song_id="SOA", artist_id="ARA", duration=246.30812)]
    rows = build(
        tmp_path,
        [event(length=246.3086, ts=BASE_TS), event(length=246.3102, ts=BASE_TS + 1)],
        catalogue,
    )
    by_length = {r[1]: (r[4], r[5]) for r in rows["songplays"]}
    assert sorted(by_length.values(), key=str) == [("SOA", "ARA"), (None, None)]


def test_the_one_millisecond_boundary_is_inclusive_despite_binary_floats(tmp_path) -> None:
    catalogue = [song(song_id="SOA", artist_id="ARA", duration=106.58762)]
    plays = [event(length=106.58862, ts=BASE_TS), event(length=106.58863, ts=BASE_TS + 1),
             event(length=106.58662, ts=BASE_TS + 2)]  # fmt: skip
    rows = build(tmp_path, plays, catalogue)
    by_ts = {r[1].microsecond // 1000: (r[4], r[5]) for r in rows["songplays"]}
    assert [by_ts[796], by_ts[797], by_ts[798]] == [("SOA", "ARA"), (None, None), ("SOA", "ARA")]


def test_a_play_takes_song_and_artist_from_the_file_the_songs_table_keeps(tmp_path) -> None:
    catalogue = [song(song_id="SODUP", artist_id="ARONE"), song(song_id="SODUP", artist_id="ARTWO")]
    rows = build(tmp_path, [event()], catalogue)
    assert [(r[0], r[2]) for r in rows["songs"]] == [("SODUP", "ARONE")]
    assert matched(rows) == [("SODUP", "ARONE")]


def test_title_and_artist_must_both_match(tmp_path) -> None:
    rows = build(tmp_path, [event(artist="Someone Else"), event(song="Other", ts=1)], [song()])
    assert matched(rows) == [(None, None), (None, None)]


def test_when_several_songs_match_the_smallest_song_id_wins(tmp_path) -> None:
    catalogue = [song(song_id="SOB", artist_id="ARB"), song(song_id="SOA", artist_id="ARA")]
    rows = build(tmp_path, [event()], catalogue)
    assert matched(rows) == [("SOA", "ARA")]


def test_a_play_of_a_song_not_in_song_data_keeps_null_ids(tmp_path) -> None:
    rows = build(tmp_path, [event(song="Unknown Track")], [song()])
    assert matched(rows) == [(None, None)]
    assert len(rows["songs"]) == 1


def test_double_encoded_text_is_repaired_before_matching_and_storing(tmp_path) -> None:
    catalogue = [song(song_id="SOBJ", artist_id="ARBJ", artist_name="Björk", title="Jóga")]
    plays = [
        event(artist=_mojibake("Björk"), song=_mojibake("Jóga"), location=_mojibake("Reykjavík"))
    ]
    rows = build(tmp_path, plays, catalogue)
    assert matched(rows) == [("SOBJ", "ARBJ")]
    assert rows["songplays"][0][7] == "Reykjavík"


def test_an_artist_under_several_names_gets_one_row_by_the_documented_rule(tmp_path) -> None:
    catalogue = [
        song(song_id="SO2", artist_id="ARX", artist_name="Faye feat. Bo", artist_location="London",
             artist_latitude=51.5, artist_longitude=-0.1),
        song(song_id="SO0", artist_id="ARX", artist_name="Faye", artist_location="  ",
             artist_latitude=40.0, artist_longitude=None),
        song(song_id="SO1", artist_id="ARX", artist_name="Faye Adams", artist_location=""),
    ]  # fmt: skip
    rows = build(tmp_path, [event()], catalogue)
    assert rows["artists"] == [("ARX", "Faye", "London", 51.5, -0.1)]


def test_an_artist_with_nothing_known_has_null_location_and_coordinates(tmp_path) -> None:
    rows = build(tmp_path, [event()], [song(artist_id="ARY", artist_name="Y")])
    assert rows["artists"] == [("ARY", "Y", None, None, None)]


def test_year_zero_is_unknown(tmp_path) -> None:
    rows = build(tmp_path, [event()], [song(song_id="SO0", year=0), song(song_id="SO1", year=1994)])
    assert [(r[0], r[3]) for r in rows["songs"]] == [("SO0", None), ("SO1", 1994)]


def test_the_same_song_id_in_two_files_is_one_song_from_the_first_file(tmp_path) -> None:
    rows = build(tmp_path, [event()], [song(song_id="SOD", title="A"), song(song_id="SOD")])
    assert [(r[0], r[1]) for r in rows["songs"]] == [("SOD", "A")]


def test_start_time_keeps_milliseconds_and_time_uses_iso_week_and_sunday_zero(tmp_path) -> None:
    sunday = 1546214399999  # 2018-12-30 23:59:59.999 UTC, ISO week 52
    monday = 1546214400000  # 2018-12-31 00:00:00.000 UTC, ISO week 1 of 2019
    rows = build(tmp_path, [event(ts=sunday), event(ts=monday), event(ts=monday, sessionId=2)])
    assert rows["time"] == [
        (datetime(2018, 12, 30, 23, 59, 59, 999000), 23, 30, 52, 12, 2018, 0),
        (datetime(2018, 12, 31), 0, 31, 1, 12, 2018, 1),
    ]
    assert len(rows["songplays"]) == 3


def test_the_same_event_twice_is_one_songplay_with_a_deterministic_id(tmp_path) -> None:
    play = event(sessionId=139, itemInSession=1, ts=BASE_TS)
    rows = build(tmp_path, [play, play])
    expected_id = hashlib.md5(f"8|139|1|{BASE_TS}".encode()).hexdigest()
    assert [r[0] for r in rows["songplays"]] == [expected_id]
