"""One definition of a valid record: whatever staging accepts, every quality check passes.

A seeded generator writes events and songs whose fields take the odd values real lakes hold
(numbers in text fields, numeric strings, blank and oversized text, NUL characters, trailing
blanks, any gender, ids of any shape, impossible years and coordinates, fractions and booleans
where integers belong). Staging quarantines what breaks the declarations in `tasks.records`;
the tables built from what it accepts must then pass every check compiled from
`tasks.model.contracts`, whatever the draw.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from tasks.build import build_table
from tasks.check import check_table
from tasks.model.tables import MARTS
from tasks.stage import stage_events, stage_songs
from tests.factories import event, prepared_run, song

ODD_TEXT = [
    "", " ", "  padded  ", "x" * 1500, "é" * 700, "Kay\u0000lee", 112, 27.50, 2562, True,
    None, "CafÃ©", "曲 🎵", "\t", "a\nb", "\"quoted\"", {"o": 1}, [1], "-0", "1e3",
]  # fmt: skip
ODD_NUMBER = [0, -1, 1.5, 3.0, "583", "246.3", "fast", True, None, 1e308, "1e400", [2], -0.0]
ODD_ID = ["SOAAA", "spotify:7ouMYWpwJ422", "", " ", "S" * 33, "é" * 20, 12345, "ID  ", None]
ODD_YEAR = [0, 201, 1994, "1994", 3000, 1994.5, -5, 3_000_000_000, None, "x"]
ODD_COORD = [95.0, -91, 45.5, "35.5", None, "north", 200.0, True]
ODD_LEVEL = ["free", "paid", "gold", " free", "free ", None, 1]


def _odd_event(rng: random.Random, i: int) -> dict:
    record = event(ts=1541106106796 + i * 1000, userId=str(rng.randint(1, 12)))
    for name in ("artist", "song", "firstName", "lastName", "location", "userAgent", "gender",
                 "auth", "method"):  # fmt: skip
        if rng.random() < 0.3:
            record[name] = rng.choice(ODD_TEXT)
    for name in ("length", "itemInSession", "sessionId", "status", "registration"):
        if rng.random() < 0.2:
            record[name] = rng.choice(ODD_NUMBER)
    if rng.random() < 0.2:
        record["userId"] = rng.choice([*ODD_ID, "", "  "])
    if rng.random() < 0.2:
        record["level"] = rng.choice(ODD_LEVEL)
    if rng.random() < 0.1:
        record["ts"] = rng.choice(["1541106106796", -5, 1541106106796.5, 32_503_680_000_000])
    return record


def _odd_song(rng: random.Random) -> dict:
    record = song()
    for name in ("song_id", "artist_id"):
        if rng.random() < 0.3:
            record[name] = rng.choice(ODD_ID)
    for name in ("title", "artist_name", "artist_location"):
        if rng.random() < 0.3:
            record[name] = rng.choice(ODD_TEXT)
    if rng.random() < 0.4:
        record["year"] = rng.choice(ODD_YEAR)
    for name in ("artist_latitude", "artist_longitude"):
        if rng.random() < 0.4:
            record[name] = rng.choice(ODD_COORD)
    if rng.random() < 0.2:
        record["duration"] = rng.choice(ODD_NUMBER)
    return record


def _write_lake(lake: Path, seed: int) -> None:
    rng = random.Random(seed)
    songs = [_odd_song(rng) for _ in range(80)]
    events = [_odd_event(rng, i) for i in range(600)]
    for i, s in enumerate(songs):  # plays of catalogue songs, so songplays match some
        if isinstance(s["title"], str) and isinstance(s["artist_name"], str):
            events[i].update(song=s["title"], artist=s["artist_name"], length=s["duration"])
    for i, record in enumerate(songs):
        path = lake / "song_data" / "O" / "D" / f"TRODD{i:05d}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record), encoding="utf-8")
    path = lake / "log_data" / "2018" / "11" / "2018-11-01-events.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(json.dumps(e) for e in events) + "\n", encoding="utf-8")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_record_staging_accepts_never_fails_a_check(tmp_path: Path, seed: int) -> None:
    _write_lake(tmp_path / "lake", seed)
    run = prepared_run(tmp_path / "lake", tmp_path / "w.duckdb", max_rejected_share=1.0)
    events, songs = stage_events.fn(run), stage_songs.fn(run)
    assert events.accepted and events.rejected and songs.accepted and songs.rejected
    for table in MARTS:
        build_table.fn(run, table)
    failed = [r for table in MARTS for r in check_table.fn(run, table) if not r.passed]
    assert failed == []
