"""Bad input is quarantined with its file, line and reason, never dropped or fatal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tasks.common.errors import RejectedShareExceeded
from tasks.common.results import StageResult
from tasks.stage import check_rejected_share, stage_events, stage_songs
from tests.factories import event, log_line, prepared_run, song, write_songs
from tests.helpers import query, write_log

GOOD_LINES = 5
NOT_WHOLE = "is not a whole number (written with a fraction or exponent)"


def _stage_one_bad_line(tmp_path: Path, bad: str) -> tuple[StageResult, list[tuple]]:
    lines = [log_line(event()) for _ in range(GOOD_LINES)]
    write_log(tmp_path / "lake", "2018-11-01", [*lines[:2], bad, *lines[2:]])
    run = prepared_run(tmp_path / "lake", tmp_path / "w.duckdb")
    result = stage_events.fn(run)
    rejected = query(
        tmp_path / "w.duckdb",
        "select source_file, line_number, reason, raw_text "
        "from sparkify_staging.quarantine_incoming",
    )
    return result, rejected


@pytest.mark.parametrize(
    ("bad_line", "reason"),
    [
        ('{"artist":"x","auth":', "malformed JSON"),
        ("[1, 2, 3]", "not a JSON object"),
        ("just text", "malformed JSON"),
        (log_line({k: v for k, v in event().items() if k != "ts"}), "missing ts"),
        (log_line(event(ts="2018-11-01")), "ts is text that is not an integer"),
        (log_line(event(ts=None)), "missing ts"),
        (log_line(event(sessionId=1.5)), f"sessionId {NOT_WHOLE}"),
        (log_line(event(itemInSession=3.0)), f"itemInSession {NOT_WHOLE}"),
        (log_line(event(sessionId=1e3)), f"sessionId {NOT_WHOLE}"),
        (log_line(event(sessionId=True)), "sessionId is boolean, expected an integer"),
        (log_line(event(userId={"id": 8})), "userId is object, expected a string"),
        (log_line(event(length=[1.5])), "length is array, expected a number"),
        (log_line(event(sessionId="58x")), "sessionId is text that is not an integer"),
        (log_line(event(userId=None)), "missing userId"),
        (log_line(event(page=None)), "missing page"),
        (log_line(event(level="gold")), "level is not free or paid"),
        (log_line(event(song=None)), "missing song"),
        (log_line(event(length="fast")), "length is text that is not a number"),
        (log_line(event(firstName=False)), "firstName is boolean, expected a string"),
        (log_line(event(userId="u" * 65)), "userId is over 64 bytes"),
        (log_line(event(page="é" * 33)), "page is over 64 bytes"),
        (log_line(event(itemInSession=3_000_000_000)), "itemInSession out of range"),
        (log_line(event(ts=2**63)), "ts out of range"),
        (log_line(event(ts=-1000)), "ts is not between 1970 and 2100"),
        (log_line(event(ts=32503680000000)), "ts is not between 1970 and 2100"),
        (log_line(event(status=3_000_000_000)), "status out of range"),
        (log_line(event(length=-1.5)), "length is negative"),
        (log_line(event()).replace("246.30812", "NaN"), "length is not a finite number"),
        (log_line(event()).replace("246.30812", "1e400"), "length is not a finite number"),
        (log_line(event(length="NaN")), "length is text that is not a number"),
        (log_line(event(ts="")), "missing ts"),
        (log_line(event(sessionId="  ")), "missing sessionId"),
    ],
)
def test_a_bad_line_is_quarantined_with_its_reason(tmp_path, bad_line, reason) -> None:
    result, rejected = _stage_one_bad_line(tmp_path, bad_line)
    assert (result.accepted, result.rejected) == (GOOD_LINES, 1)
    assert rejected == [("log_data/2018/11/2018-11-01-events.json", 3, reason, bad_line)]


@pytest.mark.parametrize(
    "acceptable",
    [
        log_line(event(userId=42)),  # a numeric userId is normalised to its string
        log_line({**event(), "unknownField": {"nested": True}}),
        log_line(event(page="Home", song=None, artist=None, length=None)),
        log_line(event(userId="", firstName=None, auth="Logged Out")),
        log_line(event(gender="")),  # normalised to NULL
        log_line(event(status="", registration="")),  # an empty optional number is unknown
    ],
)
def test_acceptable_variations_are_staged(tmp_path, acceptable) -> None:
    result, rejected = _stage_one_bad_line(tmp_path, acceptable)
    assert (result.accepted, result.rejected, rejected) == (GOOD_LINES + 1, 0, [])


def test_blank_lines_crlf_and_bom_are_normalised_not_rejected(tmp_path: Path) -> None:
    lines = [log_line(event(itemInSession=i)) for i in range(3)]
    path = write_log(tmp_path / "lake", "2018-11-01", ["x"])
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n\r\n".join(lines).encode() + b"\r\n\n  \n")
    run = prepared_run(tmp_path / "lake", tmp_path / "w.duckdb")
    result = stage_events.fn(run)
    assert (result.accepted, result.rejected) == (3, 0)
    staged = query(
        tmp_path / "w.duckdb",
        "select line_number, item_in_session, user_agent "
        "from sparkify_staging.events_incoming order by 1",
    )
    assert staged == [(i * 2 + 1, i, "Mozilla/5.0 (Windows NT 6.1; WOW64)") for i in range(3)]


def test_only_the_line_that_is_not_utf8_is_quarantined(tmp_path: Path) -> None:
    latin1 = log_line(event()).encode().replace(b"Kaylee", b"Kayl\xe9e")
    good = [log_line(event()).encode() for _ in range(3)]
    bad = write_log(tmp_path / "lake", "2018-11-02", ["x"])
    bad.write_bytes(b"\n".join([good[0], latin1, good[1], good[2]]) + b"\n")
    run = prepared_run(tmp_path / "lake", tmp_path / "w.duckdb")
    result = stage_events.fn(run)
    assert (result.accepted, result.rejected) == (3, 1)
    rejected = query(
        tmp_path / "w.duckdb",
        "select line_number, reason from sparkify_staging.quarantine_incoming",
    )
    offset = latin1.index(b"\xe9")
    assert rejected == [(2, f"not UTF-8: byte 0xe9 at offset {offset}")]
    lines = query(tmp_path / "w.duckdb", "select line_number from sparkify_staging.events_incoming")
    assert sorted(lines) == [(1,), (3,), (4,)]


def test_cr_only_line_endings_separate_records(tmp_path: Path) -> None:
    path = write_log(tmp_path / "lake", "2018-11-01", ["x"])
    path.write_text("\r".join(log_line(event()) for _ in range(3)) + "\r")
    result = stage_events.fn(prepared_run(tmp_path / "lake", tmp_path / "w.duckdb"))
    assert (result.accepted, result.rejected) == (3, 0)


def test_objects_that_are_not_lake_files_are_skipped_and_listed(tmp_path: Path) -> None:
    write_log(tmp_path / "lake", "2018-11-01", [log_line(event())])
    folder = tmp_path / "lake" / "log_data" / "2018" / "11"
    others = ["README.txt", "_SUCCESS", ".2018-11-01-events.json.crc", ".DS_Store", "notes.md"]
    for name in others:
        (folder / name).write_bytes(b"\x00 not records")
    result = stage_events.fn(prepared_run(tmp_path / "lake", tmp_path / "w.duckdb"))
    assert (result.accepted, result.rejected, result.rejected_by_reason) == (1, 0, {})
    assert result.skipped_count == len(others)
    assert sorted(result.skipped) == sorted(f"log_data/2018/11/{name}" for name in others)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{not json", "malformed JSON"),
        (json.dumps({k: v for k, v in song().items() if k != "song_id"}), "missing song_id"),
        (json.dumps(song(duration="long")), "duration is text that is not a number"),
        (json.dumps(song(artist_name="  ")), "artist_name is empty"),
        (json.dumps(song(song_id="S" * 33)), "song_id is over 32 bytes"),
        (json.dumps(song(year=1994.5)), f"year {NOT_WHOLE}"),
        (json.dumps(song(year="nineteen")), "year is text that is not an integer"),
        (json.dumps(song(duration=-3.0)), "duration is not positive"),
        (json.dumps(song(duration=0)), "duration is not positive"),
        (json.dumps(song(artist_latitude=True)), "artist_latitude is boolean, expected a number"),
        ("[" + json.dumps(song()) + "]", "not a JSON object"),
    ],
)
def test_a_bad_song_file_is_quarantined_with_its_reason(tmp_path, content, reason) -> None:
    lake = tmp_path / "lake"
    write_songs(lake, [song(), song()])
    bad = lake / "song_data" / "Z" / "Z" / "Z" / "TRBAD.json"
    bad.parent.mkdir(parents=True)
    bad.write_text(content)
    run = prepared_run(lake, tmp_path / "w.duckdb")
    result = stage_songs.fn(run)
    assert (result.accepted, result.rejected) == (2, 1)
    assert result.rejected_by_reason == {reason: 1}


@pytest.mark.parametrize(
    ("fields", "staged"),
    [
        ({"year": 3_000_000_000}, {"year": None}),  # an impossible year is an unknown year
        ({"year": 201}, {"year": None}),
        ({"year": 0}, {"year": None}),
        ({"year": "1994"}, {"year": 1994}),
        ({"artist_latitude": 95.0, "artist_longitude": 1.0},
         {"artist_latitude": None, "artist_longitude": 1.0}),
        ({"duration": "269.58322"}, {"duration": 269.58322}),
        ({"artist_name": 112, "artist_location": 27},
         {"artist_name": "112", "artist_location": "27"}),
        ({"artist_name": 2562.50}, {"artist_name": "2562.50"}),  # as written, not as re-printed
    ],
)  # fmt: skip
def test_song_values_are_converted_as_declared(tmp_path, fields, staged) -> None:
    lake = tmp_path / "lake"
    path = write_songs(lake, [song()])[0]
    text = json.dumps(song(**fields)).replace("2562.5,", "2562.50,")
    path.write_text(text)
    result = stage_songs.fn(prepared_run(lake, tmp_path / "w.duckdb"))
    assert (result.accepted, result.rejected) == (1, 0)
    columns = ", ".join(staged)
    rows = query(tmp_path / "w.duckdb", f"select {columns} from sparkify_staging.songs_incoming")
    assert rows == [tuple(staged.values())]


def test_empty_song_files_hold_no_record(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    write_songs(lake, [song(), song()])
    for name, content in (("TREMPTY.json", ""), ("TRBLANK.json", " \r\n\t\n")):
        path = lake / "song_data" / "Z" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    result = stage_songs.fn(prepared_run(lake, tmp_path / "w.duckdb"))
    assert (result.files, result.accepted, result.rejected) == (4, 2, 0)


def test_a_pretty_printed_song_object_is_accepted(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    path = write_songs(lake, [song()])[0]
    path.write_text(json.dumps(json.loads(path.read_text()), indent=4))
    result = stage_songs.fn(prepared_run(lake, tmp_path / "w.duckdb"))
    assert (result.accepted, result.rejected) == (1, 0)


def test_restaging_replaces_the_incoming_rows_instead_of_adding(tmp_path: Path) -> None:
    _, _ = _stage_one_bad_line(tmp_path, "oops")
    run = prepared_run(tmp_path / "lake", tmp_path / "w.duckdb")
    again = stage_events.fn(run)
    assert (again.accepted, again.rejected) == (GOOD_LINES, 1)


def test_the_rejected_share_threshold_names_kind_counts_and_where_to_look() -> None:
    fine = StageResult("songs", 1, 1, 1, 0, lake_accepted=99, lake_rejected=1)
    check_rejected_share([fine], threshold=0.01)
    bad = StageResult("events", 1, 13, 2, 0, lake_accepted=98, lake_rejected=2)
    with pytest.raises(RejectedShareExceeded) as raised:
        check_rejected_share([fine, bad], threshold=0.01)
    assert str(raised.value) == (
        "2.00% of the lake's events records would be rejected (2 of 100; this run rejected 2), "
        "over the 1.00% threshold; see sparkify_staging.quarantine_incoming"
    )


def test_an_older_warehouse_gets_the_songs_line_number_column(tmp_path: Path) -> None:
    """Song staging tables created before songs had line numbers are brought up to date."""
    import duckdb

    warehouse = tmp_path / "w.duckdb"
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute("create schema sparkify_staging")
        for table in ("songs", "songs_incoming"):
            conn.execute(
                f"create table sparkify_staging.{table} (num_songs integer, artist_id varchar, "
                "artist_latitude double, artist_longitude double, artist_location varchar, "
                "artist_name varchar, song_id varchar, title varchar, duration double, "
                "year integer, source_file varchar)"
            )
    lake = tmp_path / "lake"
    write_songs(lake, [song()])
    result = stage_songs.fn(prepared_run(lake, warehouse))
    assert (result.accepted, result.rejected) == (1, 0)
    assert query(warehouse, "select line_number from sparkify_staging.songs_incoming") == [(None,)]
