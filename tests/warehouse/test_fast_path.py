"""The fast path (Arrow's typed reader, tasks/records/typed.py) decides every record exactly as
the per-record path does.

Each class of input is generated (seeded) and staged twice, once with the fast path and once
with `SPARKIFY_STAGING_FAST_PATH=0`; every staged row, quarantined record (file, line, reason,
raw text), file version and count must be the same. The per-record path is the reference: its
decisions are tested against independent expectations in test_bad_input.py and
test_staging.py. A spy on the reader tells which pieces took the fast path, so a class that
should go fast cannot pass by quietly falling back, and one that must fall back cannot slip
through Arrow.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import tasks.lake.reading as reading
from tasks.stage import stage_events, stage_songs
from tests.factories import event, mojibake, prepared_run, song
from tests.helpers import query, write_log

Line = Callable[[random.Random], str]
# One seed each by default, for the inner loop; FAST_PATH_SEEDS=1,2,...,40 runs more of them.
CLASS_SEEDS = [int(s) for s in os.environ.get("FAST_PATH_SEEDS", "1").split(",")]


def _dump(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False)


def _clean(r: random.Random) -> str:
    return _dump(
        event(
            userId=str(r.randint(1, 99)),
            level=r.choice(["free", "paid"]),
            page=r.choice(["NextSong", "Home", "Logout"]),
            length=r.choice([r.uniform(1, 600), 200, 0.5e3]),
            ts=1541106106796 + r.randint(0, 10**8),
            sessionId=r.randint(1, 10**6),
        )
    )


# Inputs the fast path takes whole: every field of its declared kind, whatever its value. The
# rules on values (ranges, allowed values, required fields, text repair, sizes) then decide, in
# the same SQL as on the per-record path.
FAST: dict[str, list[Line]] = {
    "rejected values": [
        lambda r: _dump(event(level=r.choice(["premium", "FREE", ""]))),
        lambda r: _dump(event(itemInSession=-r.randint(1, 9))),
        lambda r: _dump(event(ts=r.choice([-1, 4_102_444_800_000, 10**15]))),
        lambda r: _dump({k: v for k, v in event().items() if k != r.choice(["userId", "ts"])}),
        lambda r: _dump(event(sessionId=None, page=r.choice(["Home", "NextSong"]))),
        lambda r: _dump(event(song=None, artist=None)),
        lambda r: _dump(event(page="Home", song=None, artist=None, length=None)),
        lambda r: _dump(event(status=r.choice([2**31, -(2**31) - 1, 2**40]))),
        lambda r: _dump(event(itemInSession=2**31)),
        lambda r: _dump(event(length=r.choice([float("nan"), float("inf"), -1.5]))),
        lambda r: _dump(event(registration=float("-inf"))),
        lambda r: _dump(event(page="x" * 65)),
        lambda r: _dump(event(userId="u" * 65)),
        lambda r: "{}",
    ],
    "text rules": [
        lambda r: _dump(event(artist=mojibake("Beyoncé", r.randint(1, 3)), song="Café")),
        lambda r: _dump(event(location=mojibake("Zürich, CH"))),
        lambda r: _dump(event(firstName="Ann\u0000e", lastName="Smith   ")),
        lambda r: _dump(event(userAgent=r.choice(['"quoted"', '"', '""', '"a\nb"', "plain", ""]))),
        lambda r: _dump(event(userId=r.choice(["", "   ", "\t", " 8 "]), page="Home")),
        lambda r: _dump(event(gender=r.choice(["", " ", "female", "X" * 17]))),
        lambda r: _dump(event(auth="a" * 33, method="M" * 17)),
        lambda r: _dump(event(artist="€" * r.randint(300, 400), song="é" * 600)),
        lambda r: json.dumps(event(artist='Guns N\' Roses \u2013 \u00e9 "live"')),  # escapes
        lambda r: _dump(event(location="tab\there, slash / and \\")),
    ],
    "numbers and layout": [
        lambda r: _dump(event(length=r.choice([200, 0, 1e-3, 1.5e2, 246.30812]))),
        lambda r: _dump(event(registration=r.choice([1540344794796, 1.540344794796e12, -0.0]))),
        lambda r: _dump(event(itemInSession=0, status=-0)),
        lambda r: _dump({**event(), "extra": {"nested": [1, {"a": None}], "b": True}}),
        lambda r: _dump(dict(reversed(list(event().items())))),
        lambda r: _dump(event()) + r.choice([" ", "\t", "  "]),
    ],
}

# Inputs the fast path must hand to the per-record path: a field of another JSON kind than
# declared, JSON that is not valid, or a layout whose line numbers Arrow's rows would misstate.
SLOW: dict[str, list[Line]] = {
    "other JSON kinds": [
        lambda r: _dump(event(userId=r.randint(1, 99))),
        lambda r: _dump(event(itemInSession=str(r.randint(1, 9)))),
        lambda r: _dump(event(itemInSession=r.choice([3.0, 3.5, 1e3]))),
        lambda r: _dump(event(artist=r.choice([True, False]))),
        lambda r: _dump(event(song={"title": "x"})),
        lambda r: _dump(event(location=["a", "b"])),
        lambda r: _dump(event(length=r.choice(["1.5", "", " ", "abc"]))),
        lambda r: _dump(event(ts=str(1541106106796))),
        lambda r: _dump(event(sessionId=2**64)),
        lambda r: _dump(event(status=float("nan"))),
        lambda r: _dump(event(auth=12.50)),
    ],
    "not valid JSON": [
        lambda r: _dump(event())[:-1],
        lambda r: _dump(event())[:-1] + ",}",
        lambda r: _dump(event())[:-1] + ', "userId": "9"}',  # a key given twice
        lambda r: r.choice(["[1, 2]", "null", "42", '"text"', "true"]),
        lambda r: _dump(event()) + _dump(event()),
        lambda r: _dump(event()) + " x",
        lambda r: '{"userId": "8", "ts": 1, "page": "a\tb"}',  # a raw control character
        lambda r: "{'userId': '8'}",
    ],
    "layout": [
        lambda r: _dump(event()) + "\n",  # a blank line after it
        lambda r: json.dumps(event(), indent=2),
        lambda r: _dump(event()) + "\r" + _dump(event()),  # a lone CR
        lambda r: "\ufeff" + _dump(event()),  # files concatenated: a BOM inside
        lambda r: "   " + _dump(event()),
    ],
}


@pytest.fixture
def spy(monkeypatch) -> dict[str, set]:
    """Which pieces (file, first line) and song files took the fast path."""
    taken: dict[str, set] = {"fast": set(), "slow": set()}
    parse_lines, parse_files = reading.parse_lines, reading.parse_files

    def lines(kind, key, first, raw):
        piece = parse_lines(kind, key, first, raw)
        taken["fast" if piece else "slow"].add((key, first))
        return piece

    def files(kind, group):
        pieces, others = parse_files(kind, group)
        taken["fast"].update((key, 1) for p in pieces for key in p.files)
        taken["slow"].update((key, 1) for key in others)
        return pieces, others

    monkeypatch.setattr(reading, "parse_lines", lines)
    monkeypatch.setattr(reading, "parse_files", files)
    return taken


STAGED = {
    "events": "select * from sparkify_staging.events_incoming",
    "songs": "select * from sparkify_staging.songs_incoming",
    "quarantine": "select * from sparkify_staging.quarantine_incoming",
    "files": "select * from sparkify_staging.incoming_files",
}


def _staged(warehouse: Path) -> dict[str, list[tuple]]:
    return {name: sorted(query(warehouse, sql), key=repr) for name, sql in STAGED.items()}


def _both_paths(lake: Path, tmp: Path, monkeypatch, kinds=("events", "songs")) -> tuple:
    results, tables = {}, {}
    for path in ("fast", "per-record"):
        monkeypatch.setenv("SPARKIFY_STAGING_FAST_PATH", "1" if path == "fast" else "0")
        run = prepared_run(lake, tmp / f"{path}.duckdb")
        results[path] = [
            (stage_events if kind == "events" else stage_songs).fn(run) for kind in kinds
        ]
        tables[path] = _staged(tmp / f"{path}.duckdb")
    return results, tables


def _assert_same(results: dict, tables: dict) -> None:
    for name in STAGED:
        assert tables["fast"][name] == tables["per-record"][name], name
    for fast, slow in zip(results["fast"], results["per-record"], strict=True):
        fast.seconds = slow.seconds = 0.0
        assert fast == slow


def _lines(r: random.Random, makers: list[Line], clean: int) -> list[str]:
    """Every maker's line, three times, among `clean` clean lines at random places (never
    first: a BOM opening a file is the file's, not a line's)."""
    lines = [_clean(r) for _ in range(clean)]
    for maker in makers * 3:
        lines.insert(r.randint(1, len(lines)), maker(r))
    return lines


@pytest.mark.parametrize("name", sorted(FAST))
@pytest.mark.parametrize("seed", CLASS_SEEDS)
def test_fast_classes_take_the_fast_path_and_decide_as_the_per_record_path(
    tmp_path: Path, monkeypatch, spy, name: str, seed: int
) -> None:
    r = random.Random(seed)
    lake = tmp_path / "lake"
    for day in range(1, 4):
        path = write_log(lake, f"2018-11-0{day}", _lines(r, FAST[name], clean=20))
        if day == seed:  # Windows line ends
            path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    results, tables = _both_paths(lake, tmp_path, monkeypatch, kinds=("events",))
    _assert_same(results, tables)
    assert len(spy["fast"]) == 3 and not spy["slow"]
    assert tables["fast"]["quarantine"] or name != "rejected values"
    # line numbers and raw text are the file's own, computed here from the lines written
    written = {
        (path.relative_to(lake).as_posix(), n): line
        for path in (lake / "log_data").rglob("*.json")
        for n, line in enumerate(path.read_bytes().decode().replace("\r\n", "\n").split("\n"), 1)
    }
    for _, source_file, line_number, _, raw_text in tables["fast"]["quarantine"]:
        assert written[(source_file, line_number)].replace("\x00", "") == raw_text


@pytest.mark.parametrize("name", sorted(SLOW))
@pytest.mark.parametrize("seed", CLASS_SEEDS)
def test_slow_classes_fall_back_and_decide_as_the_per_record_path(
    tmp_path: Path, monkeypatch, spy, name: str, seed: int
) -> None:
    r = random.Random(seed)
    lake = tmp_path / "lake"
    for i, maker in enumerate(SLOW[name]):
        write_log(lake, f"2018-11-{i + 1:02d}", _lines(r, [maker], clean=5))
    write_log(lake, "2018-12-01", [_clean(r) for _ in range(5)])
    results, tables = _both_paths(lake, tmp_path, monkeypatch, kinds=("events",))
    _assert_same(results, tables)
    assert {key for key, _ in spy["slow"]} == {
        f"log_data/2018/11/2018-11-{i + 1:02d}-events.json" for i in range(len(SLOW[name]))
    }
    assert {key for key, _ in spy["fast"]} == {"log_data/2018/12/2018-12-01-events.json"}


def test_a_random_mix_of_every_class_in_pieces_decides_as_the_per_record_path(
    tmp_path: Path, monkeypatch, spy
) -> None:
    """Files cut into small pieces (line numbers carried across pieces), each class mixed in."""
    monkeypatch.setattr(reading, "PIECE_BYTES", 2_000)
    r = random.Random(13)
    makers = [m for group in (*FAST.values(), *SLOW.values()) for m in group]
    lake = tmp_path / "lake"
    for day in range(1, 9):
        chosen = r.sample(makers, 6) if day % 3 else []
        write_log(lake, f"2018-11-{day:02d}", _lines(r, chosen, clean=r.randint(10, 60)))
    results, tables = _both_paths(lake, tmp_path, monkeypatch)
    _assert_same(results, tables)
    assert spy["fast"] and spy["slow"]
    assert any(first > 1 for _, first in spy["fast"])


def _song_files(lake: Path, texts: list[str]) -> None:
    for i, text in enumerate(texts):
        path = lake / "song_data" / "A" / chr(65 + i % 26) / f"TRFAST{i:010d}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)


SONGS_FAST: list[Callable[[random.Random], str]] = [
    lambda r: json.dumps(song(year=r.choice([0, 999, 2101, 1994]))),
    lambda r: json.dumps(song(artist_latitude=r.choice([91.0, -90.0, None, 45]))),
    lambda r: json.dumps(song(duration=r.choice([0, -1.0, 1e-9, 300]))),
    lambda r: json.dumps(song(song_id=r.choice(["", None]))),
    lambda r: json.dumps(song(artist_name=mojibake("Sigur Rós"), title="t   ")),
    lambda r: json.dumps(song(title="€" * 400, num_songs=2**31)),
    lambda r: json.dumps(song()) + r.choice(["\n", "\r\n", "  \n\n", "\t"]),
]
SONGS_SLOW: list[Callable[[random.Random], str | bytes]] = [
    lambda r: json.dumps(song(), indent=4),
    lambda r: json.dumps(song()) + "\n" + json.dumps(song()),
    lambda r: json.dumps(song(year="1994")),
    lambda r: json.dumps(song(artist_id=7)),
    lambda r: r.choice(["", "   \n", "[]", "null"]),
    lambda r: json.dumps(song())[:-1] + ",}",
    lambda r: json.dumps(song(title="Caf\u00e9"), ensure_ascii=False).encode("latin-1"),
    lambda r: " " + json.dumps(song()),
]


@pytest.mark.parametrize("seed", CLASS_SEEDS)
def test_song_files_decide_as_on_the_per_record_path(
    tmp_path: Path, monkeypatch, spy, seed: int
) -> None:
    r = random.Random(seed)
    lake = tmp_path / "lake"
    fast = [json.dumps(song()) for _ in range(30)] + [m(r) for m in SONGS_FAST for _ in range(3)]
    slow = [m(r) for m in SONGS_SLOW]
    texts = fast + slow
    r.shuffle(texts)
    _song_files(lake, texts)
    write_log(lake, "2018-11-01", [_clean(r)])
    results, tables = _both_paths(lake, tmp_path, monkeypatch, kinds=("songs",))
    _assert_same(results, tables)
    slow_keys = {key for key, _ in spy["slow"] if key.startswith("song_data")}
    assert len(slow_keys) == len(slow)
    assert len({key for key, _ in spy["fast"]}) == len(fast)


SEEDS = [int(s) for s in os.environ.get("FAST_PATH_SEEDS", "1,2,3").split(",")]
_SYNTAX = ["null", "{", "}", "[", "]", ",", ":", '"', "\\", "-", " ", "\t", "{}", '"a":']
_VALUES = ["1e999", "NaN", "true", "\\u0000", "\\ud800", "\\u00e9", "0", ".5", "\ufeff", "é"]
TOKENS = [*_SYNTAX, *_VALUES]


def _mutated(r: random.Random) -> str:
    """A clean line with a few random edits: tokens inserted, characters dropped or changed."""
    line = list(_clean(r))
    for _ in range(r.randint(1, 3)):
        pos = r.randint(1, len(line))
        edit = r.random()
        if edit < 0.5:
            line[pos:pos] = list(r.choice(TOKENS))
        elif edit < 0.8:
            del line[pos : pos + r.randint(1, 4)]
        elif pos < len(line):
            line[pos] = chr(r.randint(32, 126))
    return "".join(line)


@pytest.mark.parametrize("seed", SEEDS)
def test_randomly_mutated_lines_decide_as_on_the_per_record_path(
    tmp_path: Path, monkeypatch, spy, seed: int
) -> None:
    """Edits no class above names: each file holds one mutated line among clean ones, so
    every file the fast path takes holds it, and both paths must agree on it."""
    r = random.Random(seed)
    lake = tmp_path / "lake"
    for day in range(1, 29):
        write_log(lake, f"2018-11-{day:02d}", _lines(r, [_mutated], clean=3)[:4])
    results, tables = _both_paths(lake, tmp_path, monkeypatch, kinds=("events",))
    _assert_same(results, tables)
    assert spy["fast"] and spy["slow"]
