"""Bad input is quarantined with its file, line and reason, never dropped or fatal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tasks.errors import RejectedShareExceeded
from tasks.staging import StageResult, check_rejected_share, stage_events, stage_songs
from tests.factories import event, log_line, prepared_run, song, write_songs
from tests.helpers import query, write_log

GOOD_LINES = 5


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
        (log_line(event(ts="1541106106796")), "ts is varchar, expected a number"),
        (log_line(event(ts=None)), "missing ts"),
        (log_line(event(sessionId=1.5)), "sessionId is double, expected a number"),
        (log_line(event(userId=None)), "missing userId"),
        (log_line(event(page=None)), "missing page"),
        (log_line(event(level="gold")), "level is not free or paid"),
        (log_line(event(song=None)), "missing song"),
        (log_line(event(length="246.3")), "length is varchar, expected a number"),
        (log_line(event(firstName=7)), "firstName is ubigint, expected a string"),
        (log_line(event(itemInSession=3_000_000_000)), "itemInSession out of range"),
        (log_line(event(ts=2**63)), "ts out of range"),
        (log_line(event(ts=-1000)), "ts is not between 1970 and 2100"),
        (log_line(event(ts=32503680000000)), "ts is not between 1970 and 2100"),
        (log_line(event(status=3_000_000_000)), "status out of range"),
        (log_line(event(length=-1.5)), "length is not a non-negative number"),
        (log_line(event()).replace("246.30812", "NaN"), "length is not a non-negative number"),
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


def test_objects_that_are_not_lake_files_are_quarantined_not_skipped(tmp_path: Path) -> None:
    write_log(tmp_path / "lake", "2018-11-01", [log_line(event())])
    (tmp_path / "lake" / "log_data" / "2018" / "11" / "2018-11-02-events.jsonl").write_text("{}")
    (tmp_path / "lake" / "log_data" / "2018" / "11" / ".DS_Store").write_bytes(b"\x00")
    result = stage_events.fn(prepared_run(tmp_path / "lake", tmp_path / "w.duckdb"))
    assert (result.accepted, result.rejected) == (1, 1)
    assert result.rejected_by_reason == {"not a .json file": 1}


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("", "empty file"),
        ("{not json", "malformed JSON"),
        (json.dumps(song()) + json.dumps(song()), "malformed JSON"),
        (json.dumps({k: v for k, v in song().items() if k != "song_id"}), "missing song_id"),
        (json.dumps(song(duration="300")), "duration is varchar, expected a number"),
        (json.dumps(song(artist_name="  ")), "artist_name is empty"),
        (json.dumps(song(year=1994.5)), "year is double, expected a number"),
        (json.dumps(song(year=3_000_000_000)), "year is not between 0 and 2100"),
        (json.dumps(song(duration=-3.0)), "duration is not a positive number"),
        (
            json.dumps(song(artist_latitude=95.0, artist_longitude=1.0)),
            "artist_latitude is not between -90 and 90",
        ),
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
    fine = StageResult("songs", files=1, accepted=99, rejected=1, seconds=0)
    check_rejected_share([fine], threshold=0.01)
    bad = StageResult("events", files=1, accepted=98, rejected=2, seconds=0)
    with pytest.raises(RejectedShareExceeded) as raised:
        check_rejected_share([fine, bad], threshold=0.01)
    assert str(raised.value) == (
        "rejected 2.00% of events records (2 of 100), over the 1.00% threshold; "
        "see sparkify_staging.quarantine_incoming"
    )


def test_log_files_staged_in_small_pieces_give_the_same_rows(small_lake, tmp_path, monkeypatch):
    import tasks.lake as lake_module

    whole = prepared_run(small_lake, tmp_path / "whole.duckdb")
    stage_events.fn(whole)
    monkeypatch.setattr(lake_module, "PIECE_BYTES", 4096)
    monkeypatch.setattr(lake_module, "BATCH_BYTES", 16384)
    pieces = prepared_run(small_lake, tmp_path / "pieces.duckdb")
    result = stage_events.fn(pieces)
    staged = "select * from sparkify_staging.events_incoming order by source_file, line_number"
    assert result.accepted > 1000
    assert query(tmp_path / "pieces.duckdb", staged) == query(tmp_path / "whole.duckdb", staged)
