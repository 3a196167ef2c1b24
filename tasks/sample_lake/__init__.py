"""Generate a Sparkify lake with the real data's layout, format and quirks, for any size.

    python -m tasks.sample_lake --out sample_lake --songs 200 --events 20000 --days 30

The files match the public Udacity sample byte for byte in shape: one song object per
`song_data/A/B/C/TRABC….json` (`json.dumps` spacing, `\\u` escapes), one event per line in
`log_data/YYYY/MM/YYYY-MM-DD-events.json` (compact, `\\/` escaped, all 18 fields, `userId` a
string, `""` when logged out, `ts` epoch ms, `registration` a float, a quoted `userAgent`).

The quirks it reproduces, so the pipeline meets them before production does: logged-out
events, users whose level changes mid-period, artists under several names and with
disagreeing locations, empty locations, null coordinates, year 0, plays of songs that are not
in song_data, plays whose title and artist match but whose length does not (another
recording), and non-ASCII names double-encoded as UTF-8 in the logs. Deterministic for a seed.
"""

from __future__ import annotations

import argparse
import json
import random
import string
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

_ID_CHARS = string.ascii_uppercase + string.digits
_WORDS = [
    "Love",
    "Night",
    "Fire",
    "River",
    "Heart",
    "Dance",
    "Blue",
    "Gold",
    "Rain",
    "Dream",
    "Summer",
    "Road",
    "Shadow",
    "Light",
    "City",
    "Song",
    "Home",
    "Wild",
    "Young",
    "Electric",
    "Silver",
    "Stone",
    "Ocean",
    "Moon",
    "Sun",
    "Storm",
    "Train",
    "Angel",
    "Fever",
    "Glass",
    "Paper",
    "Velvet",
    "Thunder",
    "Honey",
    "Midnight",
    "Morning",
    "Highway",
    "Window",
    "Garden",
    "Echo",
    "Mirror",
    "Radio",
    "Crystal",
]
_ACCENTED = [
    "Café",
    "Niño",
    "Björk",
    "Señorita",
    "Déjà",
    "Mañana",
    "Révolution",
    "São",
    "Über",
    "Fiancée",
    "Noël",
    "Düsseldorf",
]
_FIRST = [
    "Walter",
    "Kaylee",
    "Lily",
    "Jacob",
    "Ava",
    "Tegan",
    "Chloe",
    "Aleena",
    "Mohammad",
    "Jayden",
    "Ryan",
    "Layla",
    "Kate",
]
_LAST = [
    "Frye",
    "Summers",
    "Koch",
    "Klein",
    "Robinson",
    "Levine",
    "Cuevas",
    "Kirby",
    "Rodriguez",
    "Graves",
    "Smith",
    "Hill",
]
_PLACES = [
    "San Francisco-Oakland-Hayward, CA",
    "Phoenix-Mesa-Scottsdale, AZ",
    "Chicago-Naperville-Elgin, IL-IN-WI",
    "Atlanta-Sandy Springs-Roswell, GA",
    "New York-Newark-Jersey City, NY-NJ-PA",
    "Lansing-East Lansing, MI",
    "Houston-The Woodlands-Sugar Land, TX",
    "Portland-South Portland, ME",
]
_ARTIST_PLACES = [
    "London, England",
    "Detroit, MI",
    "Kingston, Jamaica",
    "Paris, France",
    "Oslo, Norway",
]
_AGENTS = (
    '"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_4) AppleWebKit/537.36 (KHTML, like Gecko) '
    'Chrome/36.0.1985.143 Safari/537.36"',
    '"Mozilla/5.0 (Windows NT 6.1; WOW64; rv:31.0) Gecko/20100101 Firefox/31.0"',
    '"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) '
    'Ubuntu Chromium/36.0.1985.125 Chrome/36.0.1985.125 Safari/537.36"',
    '"Mozilla/5.0 (iPhone; CPU iPhone OS 7_1_2 like Mac OS X) AppleWebKit/537.51.2 '
    '(KHTML, like Gecko) Version/7.0 Mobile/11D257 Safari/9537.53"',
)
_OTHER_PAGES = (
    "Home",
    "Thumbs Up",
    "Add to Playlist",
    "Thumbs Down",
    "Add Friend",
    "Settings",
    "Help",
    "About",
    "Error",
    "Downgrade",
    "Upgrade",
    "Save Settings",
)
_LOGGED_OUT_PAGES = ("Home", "Login", "About", "Help")


@dataclass(frozen=True)
class LakeSpec:
    """How big a lake to write and how messy to make it."""

    songs: int = 200
    events: int = 20_000
    days: int = 30
    users: int = 100
    start: date = date(2018, 11, 1)
    seed: int = 42
    matched_share: float = 0.30
    other_recording_share: float = 0.05


@dataclass
class LakeStats:
    song_files: int = 0
    log_files: int = 0
    events: int = 0
    next_song_events: int = 0
    artists: int = 0
    users: int = 0


@dataclass
class _User:
    user_id: str
    first: str
    last: str
    gender: str
    location: str
    agent: str
    registration: float
    level: str
    switch_ms: int | None = None

    def level_at(self, ts: int) -> str:
        if self.switch_ms is not None and ts >= self.switch_ms:
            return "paid" if self.level == "free" else "free"
        return self.level


def generate_lake(out: Path, spec: LakeSpec = LakeSpec()) -> LakeStats:
    """Write a lake under `out` (song_data/ and log_data/) and say what it holds."""
    rng = random.Random(spec.seed)
    stats = LakeStats()
    catalogue, stats.artists = _write_songs(out, spec, rng)
    stats.song_files = len(catalogue)
    outside = [
        (_title(rng, 0.03), _name(rng, 0.03) + " Band", round(rng.uniform(90, 480), 5))
        for _ in range(max(50, spec.songs * 3))
    ]
    users = _users(spec, rng)
    stats.users = len(users)
    per_day, extra = divmod(spec.events, spec.days)
    for offset in range(spec.days):
        day = spec.start + timedelta(days=offset)
        target = per_day + (1 if offset < extra else 0)
        events = _day_events(day, target, users, catalogue, outside, spec, rng)
        stats.events += len(events)
        stats.next_song_events += sum(1 for e in events if e["page"] == "NextSong")
        if events:
            _write_log(out, day, events)
            stats.log_files += 1
    return stats


def _write_songs(out: Path, spec: LakeSpec, rng: random.Random) -> tuple[list[dict], int]:
    artists = [_artist(rng) for _ in range(max(1, spec.songs * 7 // 10))]
    songs: list[dict] = []
    taken: set[str] = set()
    for i in range(spec.songs):
        artist = artists[i] if i < len(artists) else rng.choice(artists)
        name = artist["name"]
        if artist["alias"] and rng.random() < 0.5:
            name = artist["alias"]
        song = {
            "num_songs": 1,
            "artist_id": artist["id"],
            "artist_latitude": None if rng.random() < 0.2 else artist["latitude"],
            "artist_longitude": None,
            "artist_location": "" if rng.random() < 0.2 else artist["location"],
            "artist_name": name,
            "song_id": _new_id(rng, "SO", taken),
            "title": _title(rng, 0.08),
            "duration": round(rng.uniform(90, 480), 5),
            "year": 0 if rng.random() < 0.3 else rng.randint(1955, 2010),
        }
        if song["artist_latitude"] is not None:
            song["artist_longitude"] = artist["longitude"]
        track = _new_id(rng, "TR", taken)
        path = out / "song_data" / track[2] / track[3] / track[4] / f"{track}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(song), encoding="utf-8")
        songs.append(song)
    return songs, len(artists)


def _artist(rng: random.Random) -> dict:
    name = _name(rng, 0.1)
    known = rng.random() < 0.45
    return {
        "id": "AR" + "".join(rng.choices(_ID_CHARS, k=16)),
        "name": name,
        "alias": f"{name} featuring {_name(rng, 0)}" if rng.random() < 0.15 else None,
        "location": rng.choice(_ARTIST_PLACES) if rng.random() < 0.75 else "",
        "latitude": round(rng.uniform(-60, 70), 5) if known else None,
        "longitude": round(rng.uniform(-150, 150), 5) if known else None,
    }


def _users(spec: LakeSpec, rng: random.Random) -> list[_User]:
    start_ms = _epoch_ms(spec.start)
    period_ms = spec.days * 86_400_000
    users = []
    for i in range(spec.users):
        user = _User(
            user_id=str(i + 2),
            first=rng.choice(_FIRST),
            last=rng.choice(_LAST),
            gender=rng.choice("MF"),
            location=rng.choice(_PLACES),
            agent=rng.choice(_AGENTS),
            registration=float(start_ms - rng.randint(1, 400) * 86_400_000 - rng.randint(0, 999)),
            level="free" if rng.random() < 0.7 else "paid",
        )
        if rng.random() < 0.25:
            user.switch_ms = start_ms + rng.randint(0, period_ms)
        users.append(user)
    return users


def _day_events(day, target, users, catalogue, outside, spec, rng) -> list[dict]:
    day_ms = _epoch_ms(day)
    events: list[dict] = []
    while len(events) < target:
        session_id = rng.randint(1, 9_999)
        ts = day_ms + rng.randint(0, 86_399_000)
        if rng.random() < 0.04:
            events.extend(_logged_out_session(session_id, ts, day_ms, rng))
            continue
        user = rng.choice(users)
        for item in range(min(target - len(events), rng.randint(1, 40))):
            event = _event(user, session_id, item, ts, catalogue, outside, spec, rng)
            events.append(event)
            ts += int((event["length"] or rng.uniform(5, 60)) * 1000) + rng.randint(0, 999)
            if ts >= day_ms + 86_400_000:
                break
    events.sort(key=lambda e: (e["ts"], e["userId"], e["itemInSession"]))
    return events[:target]


def _event(user, session_id, item, ts, catalogue, outside, spec, rng) -> dict:
    level = user.level_at(ts)
    page = "NextSong" if rng.random() < 0.82 else rng.choice(_OTHER_PAGES)
    artist = song = length = None
    if page == "NextSong":
        roll = rng.random()
        if roll < spec.matched_share:
            pick = rng.choice(catalogue)
            artist, song, length = pick["artist_name"], pick["title"], pick["duration"]
        elif roll < spec.matched_share + spec.other_recording_share:
            pick = rng.choice(catalogue)
            drift = rng.uniform(1, 30)
            artist, song, length = (
                pick["artist_name"],
                pick["title"],
                round(pick["duration"] + drift, 5),
            )
        else:
            song, artist, length = rng.choice(outside)
    return {
        "artist": _mojibake(artist),
        "auth": "Logged In",
        "firstName": user.first,
        "gender": user.gender,
        "itemInSession": item,
        "lastName": user.last,
        "length": length,
        "level": level,
        "location": user.location,
        "method": "PUT" if page == "NextSong" else "GET",
        "page": page,
        "registration": user.registration,
        "sessionId": session_id,
        "song": _mojibake(song),
        "status": 404 if page == "Error" else 200,
        "ts": ts,
        "userAgent": user.agent,
        "userId": user.user_id,
    }


def _logged_out_session(session_id: int, ts: int, day_ms: int, rng: random.Random) -> list[dict]:
    events = []
    for item in range(rng.randint(1, 3)):
        events.append(
            {
                "artist": None,
                "auth": "Logged Out",
                "firstName": None,
                "gender": None,
                "itemInSession": item,
                "lastName": None,
                "length": None,
                "level": "free",
                "location": None,
                "method": "GET",
                "page": rng.choice(_LOGGED_OUT_PAGES),
                "registration": None,
                "sessionId": session_id,
                "song": None,
                "status": 200,
                "ts": min(ts + item * 7_000, day_ms + 86_399_999),
                "userAgent": None,
                "userId": "",
            }
        )
    return events


def _write_log(out: Path, day: date, events: list[dict]) -> None:
    path = out / "log_data" / f"{day:%Y}" / f"{day:%m}" / f"{day:%Y-%m-%d}-events.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    text = "\n".join(dumps(e) for e in events).replace("/", "\\/")
    path.write_text(text + "\n", encoding="utf-8")


def _mojibake(text: str | None) -> str | None:
    """Encode non-ASCII text the way the real logs carry it: UTF-8 read as Latin-1, twice."""
    if text is None or text.isascii():
        return text
    for _ in range(2):
        text = text.encode("utf-8").decode("latin-1")
    return text


def _title(rng: random.Random, accented: float) -> str:
    words = rng.sample(_WORDS, rng.randint(1, 4))
    if rng.random() < accented:
        words[rng.randrange(len(words))] = rng.choice(_ACCENTED)
    return " ".join(words)


def _name(rng: random.Random, accented: float) -> str:
    first = rng.choice(_ACCENTED) if rng.random() < accented else rng.choice(_WORDS)
    return f"{first} {rng.choice(_LAST)}" if rng.random() < 0.6 else f"The {first}s"


def _new_id(rng: random.Random, prefix: str, taken: set[str]) -> str:
    while True:
        candidate = prefix + "".join(rng.choices(_ID_CHARS, k=16))
        if candidate not in taken:
            taken.add(candidate)
            return candidate


def _epoch_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tasks.sample_lake",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", type=Path, required=True, help="directory to write the lake to")
    parser.add_argument("--songs", type=int, default=LakeSpec.songs)
    parser.add_argument("--events", type=int, default=LakeSpec.events)
    parser.add_argument("--days", type=int, default=LakeSpec.days)
    parser.add_argument("--users", type=int, default=LakeSpec.users)
    parser.add_argument("--start", type=date.fromisoformat, default=LakeSpec.start)
    parser.add_argument("--seed", type=int, default=LakeSpec.seed)
    args = parser.parse_args(argv)
    spec = LakeSpec(
        songs=args.songs,
        events=args.events,
        days=args.days,
        users=args.users,
        start=args.start,
        seed=args.seed,
    )
    stats = generate_lake(args.out, spec)
    print(
        f"wrote {args.out}: {stats.song_files:,} song files ({stats.artists:,} artists), "
        f"{stats.log_files:,} log files, {stats.events:,} events "
        f"({stats.next_song_events:,} NextSong), {stats.users:,} users"
    )
