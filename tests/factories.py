"""Records built from defaults plus the one field a test cares about (no hand-typed blobs)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from tasks.common.run_spec import RunSpec
from tasks.create_schema import create_schema
from tasks.lake.files import LakeSource
from tasks.warehouse.target import WarehouseTarget

_ids = itertools.count(1)
BASE_TS = 1541106106796  # 2018-11-01 21:01:46.796 UTC


def event(**fields: Any) -> dict[str, Any]:
    """A valid NextSong event of user 8 (field names as the lake spells them)."""
    record = {
        "artist": "Des'ree", "auth": "Logged In", "firstName": "Kaylee", "gender": "F",
        "itemInSession": next(_ids), "lastName": "Summers", "length": 246.30812,
        "level": "free", "location": "Phoenix-Mesa-Scottsdale, AZ", "method": "PUT",
        "page": "NextSong", "registration": 1540344794796.0, "sessionId": 139,
        "song": "You Gotta Be", "status": 200, "ts": BASE_TS,
        "userAgent": '"Mozilla/5.0 (Windows NT 6.1; WOW64)"', "userId": "8",
    }  # fmt: skip
    record.update(fields)
    return record


def song(**fields: Any) -> dict[str, Any]:
    """A valid song object; ids are unique unless a test passes its own."""
    n = next(_ids)
    record = {
        "num_songs": 1, "artist_id": f"ARTEST{n:012d}", "artist_latitude": None,
        "artist_longitude": None, "artist_location": "", "artist_name": "Des'ree",
        "song_id": f"SOTEST{n:012d}", "title": "You Gotta Be", "duration": 246.30812, "year": 1994,
    }  # fmt: skip
    record.update(fields)
    return record


def log_line(record: dict[str, Any]) -> str:
    return json.dumps(record, separators=(",", ":"))


def write_songs(lake: Path, songs: list[dict[str, Any]]) -> list[Path]:
    paths = []
    for s in songs:
        path = lake / "song_data" / "A" / "B" / "C" / f"TR{next(_ids):016d}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(s), encoding="utf-8")
        paths.append(path)
    return paths


def prepared_run(lake: Path, warehouse: Path, **options: Any) -> RunSpec:
    """A RunSpec on a warehouse whose schema exists (task functions called without Prefect)."""
    run = RunSpec(
        lake=LakeSource(str(lake)), warehouse=WarehouseTarget(path=str(warehouse)), **options
    )
    create_schema.fn(run)
    return run


def published_run(lake: Path, warehouse: Path) -> RunSpec:
    """A run whose lake is staged, built and published by the task functions (no Prefect
    server): a warehouse holding the lake's tables, for tests that read one."""
    from tasks.build import build_table
    from tasks.model.tables import MARTS
    from tasks.publish import publish
    from tasks.stage import stage_events, stage_songs

    run = prepared_run(lake, warehouse)
    staged = {"events": stage_events.fn(run), "songs": stage_songs.fn(run)}
    for table in MARTS:
        build_table.fn(run, table)
    publish.fn(run, staged)
    return run


def write_object(lake: Path, key: str, content: str | bytes) -> str:
    """Any object of the lake at `key` (lake-relative), byte for byte; returns the key."""
    path = lake / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return key


def insert_lines(path: Path, lines: list[str], at: int | None = None) -> int:
    """Insert raw lines into a log file (its middle by default); return the first's line number."""
    existing = path.read_text(encoding="utf-8").split("\n")
    at = len(existing) // 2 if at is None else at
    path.write_text("\n".join([*existing[:at], *lines, *existing[at:]]), encoding="utf-8")
    return at + 1


def song_text(record: dict[str, Any], indent: int | None = None) -> str:
    """A song file's text as the lake writes it (`json.dumps` spacing), or pretty-printed."""
    return json.dumps(record, indent=indent)


def mojibake(text: str, layers: int = 1) -> str:
    """`text` as a lake carries it after `layers` rounds of UTF-8 read as Latin-1 (the real
    logs have two): written here, not taken from the generator, so tests check the repair
    against an independent encoding."""
    for _ in range(layers):
        text = text.encode("utf-8").decode("latin-1")
    return text


def with_trailing_comma(text: str) -> str:
    """An object's JSON with a comma before its closing brace (`{"a": 1,}`): not valid JSON."""
    return text[: text.rindex("}")] + ",}"


def prepared_source_run(source: str, warehouse: Path) -> RunSpec:
    """As `prepared_run`, for a lake named by URI (`s3://bucket/prefix`)."""
    run = RunSpec(lake=LakeSource(source), warehouse=WarehouseTarget(path=str(warehouse)))
    create_schema.fn(run)
    return run


def make_dirty(lake: Path) -> None:
    """Bad and awkward records of several classes: malformed JSON, a NUL in a rejected line, a
    wrong type, a missing field, and text over its column's bytes in multi-byte characters (a
    70,000-character user agent, 400 euro signs in a location, an artist of 2,000)."""
    day = sorted((lake / "log_data").rglob("*.json"))[0]
    lines = [
        '{"ts": 1541105830796, "userId": "8", "page": "NextSong"',
        '{"ts": "soon\\u0000", "userId": "8"}\u0000',
        log_line(event(userId={"id": 8})),
        log_line({k: v for k, v in event().items() if k != "sessionId"}),
        log_line(event(userAgent="é" * 70_000, itemInSession=90_001)),
        log_line(event(location="€" * 400, itemInSession=90_002)),
    ]
    insert_lines(day, lines)
    write_songs(lake, [song(artist_name="€" * 2_000), song(title=None)])
