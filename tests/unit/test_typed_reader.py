"""The fast path's layout check, against a plain reading of the same bytes: a piece is taken
only if every line opens with `{`, no CR stands alone, the bytes are UTF-8 and no line is over
4 MB; then it holds one record per line. Pieces are generated from lines of every kind."""

from __future__ import annotations

import json
import random

import pytest

from tasks.records import typed
from tasks.records.fields import MAX_RECORD_BYTES

LINES = [b'{"a": 1}', b"{}", b"", b"   ", b' {"a": 1}', b"[1]", b"null", b'"x"', b"}"]
LINES += [b"\xef\xbb\xbf{}", b'{"a": "\xc3\xa9"}', b'{"a": "\xff"}', b'{"a": 1}\r', b"\r{}"]


def _expected(raw: bytes) -> int:
    """How many records the piece holds if its layout is clean, else 0, read plainly."""
    if not raw:
        return 0
    *ended, last = raw.split(b"\n")  # `last` is what follows the final line end
    lines = [line[:-1] if line.endswith(b"\r") else line for line in ended]  # CRLF
    if last:
        lines.append(last)
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return 0
    clean = all(
        line.startswith(b"{") and b"\r" not in line and len(line) <= MAX_RECORD_BYTES
        for line in lines
    )
    return len(lines) if clean else 0


@pytest.mark.parametrize("seed", range(5))
def test_clean_lines_agrees_with_a_plain_reading(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(2000):
        lines = [rng.choice(LINES) for _ in range(rng.randrange(1, 6))]
        ending = rng.choice([b"\n", b"\r\n"])
        raw = ending.join(lines) + rng.choice([b"", ending])
        assert typed.clean_lines(raw) == _expected(raw), raw


def test_a_line_over_the_record_limit_is_not_taken() -> None:
    long = b'{"a": "' + b"x" * MAX_RECORD_BYTES + b'"}'
    assert typed.clean_lines(b"{}\n" + long + b"\n{}\n") == 0
    assert typed.clean_lines(b"{}\n" + long[: MAX_RECORD_BYTES - 10] + b'"}\n{}\n') == 3


def test_record_texts_are_the_lines_without_their_ends() -> None:
    raw = b'{"a": 1}\r\n{"b": "\xc3\xa9"}\r\n{"c": 3}'
    piece = typed.parse_lines("events", "k", 7, raw)
    assert piece is not None and piece.table.column("line_number").to_pylist() == [7, 8, 9]
    assert typed.record_texts(piece, "k", [9, 7, 8]) == ['{"c": 3}', '{"a": 1}', '{"b": "é"}']


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_run_of_song_files_keeps_every_good_file_typed_and_sends_only_the_bad_ones_on(
    seed: int, monkeypatch
) -> None:
    """One call parses a run of song files; a file Arrow refuses fails the whole call, so the
    run is halved until each bad file is alone: exactly the bad files go to the per-record
    path, the good ones stay typed in their order, in far fewer calls than one per file."""
    rng = random.Random(seed)
    files, bad = [], set()
    for i in range(600):
        record = {"song_id": f"SO{i}", "title": "t", "artist_id": "AR", "artist_name": "a",
                  "duration": 1.5, "year": 2000, "num_songs": 1}  # fmt: skip
        if rng.random() < 0.01:
            record["duration"] = rng.choice(['"1.5"', "true", "[1]"])  # not a number
            text = json.dumps(record).replace(f'"{record["duration"]}"', record["duration"])
            bad.add(f"song_data/{i:04}.json")
        else:
            text = json.dumps(record)
        files.append((f"song_data/{i:04}.json", text.encode()))
    assert bad
    calls = []
    parse = typed._parse
    monkeypatch.setattr(typed, "_parse", lambda *args: calls.append(1) or parse(*args))
    pieces, others = typed.parse_files("songs", files)
    assert set(others) == bad
    typed_keys = [key for piece in pieces for key in piece.files]
    assert typed_keys == [key for key, _ in files if key not in bad]
    assert sum(piece.table.num_rows for piece in pieces) == len(files) - len(bad)
    titles = [row for piece in pieces for row in piece.table.column("song_id").to_pylist()]
    assert titles == [f"SO{int(key[10:14])}" for key in typed_keys]  # each row is its file's
    assert len(calls) <= 1 + len(bad) * (2 * 6 + 16)  # log2(600 / 16) < 6 halvings, then 16
