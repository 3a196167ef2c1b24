"""The bad-input catalogue: every kind of bad or odd input the lake may hold, and what staging
does with it, counted.

Each case injects one item into a copy of a small generated lake (the dirty lake). When the item
carries good records, the clean lake gets the same records written plainly; otherwise the clean
lake is the generated one. Both lakes must stage identical rows (and, when nothing is rejected,
build identical tables), and the dirty lake's quarantine must hold exactly the case's records, at
their file and line, with the case's reason. Single bad lines with every reason are in
test_staging.py.
"""

from __future__ import annotations

import bz2
import gzip
import json
import math
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
import zstandard

from tasks.build import build_table
from tasks.common.results import StageResult
from tasks.common.run_spec import RunSpec
from tasks.model.tables import MARTS
from tasks.records.fields import COMPRESSION_RATIO, TYPICAL_RECORD_BYTES
from tasks.sample_lake import LakeSpec, generate_lake
from tasks.stage import stage_events, stage_songs
from tests.factories import (
    event,
    insert_lines,
    log_line,
    prepared_run,
    prepared_source_run,
    song,
    song_text,
    with_trailing_comma,
    write_object,
)
from tests.helpers import assert_tables_equal
from tests.reference import star_schema
from tests.s3_server import upload_lake

BASE = LakeSpec(songs=8, events=120, days=2, users=5, seed=5, matched_share=0.5)
LOG_KEY = "log_data/2018/11/2018-11-01-events.json"
SONG_DIR = "song_data/Q/Q/Q"
TEN_MB = 10 * 1024 * 1024
Where = list[tuple[str, int | None]]  # the (file, line) of each record an injection wrote
Inject = Callable[[Path], Where]


# --- how an item gets into a lake -------------------------------------------------------------


def lines(*texts: str) -> Inject:
    """Raw lines inserted in the middle of a day's log file."""

    def inject(lake: Path) -> Where:
        first = insert_lines(lake / LOG_KEY, list(texts))
        return [(LOG_KEY, first + i) for i in range(len(texts))]

    return inject


def cut_tail(text: str) -> Inject:
    """A day's log file whose last line is cut off: no final newline (an interrupted upload)."""

    def inject(lake: Path) -> Where:
        path = lake / LOG_KEY
        before = path.read_text(encoding="utf-8")
        path.write_text(before + text, encoding="utf-8")
        return [(LOG_KEY, before.count("\n") + 1)]

    return inject


def rewrite(transform: Callable[[bytes], bytes], key: str = LOG_KEY) -> Inject:
    """An existing object's bytes, transformed (BOM, CRLF): every record stays where it was."""

    def inject(lake: Path) -> Where:
        path = lake / key
        path.write_bytes(transform(path.read_bytes()))
        return []

    return inject


def obj(key: str, content: str | bytes, line: int | None = None) -> Inject:
    """One whole object at `key`; quarantined, if at all, as a whole file (or at `line`)."""

    def inject(lake: Path) -> Where:
        return [(write_object(lake, key, content), line)]

    return inject


def copy_of(key: str, to: str) -> Inject:
    """A copy of an object of the generated lake (an editor's checkpoint of it)."""

    def inject(lake: Path) -> Where:
        return [(write_object(lake, to, (lake / key).read_bytes()), None)]

    return inject


def first_song_key(lake: Path) -> str:
    return min(p.relative_to(lake).as_posix() for p in (lake / "song_data").rglob("*.json"))


def checkpoint_of_a_song(lake: Path) -> Where:
    key = first_song_key(lake)
    folder, name = key.rsplit("/", 1)
    return copy_of(key, f"{folder}/.ipynb_checkpoints/{name[:-5]}-checkpoint.json")(lake)


# --- the catalogue ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One bad item: how it gets in, what must happen to it, and how many records it rejects.

    `outcome` is "accepted" (staged, normalised), "ignored" (not a record: nothing staged, nothing
    quarantined), "skipped" (not a lake file by name: never read, listed as skipped) or
    "quarantined: <reason>". `clean` writes the good records the item carries, plainly, into the
    clean lake. `counted` is how many records the quarantined rows count as (an unreadable file
    counts as the records it would hold), if not one each.
    """

    name: str
    kind: str
    inject: Inject
    outcome: str
    rejected: int = 0
    clean: Inject | None = None
    counted: int | None = None


E = event(userId="3", ts=1541116106796)  # records both lakes share are built once, here
E2 = event(userId="4", ts=1541116107796)
PRETTY_EVENT = json.dumps(E, indent=2)
S = song(song_id="SOCATALOGUE000001", artist_id="ARCATALOGUE000001")
S2 = song(song_id="SOCATALOGUE000002", artist_id="ARCATALOGUE000001", title="Second")
S_EXTRA = {**S, "track_id": "TRXXXX", "tags": ["a", {"b": None}], "artist_mbid": None}
LOG_DAY3 = "log_data/2018/11/2018-11-03-events.json"
DAY3_EVENTS = [event(ts=1541206106796 + i) for i in range(3)]
DAY3_TEXT = "\n".join(log_line(e) for e in DAY3_EVENTS) + "\n"
# a day's log file, gzip-compressed and cut short: unreadable, it counts as the records its size
# suggests (at the declared typical record size and compression ratio), not as one
CORRUPT_GZIP = gzip.compress((DAY3_TEXT * 50).encode(), mtime=0)[:-40]
CORRUPT_GZIP_RECORDS = math.ceil(
    len(CORRUPT_GZIP) * COMPRESSION_RATIO / TYPICAL_RECORD_BYTES["events"]
)
SONG_KEY = f"{SONG_DIR}/TRPLAIN.json"


def plain_song(record: dict) -> Inject:
    return obj(SONG_KEY, song_text(record))


def two_plain_songs(first: dict, second: dict) -> Inject:
    """Two songs, each in a file of its own (the clean form of a file holding both)."""

    def inject(lake: Path) -> Where:
        write_object(lake, SONG_KEY, song_text(first))
        return [(write_object(lake, f"{SONG_DIR}/TRPLAIN2.json", song_text(second)), None)]

    return inject


def spark_markers(folder: str) -> Inject:
    """What Spark and Hadoop leave beside a day's part files: markers and checksums."""

    def inject(lake: Path) -> Where:
        write_object(lake, f"{folder}/part-00000-5f2a-c000.json", DAY3_TEXT)
        for name in ("_SUCCESS", "._SUCCESS.crc", ".part-00000-5f2a-c000.json.crc"):
            write_object(lake, f"{folder}/{name}", b"\x00crc")
        return [
            (f"{folder}/{name}", None)
            for name in ("_SUCCESS", "._SUCCESS.crc", ".part-00000-5f2a-c000.json.crc")
        ]

    return inject


def cut_then_good(cut: str, good: str) -> Inject:
    """A cut-off line and a good line after it: only the cut-off one is quarantined."""

    def inject(lake: Path) -> Where:
        first = insert_lines(lake / LOG_KEY, [cut, good])
        return [(LOG_KEY, first)]

    return inject


CASES = [
    # log files and lines
    Case("truncated last line", "events", cut_tail(log_line(E)[:70]),
         "quarantined: malformed JSON", 1),
    Case("BOM on a log file", "events", rewrite(lambda b: b"\xef\xbb\xbf" + b), "accepted"),
    Case("BOM inside a log file (files concatenated)", "events", lines("\ufeff" + log_line(E)),
         "accepted", clean=lines(log_line(E))),
    Case("CRLF line endings", "events", rewrite(lambda b: b.replace(b"\n", b"\r\n")), "accepted"),
    Case("empty log file", "events", obj(LOG_DAY3, ""), "ignored"),
    Case("empty and whitespace-only lines", "events", lines("", "   ", "\t", " \t "), "ignored"),
    Case("pretty-printed event over many lines", "events", lines(*PRETTY_EVENT.splitlines()),
         "accepted", clean=lines(log_line(E))),
    Case("two events on one line", "events", lines(log_line(E) + log_line(E2)),
         "accepted", clean=lines(log_line(E), log_line(E2))),
    Case("events back to back with no newline (Firehose)", "events",
         obj(LOG_DAY3, "".join(log_line(e) for e in DAY3_EVENTS)),
         "accepted", clean=obj(LOG_DAY3, DAY3_TEXT)),
    Case("events as a stream of pretty-printed objects", "events",
         obj(LOG_DAY3, "\n".join(json.dumps(e, indent=2) for e in DAY3_EVENTS)),
         "accepted", clean=obj(LOG_DAY3, DAY3_TEXT)),
    Case("an unparseable blob among the lines (30 KB of garbage)", "events",
         lines("<html>" + "garbage " * 3750 + "</html>"), "quarantined: malformed JSON", 1,
         counted=math.floor(len("<html>" + "garbage " * 3750 + "</html>")
                           / TYPICAL_RECORD_BYTES["events"])),
    Case("a lone surrogate escape in a string", "events",
         lines(log_line(E).replace('"Des\'ree"', '"Des\\ud800ree"')),
         "quarantined: malformed JSON", 1),
    Case("a cut-off line between good ones", "events",
         cut_then_good(log_line(E)[:90], log_line(E2)), "quarantined: malformed JSON", 1,
         clean=lines(log_line(E2))),
    Case("a JSON array of events", "events", obj(LOG_DAY3, json.dumps(DAY3_EVENTS), line=1),
         "quarantined: not a JSON object", 1),
    Case("trailing comma in an event", "events", lines(with_trailing_comma(log_line(E))),
         "quarantined: malformed JSON", 1),
    Case("trailing comma in an array of an unknown field", "events",
         lines(log_line({**E, "tags": ["x", "y"]}).replace('"y"]', '"y",]')),
         "quarantined: malformed JSON", 1),
    Case("',}' inside a string value", "events", lines(log_line({**E, "song": "Hey ,} ,]"})),
         "accepted", clean=lines(log_line({**E, "song": "Hey ,} ,]"}))),
    Case("unknown extra fields in an event", "events",
         lines(log_line({**E, "sessionCount": 3, "extra": [1, {"k": None}]})),
         "accepted", clean=lines(log_line(E))),
    Case("missing field (sessionId)", "events",
         lines(log_line({k: v for k, v in E.items() if k != "sessionId"})),
         "quarantined: missing sessionId", 1),
    Case("ts a date string", "events", lines(log_line({**E, "ts": "2018-11-01T23:48:26Z"})),
         "quarantined: ts is text that is not an integer", 1),
    Case("numbers as strings (ts, sessionId, itemInSession, length, status)", "events",
         lines(log_line({**E, "ts": str(E["ts"]), "sessionId": "139", "itemInSession": "7",
                         "length": "246.30812", "status": "200"})),
         "accepted", clean=lines(log_line({**E, "itemInSession": 7}))),
    Case("numbers in text fields, as written", "events",
         lines(log_line({**E, "artist": 112, "song": 1979, "location": 27}).replace(
             '"location":27', '"location":27.50')),
         "accepted", clean=lines(log_line({**E, "artist": "112", "song": "1979",
                                           "location": "27.50"}))),
    Case("a fraction where an integer belongs", "events",
         lines(log_line({**E, "itemInSession": 3.5})),
         "quarantined: itemInSession is not a whole number", 1),
    Case("3.0 where an integer belongs", "events",
         lines(log_line({**E, "sessionId": 3.0})),
         "quarantined: sessionId is not a whole number", 1),
    Case("a boolean where text belongs", "events", lines(log_line({**E, "artist": True})),
         "quarantined: artist is boolean, expected a string", 1),
    Case("an object where a number belongs", "events",
         lines(log_line({**E, "length": {"seconds": 246}})),
         "quarantined: length is object, expected a number", 1),
    Case("NUL characters in text", "events",
         lines(log_line({**E, "firstName": "Kay\u0000lee", "song": "\u0000You Gotta Be"})),
         "accepted", clean=lines(log_line(E))),
    Case("trailing blanks in text", "events",
         lines(log_line({**E, "userId": "3  ", "firstName": "Kaylee ", "song": "You Gotta Be  "})),
         "accepted", clean=lines(log_line(E))),
    Case("text over its column's bytes", "events",
         lines(log_line({**E, "userAgent": "é" * 600, "location": "x" * 2000})),
         "accepted", clean=lines(log_line({**E, "userAgent": "é" * 512, "location": "x" * 1024}))),
    Case("an id over its column's bytes", "events", lines(log_line({**E, "userId": "9" * 65})),
         "quarantined: userId is over 64 bytes", 1),
    Case("any short gender", "events", lines(log_line({**E, "gender": "X"})),
         "accepted", clean=lines(log_line({**E, "gender": "X"}))),
    Case("userId a number", "events", lines(log_line({**E, "userId": 3})),
         "accepted", clean=lines(log_line(E))),
    Case("userId whitespace only (logged out)", "events", lines(log_line({**E, "userId": " \t "})),
         "accepted", clean=lines(log_line({**E, "userId": ""}))),
    Case("null level", "events", lines(log_line({**E, "level": None})),
         "quarantined: missing level", 1),
    Case("negative length", "events", lines(log_line({**E, "length": -0.001})),
         "quarantined: length is negative", 1),
    Case("ts in the year 3000", "events", lines(log_line({**E, "ts": 32_519_232_000_000})),
         "quarantined: ts is not between 1970 and 2100", 1),
    Case("10 MB line", "events", lines(log_line({**E, "padding": "x" * TEN_MB})),
         "quarantined: record over 4 MB", 1),
    Case("non-JSON file among the logs", "events", obj("log_data/2018/11/README.md", "# notes"),
         "skipped"),
    Case("Spark's and Hadoop's markers among the logs", "events",
         spark_markers("log_data/year=2018/month=11/day=03"), "skipped",
         clean=obj(LOG_DAY3, DAY3_TEXT)),
    Case("gzip log file", "events", obj(LOG_DAY3 + ".gz", gzip.compress(DAY3_TEXT.encode())),
         "accepted", clean=obj(LOG_DAY3, DAY3_TEXT)),
    Case("gzip bytes under a .json name", "events",
         obj(LOG_DAY3, gzip.compress(DAY3_TEXT.encode())), "accepted",
         clean=obj(LOG_DAY3, DAY3_TEXT)),
    Case("bzip2 log file", "events", obj(LOG_DAY3 + ".bz2", bz2.compress(DAY3_TEXT.encode())),
         "accepted", clean=obj(LOG_DAY3, DAY3_TEXT)),
    Case("zstd log file", "events",
         obj(LOG_DAY3 + ".zst", zstandard.ZstdCompressor().compress(DAY3_TEXT.encode())),
         "accepted", clean=obj(LOG_DAY3, DAY3_TEXT)),
    Case("corrupt gzip log file", "events", obj(LOG_DAY3 + ".gz", CORRUPT_GZIP),
         "quarantined: unreadable file: corrupt compressed data", 1,
         counted=CORRUPT_GZIP_RECORDS),
    Case("log files in Hive/Spark day folders", "events",
         obj("log_data/year=2018/month=11/day=03/part-00000-5f2a-c000.json", DAY3_TEXT),
         "accepted", clean=obj(LOG_DAY3, DAY3_TEXT)),
    Case("log files in Firehose YYYY/MM/DD/HH folders, no extension", "events",
         obj("log_data/2018/11/03/21/sparkify-1-2018-11-03-21-00-00-5f2a", DAY3_TEXT),
         "accepted", clean=obj(LOG_DAY3, DAY3_TEXT)),
    Case(".ipynb_checkpoints copy of a log file", "events",
         copy_of(LOG_KEY, "log_data/2018/11/.ipynb_checkpoints/2018-11-01-events-checkpoint.json"),
         "skipped"),
    Case("log file name with spaces, quotes and unicode", "events",
         obj("log_data/2018/11/2018-11-03 events \"copy\" 'é' 曲.json", DAY3_TEXT),
         "accepted", clean=obj(LOG_DAY3, DAY3_TEXT)),
    # song files
    Case("truncated song file", "songs", obj(SONG_KEY, song_text(S)[:-20]),
         "quarantined: malformed JSON", 1),
    Case("BOM on a song file", "songs", obj(SONG_KEY, b"\xef\xbb\xbf" + song_text(S).encode()),
         "accepted", clean=plain_song(S)),
    Case("whitespace-only song file", "songs", obj(SONG_KEY, " \r\n\t\n"), "ignored"),
    Case("empty song file", "songs", obj(SONG_KEY, ""), "ignored"),
    Case("pretty-printed song with CRLF", "songs",
         obj(SONG_KEY, song_text(S, indent=4).replace("\n", "\r\n")),
         "accepted", clean=plain_song(S)),
    Case("two song objects on two lines", "songs",
         obj(SONG_KEY, song_text(S) + "\n" + song_text(S2) + "\n"),
         "accepted", clean=two_plain_songs(S, S2)),
    Case("two song objects back to back", "songs", obj(SONG_KEY, song_text(S) + song_text(S2)),
         "accepted", clean=two_plain_songs(S, S2)),
    Case("gzip song file", "songs", obj(SONG_KEY + ".gz", gzip.compress(song_text(S).encode())),
         "accepted", clean=plain_song(S)),
    Case("JSON numbers in a song's text fields", "songs",
         obj(SONG_KEY, song_text({**S, "artist_name": 112, "artist_location": 27,
                                   "title": 2562})),
         "accepted", clean=plain_song({**S, "artist_name": "112", "artist_location": "27",
                                       "title": "2562"})),
    Case("numbers as strings in a song", "songs",
         obj(SONG_KEY, song_text({**S, "year": "1994", "duration": "246.30812",
                                   "artist_latitude": "35.5", "artist_longitude": "-97.25"})),
         "accepted", clean=plain_song({**S, "artist_latitude": 35.5,
                                       "artist_longitude": -97.25})),
    Case("an impossible year is unknown", "songs", obj(SONG_KEY, song_text({**S, "year": 201})),
         "accepted", clean=plain_song({**S, "year": 0})),
    Case("coordinates off the globe are unknown", "songs",
         obj(SONG_KEY, song_text({**S, "artist_latitude": 95.0, "artist_longitude": 200.0})),
         "accepted", clean=plain_song(S)),
    Case("a song id that is not Million-Song-shaped", "songs",
         obj(SONG_KEY, song_text({**S, "song_id": "spotify:7ouMYWpwJ422"})),
         "accepted", clean=plain_song({**S, "song_id": "spotify:7ouMYWpwJ422"})),
    Case("trailing comma in a song file", "songs", obj(SONG_KEY, with_trailing_comma(song_text(S))),
         "quarantined: malformed JSON", 1),
    Case("unknown extra fields in a song", "songs", obj(SONG_KEY, song_text(S_EXTRA)),
         "accepted", clean=plain_song(S)),
    Case("missing field (duration)", "songs",
         obj(SONG_KEY, song_text({k: v for k, v in S.items() if k != "duration"})),
         "quarantined: missing duration", 1),
    Case("year a word", "songs", obj(SONG_KEY, song_text({**S, "year": "nineteen"})),
         "quarantined: year is text that is not an integer", 1),
    Case("null title", "songs", obj(SONG_KEY, song_text({**S, "title": None})),
         "quarantined: missing title", 1),
    Case("negative duration", "songs", obj(SONG_KEY, song_text({**S, "duration": -246.3})),
         "quarantined: duration is not positive", 1),
    Case("year 3000", "songs", obj(SONG_KEY, song_text({**S, "year": 3000})),
         "accepted", clean=plain_song({**S, "year": 0})),
    Case("10 MB song file", "songs", obj(SONG_KEY, song_text({**S, "title": "y" * TEN_MB})),
         "quarantined: record over 4 MB", 1),
    Case("text file among the songs", "songs", obj(f"{SONG_DIR}/notes.txt", "todo"), "skipped"),
    Case("README.txt in song_data", "songs", obj("song_data/README.txt", "the songs"), "skipped"),
    Case("binary file named .json", "songs", obj(SONG_KEY, b"\x89PNG\r\n\x1a\n\xff"),
         "quarantined: not UTF-8", 1),
    Case(".DS_Store among the songs", "songs", obj(f"{SONG_DIR}/.DS_Store", b"\x00\x01Bud1"),
         "skipped"),
    Case("__MACOSX resource fork", "songs", obj(f"song_data/__MACOSX/{SONG_DIR}/._TRPLAIN.json",
         b"\x00\x05\x16\x07"), "skipped"),
    Case(".ipynb_checkpoints copy of a song file", "songs", checkpoint_of_a_song, "skipped"),
]  # fmt: skip

KEY_CASES = [
    Case("song key with spaces and + %", "songs", obj(f"{SONG_DIR}/TR plain + 100%.json",
         song_text(S)), "accepted", clean=plain_song(S)),
    Case("song key with quotes", "songs", obj(f"{SONG_DIR}/TR\"plain\" 'o'.json", song_text(S)),
         "accepted", clean=plain_song(S)),
    Case("song key with unicode", "songs", obj(f"{SONG_DIR}/TRcafé ñandú 曲 🎵.json",
         song_text(S)), "accepted", clean=plain_song(S)),
]  # fmt: skip


# --- running a lake ---------------------------------------------------------------------------

STAGED_ROWS = {  # staged rows compared without where they came from
    "events": "select * exclude (source_file, line_number) from sparkify_staging.events_incoming",
    "songs": "select * exclude (source_file, line_number) from sparkify_staging.songs_incoming",
}
STAGED_FILES = (
    "select source_file from sparkify_staging.events_incoming "
    "union select source_file from sparkify_staging.songs_incoming"
)
QUARANTINED = (
    "select kind, source_file, line_number, reason from sparkify_staging.quarantine_incoming"
)


@dataclass
class Loaded:
    """What staging and building made of a lake."""

    staged: dict[str, StageResult]
    rows: dict[str, Counter]  # staged rows (multisets), without file and line
    files: set[str]  # the files staged rows came from
    tables: dict[str, list[tuple]]  # built tables; empty when not built
    quarantine: list[tuple[str, str, int | None, str]]


def load(run: RunSpec, build: bool = True) -> Loaded:
    """Stage both kinds and (unless told not to) build every table, as the flow does."""
    staged = {"events": stage_events.fn(run), "songs": stage_songs.fn(run)}
    built = MARTS if build else ()
    for table in built:
        build_table.fn(run, table)
    with duckdb.connect(run.warehouse.path, read_only=True) as conn:
        rows = {kind: Counter(conn.sql(sql).fetchall()) for kind, sql in STAGED_ROWS.items()}
        files = {f for (f,) in conn.sql(STAGED_FILES).fetchall()}
        tables = {
            t: sorted(conn.sql(f'select * from sparkify_build."{t}"').fetchall()) for t in built
        }
        quarantine = conn.sql(QUARANTINED).fetchall()
    return Loaded(staged, rows, files, tables, quarantine)


@pytest.fixture(scope="module")
def base_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    lake = tmp_path_factory.mktemp("base") / "lake"
    generate_lake(lake, BASE)
    return lake


@pytest.fixture(scope="module")
def base_loaded(base_lake: Path, tmp_path_factory: pytest.TempPathFactory) -> Loaded:
    return load(prepared_run(base_lake, tmp_path_factory.mktemp("base_w") / "w.duckdb"))


def lake_with(base: Path, to: Path, *injections: Inject) -> tuple[Path, Where]:
    """A copy of the base lake with the injections made; where they wrote."""
    lake = Path(shutil.copytree(base, to))
    return lake, [place for inject in injections for place in inject(lake)]


def clean_loaded(case: Case, base_lake: Path, base_loaded: Loaded, tmp_path: Path) -> Loaded:
    if case.clean is None:
        return base_loaded
    lake, _ = lake_with(base_lake, tmp_path / "clean", case.clean)
    return load(prepared_run(lake, tmp_path / "clean.duckdb"))


def assert_outcome(case: Case, dirty: Loaded, clean: Loaded, where: Where) -> None:
    """The dirty lake gives the clean lake's rows and tables, plus exactly the case's rejects."""
    assert case.outcome in ("accepted", "ignored", "skipped") or case.outcome.startswith(
        "quarantined: "
    )
    for kind in ("events", "songs"):
        assert dirty.staged[kind].accepted == clean.staged[kind].accepted, kind
        assert dirty.rows[kind] == clean.rows[kind], f"staged {kind} differ"
    if dirty.tables:  # with rejects, equal staged rows already make equal tables
        assert_tables_equal(dirty.tables, clean.tables)
    assert clean.quarantine == []
    quarantined = Counter(reason for *_, reason in dirty.quarantine)
    assert sum(quarantined.values()) == case.rejected
    counted = case.rejected if case.counted is None else case.counted
    assert dirty.staged[case.kind].rejected == counted
    skipped = set(dirty.staged[case.kind].skipped) - set(clean.staged[case.kind].skipped)
    if case.outcome == "skipped":
        assert skipped == {f for f, _ in where} and skipped.isdisjoint(dirty.files)
    else:
        assert skipped == set()
    if case.rejected:
        reason = case.outcome.removeprefix("quarantined: ")
        assert all(reason in r for r in quarantined), quarantined
        assert sorted((k, f, n) for k, f, n, _ in dirty.quarantine) == sorted(
            (case.kind, f, n) for f, n in where
        )
    elif case.outcome == "accepted":
        assert {f for f, _ in where} <= dirty.files


# --- the tests --------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_bad_input(case: Case, base_lake, base_loaded, tmp_path) -> None:
    lake, where = lake_with(base_lake, tmp_path / "dirty", case.inject)
    dirty = load(prepared_run(lake, tmp_path / "dirty.duckdb"), build=not case.rejected)
    assert_outcome(case, dirty, clean_loaded(case, base_lake, base_loaded, tmp_path), where)


@pytest.mark.parametrize("case", KEY_CASES, ids=lambda c: c.name)
def test_odd_key_names_from_a_directory(case: Case, base_lake, base_loaded, tmp_path) -> None:
    lake, where = lake_with(base_lake, tmp_path / "dirty", case.inject)
    dirty = load(prepared_run(lake, tmp_path / "dirty.duckdb"))
    assert_outcome(case, dirty, clean_loaded(case, base_lake, base_loaded, tmp_path), where)


def test_odd_key_names_from_s3(s3_endpoint, base_lake, tmp_path) -> None:
    """Spaces, quotes, `+`, `%` and unicode in keys survive S3 listing, reading and staging."""
    odd_log = next(c for c in CASES if c.name.startswith("log file name with"))
    odd = [*KEY_CASES, odd_log]
    lake, where = lake_with(base_lake, tmp_path / "dirty", *(c.inject for c in odd))
    upload_lake(s3_endpoint, lake, "odd-keys", "lake")
    dirty = load(prepared_source_run("s3://odd-keys/lake", tmp_path / "dirty.duckdb"))
    clean_lake, _ = lake_with(base_lake, tmp_path / "clean", KEY_CASES[0].clean, odd_log.clean)
    clean = load(prepared_run(clean_lake, tmp_path / "clean.duckdb"))
    assert dirty.quarantine == []
    assert {f for f, _ in where} <= dirty.files
    # the three odd song keys hold one song: staged thrice, one row per song_id in the tables
    assert dirty.staged["songs"].accepted == clean.staged["songs"].accepted + 2
    assert dirty.staged["events"].accepted == clean.staged["events"].accepted
    assert_tables_equal(dirty.tables, clean.tables)


def test_blank_user_ids_are_logged_out_in_the_reference_model_too(base_lake, tmp_path) -> None:
    blank = [log_line({**E, "userId": u, "ts": E["ts"] + i}) for i, u in enumerate(["  ", "\t"])]
    lake, _ = lake_with(base_lake, tmp_path / "lake", lines(*blank))
    loaded = load(prepared_run(lake, tmp_path / "w.duckdb"))
    assert_tables_equal(loaded.tables, star_schema(lake))
    assert {"", "  ", "\t"}.isdisjoint(row[0] for row in loaded.tables["users"])
