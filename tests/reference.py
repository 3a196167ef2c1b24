"""An independent, plain-Python statement of the star schema's semantics.

It shares no SQL with the pipeline: it reads the lake's files with `json` and applies the
rules as the issue states them, so a test comparing the warehouse with it checks the SQL
against the specification rather than against itself. Only valid records are modelled; the
bad-input tests assert what is rejected separately.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from tasks.records.text_repair import repair_mojibake

EPOCH = datetime(1970, 1, 1)
TEXT_FIELDS = ("artist", "song", "firstName", "lastName", "location", "userAgent")
# The issue's value rules, restated: text columns' sizes in bytes (free text is cut to fit),
# and the numeric fields of each kind (a string holding a number is that number).
EVENT_TEXT_BYTES = {"artist": 1024, "song": 1024, "firstName": 256, "lastName": 256,
                    "location": 1024, "userAgent": 1024, "gender": 16, "auth": 32,
                    "method": 16, "level": 16, "page": 64, "userId": 64}  # fmt: skip
SONG_TEXT_BYTES = {"artist_id": 32, "artist_location": 1024, "artist_name": 1024,
                   "song_id": 32, "title": 1024}  # fmt: skip
EVENT_NUMBERS = {"itemInSession": int, "sessionId": int, "status": int, "ts": int,
                 "length": float, "registration": float}  # fmt: skip
SONG_NUMBERS = {"num_songs": int, "year": int, "duration": float, "artist_latitude": float,
                "artist_longitude": float}  # fmt: skip


def _values(path: Path) -> list[tuple[int, dict]]:
    """Every JSON value of a file with the line it starts on (numbers kept as written)."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    text = raw.decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")
    decoder = json.JSONDecoder(parse_float=Decimal)
    values, pos = [], 0
    while True:
        while pos < len(text) and text[pos] in " \t\n":
            pos += 1
        if pos == len(text):
            return values
        value, end = decoder.raw_decode(text, pos)
        values.append((text.count("\n", 0, pos) + 1, value))
        pos = end


def _text(value: object, size: int | None = None) -> str | None:
    """A text field's value: numbers as written, NULs and trailing blanks dropped, cut to fit."""
    if value is None:
        return None
    text = str(value).replace("\x00", "").rstrip(" ")
    return text if size is None else text.encode("utf-8")[:size].decode("utf-8", "ignore")


def _number(value: object, kind: type) -> int | float | None:
    return None if value is None else kind(Decimal(str(value)))


def _lake_files(folder: Path) -> list[Path]:
    """Files named `*.json*`, or with no extension at all; no hidden, `_` or README files."""
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and not p.name.startswith((".", "_"))
        and not p.name.lower().startswith("readme")
        and (".json" in p.name.lower() or "." not in p.name)
    )


def read_events(lake: Path) -> list[dict]:
    """Every valid event with its file and line, text repaired, in file-and-line order."""
    events = []
    for path in _lake_files(lake / "log_data"):
        key = path.relative_to(lake).as_posix()
        for number, record in _values(path):
            event = dict(record)
            for name in EVENT_TEXT_BYTES:
                value = _text(event.get(name))
                event[name] = repair_mojibake(value) if name in TEXT_FIELDS else value
            for name, kind in EVENT_NUMBERS.items():
                event[name] = _number(event.get(name), kind)
            if event.get("gender") == "":
                event["gender"] = None
            if isinstance(event.get("userId"), str) and not event["userId"].strip(" \t\r\n"):
                event["userId"] = ""  # blank: logged out, like an empty userId
            agent = event["userAgent"]
            if agent and len(agent) >= 2 and agent[0] == agent[-1] == '"':
                event["userAgent"] = agent[1:-1]
            for name, size in EVENT_TEXT_BYTES.items():  # free text cut to its column's bytes
                if event[name] is not None:
                    event[name] = event[name].encode("utf-8")[:size].decode("utf-8", "ignore")
            events.append({**event, "_file": key, "_line": number})
    return events


def read_songs(lake: Path) -> list[dict]:
    """Every song object, a file's several in order; impossible years and coordinates unknown."""
    songs = []
    for path in _lake_files(lake / "song_data"):
        for number, record in _values(path):
            s = dict(record)
            for name, size in SONG_TEXT_BYTES.items():
                s[name] = _text(s.get(name), size)
            for name, kind in SONG_NUMBERS.items():
                s[name] = _number(s.get(name), kind)
            if s["year"] is not None and not 1000 <= s["year"] <= 2100:
                s["year"] = None
            if s["artist_latitude"] is not None and not -90 <= s["artist_latitude"] <= 90:
                s["artist_latitude"] = None
            if s["artist_longitude"] is not None and not -180 <= s["artist_longitude"] <= 180:
                s["artist_longitude"] = None
            songs.append({**s, "_file": path.relative_to(lake).as_posix(), "_line": number})
    return songs


def star_schema(lake: Path) -> dict[str, list[tuple]]:
    """The five tables, each as a sorted list of row tuples in the published column order."""
    events, songs = read_events(lake), read_songs(lake)
    plays = _plays(events)
    catalogue = list(_first_file_per_song(songs).values())
    return {
        "songplays": sorted(_songplay(p, catalogue) for p in plays),
        "users": sorted(_users(events)),
        "songs": sorted(_songs(songs)),
        "artists": sorted(_artists(songs)),
        "time": sorted({_time_row(p["_start"]) for p in plays}),
    }


def _plays(events: list[dict]) -> list[dict]:
    seen, plays = set(), []
    for e in events:
        if e["page"] != "NextSong" or e["userId"] == "":
            continue
        identity = f"{e['userId']}|{e['sessionId']}|{e['itemInSession']}|{e['ts']}"
        if identity in seen:
            continue
        seen.add(identity)
        start = EPOCH + timedelta(milliseconds=e["ts"])
        plays.append({**e, "_id": hashlib.md5(identity.encode()).hexdigest(), "_start": start})
    return plays


def _songplay(play: dict, catalogue: list[dict]) -> tuple:
    matches = sorted(
        (s["song_id"], s["artist_id"])
        for s in catalogue
        if s["title"] == play["song"]
        and s["artist_name"] == play["artist"]
        and abs(Decimal(repr(s["duration"])) - Decimal(repr(play["length"]))) <= Decimal("0.001")
    )
    song_id, artist_id = matches[0] if matches else (None, None)
    return (
        play["_id"],
        play["_start"],
        play["userId"],
        play["level"],
        song_id,
        artist_id,
        play["sessionId"],
        play["location"],
        play["userAgent"],
    )


def _users(events: list[dict]) -> list[tuple]:
    latest: dict[str, dict] = {}
    order = lambda e: (e["ts"], e["sessionId"], e["itemInSession"], e["_file"], e["_line"])  # noqa: E731
    for e in events:
        if e["userId"] and (e["userId"] not in latest or order(e) > order(latest[e["userId"]])):
            latest[e["userId"]] = e
    return [(u, e["firstName"], e["lastName"], e["gender"], e["level"]) for u, e in latest.items()]


def _first_file_per_song(songs: list[dict]) -> dict[str, dict]:
    first: dict[str, dict] = {}
    for s in sorted(songs, key=lambda s: (s["_file"], s["_line"])):
        first.setdefault(s["song_id"], s)
    return first


def _songs(songs: list[dict]) -> list[tuple]:
    first = _first_file_per_song(songs)
    return [
        (i, s["title"], s["artist_id"], s["year"] or None, s["duration"]) for i, s in first.items()
    ]


def _artists(songs: list[dict]) -> list[tuple]:
    by_artist: dict[str, list[dict]] = defaultdict(list)
    for s in sorted(songs, key=lambda s: (s["song_id"], s["_file"], s["_line"])):
        by_artist[s["artist_id"]].append(s)
    rows = []
    for artist_id, own in by_artist.items():
        location = next(
            (
                s["artist_location"].strip()
                for s in own
                if s["artist_location"] and s["artist_location"].strip()
            ),
            None,
        )
        placed = next(
            (
                s
                for s in own
                if s["artist_latitude"] is not None and s["artist_longitude"] is not None
            ),
            None,
        )
        rows.append(
            (
                artist_id,
                own[0]["artist_name"],
                location,
                placed["artist_latitude"] if placed else None,
                placed["artist_longitude"] if placed else None,
            )
        )
    return rows


def _time_row(start: datetime) -> tuple:
    return (
        start,
        start.hour,
        start.day,
        start.isocalendar().week,
        start.month,
        start.year,
        start.isoweekday() % 7,
    )
