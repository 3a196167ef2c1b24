"""An independent, plain-Python statement of the star schema's semantics.

It shares no SQL with the pipeline: it reads the lake's files with `json` and applies the
rules as the issue states them, so a test comparing the warehouse with it checks the SQL
against the specification rather than against itself. Only valid records are modelled; the
bad-input tests assert what is rejected separately.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from tasks.text_repair import repair_mojibake

EPOCH = datetime(1970, 1, 1)
TEXT_FIELDS = ("artist", "song", "firstName", "lastName", "location", "userAgent")


def read_events(lake: Path) -> list[dict]:
    """Every valid event with its file and line, text repaired, in file-and-line order."""
    events = []
    for path in sorted((lake / "log_data").rglob("*.json")):
        key = path.relative_to(lake).as_posix()
        for number, line in enumerate(path.read_text("utf-8-sig").split("\n"), start=1):
            if not line.strip():
                continue
            event = json.loads(line)
            for name in TEXT_FIELDS:
                event[name] = repair_mojibake(event.get(name))
            if event.get("gender") == "":
                event["gender"] = None
            if isinstance(event.get("userId"), str) and not event["userId"].strip(" \t\r\n"):
                event["userId"] = ""  # blank: logged out, like an empty userId
            if event["userAgent"] and event["userAgent"].startswith('"'):
                event["userAgent"] = event["userAgent"][1:-1]
            events.append({**event, "_file": key, "_line": number})
    return events


def read_songs(lake: Path) -> list[dict]:
    songs = []
    for path in sorted((lake / "song_data").rglob("*.json")):
        song = json.loads(path.read_text("utf-8-sig"))
        songs.append({**song, "_file": path.relative_to(lake).as_posix()})
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
    for s in sorted(songs, key=lambda s: s["_file"]):
        first.setdefault(s["song_id"], s)
    return first


def _songs(songs: list[dict]) -> list[tuple]:
    first = _first_file_per_song(songs)
    return [
        (i, s["title"], s["artist_id"], s["year"] or None, s["duration"]) for i, s in first.items()
    ]


def _artists(songs: list[dict]) -> list[tuple]:
    by_artist: dict[str, list[dict]] = defaultdict(list)
    for s in sorted(songs, key=lambda s: (s["song_id"], s["_file"])):
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
