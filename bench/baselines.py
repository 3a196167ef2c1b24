"""The baselines the pipeline benchmark measures the project against, on the same lake.

- `cat_floor`: every lake byte read once (`cat` of all files to /dev/null): no loader is faster.
- `concatenated_floor`: DuckDB parsing one pre-concatenated NDJSON file per kind (the small-file
  problem removed; concatenating is not timed).
- `typed_read_json`: DuckDB's own reader parsing the log files with the 18 declared fields
  typed, into a table of a DuckDB file: the speed the fast path of staging is measured against.
- `naive`: DuckDB `read_json` over the raw globs into staging tables, then this project's own
  transforms (sql/marts/): set-based, but no validation, no quarantine, no line provenance.
  Text normalisation (repair, userAgent quotes) is kept, so its tables must equal ours.
- `row_by_row`: the tutorials' loop: parse each file in Python, insert row by row, look each
  play's song up with its own query. Run on a subset and scaled by record count.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import duckdb

from tasks.common.sql_files import render
from tasks.model.tables import MARTS
from tasks.records.fields import FIELDS
from tasks.warehouse.duckdb.session import _register_functions

NAIVE_EVENTS = """
create table sparkify_staging.events_next as
select
    repair_text(artist) as artist, auth, repair_text(firstName) as first_name,
    nullif(gender, '') as gender, itemInSession as item_in_session,
    repair_text(lastName) as last_name, length, level, repair_text(location) as location,
    method, page, registration, sessionId as session_id, repair_text(song) as song, status, ts,
    regexp_replace(repair_text(userAgent), '^"(.*)"$', '\\1') as user_agent,
    cast(userId as varchar) as user_id, filename as source_file,
    row_number() over (partition by filename) as line_number
from read_json(?, format = 'newline_delimited', filename = true)
"""
NAIVE_SONGS = """
create table sparkify_staging.songs_next as
select
    num_songs, artist_id, artist_latitude, artist_longitude,
    repair_text(artist_location) as artist_location, repair_text(artist_name) as artist_name,
    song_id, repair_text(title) as title, duration, year, filename as source_file,
    cast(null as bigint) as line_number
from read_json(?, filename = true)
"""


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def lake_files(lake: Path) -> list[Path]:
    return sorted(p for p in lake.rglob("*.json") if p.is_file())


def cat_floor(lake: Path, repeats: int = 3) -> float:
    """Seconds to read every file under `lake` once with `cat` (file list made beforehand);
    the best of `repeats`, since a floor is the least the reading can cost (the first pass may
    still be filling the page cache, and every other figure is taken warm)."""
    listing = "\0".join(str(p) for p in lake_files(lake)).encode()

    def run() -> None:
        subprocess.run(["xargs", "-0", "cat"], input=listing, stdout=subprocess.DEVNULL, check=True)

    return min(timed(run) for _ in range(repeats))


def concatenated_floor(lake: Path, scratch: Path) -> dict[str, float]:
    """Seconds for DuckDB to parse each kind's records from one NDJSON file."""
    seconds = {}
    for kind, folder in (("events", "log_data"), ("songs", "song_data")):
        target = scratch / f"{kind}.ndjson"
        with target.open("wb") as out:
            for path in sorted((lake / folder).rglob("*.json")):
                data = path.read_bytes()
                out.write(data if data.endswith(b"\n") else data + b"\n")
        con = duckdb.connect()
        started = time.perf_counter()
        con.execute(
            "create table t as select * from read_json(?, format = 'newline_delimited')",
            [str(target)],
        )
        seconds[kind] = time.perf_counter() - started
        con.close()
        target.unlink()
    return seconds


_DUCKDB_TYPES = {"text": "VARCHAR", "integer": "INTEGER", "bigint": "BIGINT", "number": "DOUBLE"}


def typed_read_json(lake: Path, warehouse: Path) -> float:
    """Seconds for DuckDB's `read_json` to load every log line, its declared fields typed (no
    validation beyond DuckDB's casts, no quarantine, no line numbers), into a table."""
    columns = ", ".join(f"'{f.json}': '{_DUCKDB_TYPES[f.kind]}'" for f in FIELDS["events"])
    con = duckdb.connect(str(warehouse))
    seconds = timed(
        lambda: con.execute(
            "create table events as select * from read_json(?, format = 'newline_delimited', "
            f"filename = true, columns = {{{columns}}})",
            [str(lake / "log_data" / "**" / "*.json")],
        )
    )
    con.close()
    return seconds


def naive(lake: Path, warehouse: Path) -> dict[str, float]:
    """The naive set-based pipeline into a fresh DuckDB file; seconds per step."""
    con = duckdb.connect(str(warehouse))
    _register_functions(con)
    con.execute(render("parse/repair_text", "duckdb"))
    con.execute("create schema sparkify_staging")
    seconds = {
        "events": timed(
            lambda: con.execute(NAIVE_EVENTS, [str(lake / "log_data" / "**" / "*.json")])
        ),
        "songs": timed(
            lambda: con.execute(NAIVE_SONGS, [str(lake / "song_data" / "**" / "*.json")])
        ),
    }

    def transforms() -> None:
        for table in MARTS:
            select = render(f"marts/{table}", "duckdb", is_incremental=False)
            con.execute(f'create table "{table}" as {select}')

    seconds["transforms"] = timed(transforms)
    con.close()
    return seconds


def row_by_row(lake: Path, events: int, song_files: int) -> tuple[float, int, int]:
    """The tutorial loop on the first `song_files` song files and `events` log lines.

    Returns (seconds, song files done, events done); the caller scales by record count.
    """
    con = duckdb.connect()
    con.execute("create table songs (song_id varchar primary key, title varchar, "
                "artist_id varchar, year integer, duration double)")  # fmt: skip
    con.execute("create table artists (artist_id varchar primary key, name varchar, "
                "location varchar, latitude double, longitude double)")  # fmt: skip
    con.execute("create table users (user_id varchar primary key, first_name varchar, "
                "last_name varchar, gender varchar, level varchar)")  # fmt: skip
    con.execute("create table time (start_time timestamp primary key, hour int, day int, "
                "week int, month int, year int, weekday int)")  # fmt: skip
    con.execute("create table songplays (songplay_id integer, start_time timestamp, "
                "user_id varchar, level varchar, song_id varchar, artist_id varchar, "
                "session_id bigint, location varchar, user_agent varchar)")  # fmt: skip
    songs_done = events_done = 0
    started = time.perf_counter()
    for path in sorted((lake / "song_data").rglob("*.json"))[:song_files]:
        s = json.loads(path.read_text())
        con.execute(
            "insert into songs values (?, ?, ?, ?, ?) on conflict do nothing",
            [s["song_id"], s["title"], s["artist_id"], s["year"], s["duration"]],
        )
        con.execute(
            "insert into artists values (?, ?, ?, ?, ?) on conflict do nothing",
            [s["artist_id"], s["artist_name"], s["artist_location"], s["artist_latitude"],
             s["artist_longitude"]],
        )  # fmt: skip
        songs_done += 1
    for path in sorted((lake / "log_data").rglob("*.json")):
        for line in path.read_text().splitlines():
            if events_done >= events:
                break
            events_done += 1
            e = json.loads(line)
            if e["page"] != "NextSong" or not e["userId"]:
                continue
            start = e["ts"] / 1000
            con.execute(
                "insert into time select t, hour(t), day(t), week(t), month(t), year(t), "
                "dayofweek(t) from (select to_timestamp(?)::timestamp as t) "
                "on conflict do nothing",
                [start],
            )
            con.execute(
                "insert into users values (?, ?, ?, ?, ?) on conflict do update "
                "set level = excluded.level",
                [e["userId"], e["firstName"], e["lastName"], e["gender"], e["level"]],
            )
            match = con.execute(
                "select songs.song_id, songs.artist_id from songs join artists "
                "on songs.artist_id = artists.artist_id "
                "where songs.title = ? and artists.name = ? and abs(songs.duration - ?) < 0.001",
                [e["song"], e["artist"], e["length"]],
            ).fetchone()
            song_id, artist_id = match if match else (None, None)
            con.execute(
                "insert into songplays values (?, to_timestamp(?)::timestamp, ?, ?, ?, ?, ?, "
                "?, ?)",
                [events_done, start, e["userId"], e["level"], song_id, artist_id,
                 e["sessionId"], e["location"], e["userAgent"]],
            )  # fmt: skip
        if events_done >= events:
            break
    seconds = time.perf_counter() - started
    con.close()
    return seconds, songs_done, events_done


def differing_rows(ours: Path, theirs: Path) -> dict[str, int]:
    """Rows in one warehouse's table and not the other's (both directions), per table."""
    con = duckdb.connect()
    con.execute(f"attach '{ours}' as ours (read_only)")
    con.execute(f"attach '{theirs}' as theirs (read_only)")
    differences = {}
    for table in MARTS:
        query = (
            f'select count(*) from ((select * from ours."{table}" except all '
            f'select * from theirs."{table}") union all (select * from theirs."{table}" '
            f'except all select * from ours."{table}"))'
        )
        differences[table] = con.execute(query).fetchone()[0]
    con.close()
    return differences
