"""The lake: a directory laid out like Sparkify's S3 bucket, listed and read in batches.

    song_data/A/B/C/TRABC….json           one song object per file
    log_data/YYYY/MM/YYYY-MM-DD-events.json   one event per line

Staging never holds the lake in memory: `read_batches` yields Arrow tables of whole files
(path, text, read error) a few thousand files or a few tens of MB at a time, read by a thread
pool so slow storage overlaps. A file that cannot be read or decoded is not dropped: it comes
back with its error, and staging quarantines it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa

from tasks.errors import LakeError

SONG_PREFIX = "song_data"
LOG_PREFIX = "log_data"
_LOG_NAME = re.compile(r"(\d{4})-(\d{2})-(\d{2})-events\.json$")
_IGNORED_PARTS = {".ipynb_checkpoints", "__MACOSX"}

BATCH_FILES = 2_000
BATCH_BYTES = 64 * 1024 * 1024
READ_THREADS = 8

FILE_SCHEMA = pa.schema(
    [("source_file", pa.string()), ("content", pa.string()), ("read_error", pa.string())]
)


@dataclass(frozen=True)
class LakeFile:
    """One JSON object of the lake: its key relative to the lake root, and its size."""

    key: str
    size: int


def require_lake(root: str) -> Path:
    """The lake directory, or a one-line error saying why it cannot be used."""
    path = Path(root).expanduser()
    if not path.exists():
        raise LakeError(f"lake directory {path} does not exist")
    if not path.is_dir():
        raise LakeError(f"lake {path} is not a directory")
    return path


def require_log_files(root: str, day: date | None = None) -> None:
    """Fail fast, in one line, when the lake has nothing for the run to load."""
    if not list_log_files(root, day):
        where = f"for {day.isoformat()} " if day else ""
        raise LakeError(f"lake {root} has no log files {where}under {LOG_PREFIX}/")


def list_song_files(root: str) -> list[LakeFile]:
    """Every song file under song_data/, in key order."""
    return _list_json(require_lake(root), SONG_PREFIX)


def list_log_files(root: str, day: date | None = None) -> list[LakeFile]:
    """Every log file under log_data/, or only the one partition of `day`."""
    files = _list_json(require_lake(root), LOG_PREFIX)
    if day is None:
        return files
    return [f for f in files if log_file_day(f.key) == day]


def log_file_day(key: str) -> date | None:
    """The day a log file's name says it holds (`2018-11-01-events.json`), if it says one."""
    match = _LOG_NAME.search(key)
    if not match:
        return None
    year, month, day = (int(g) for g in match.groups())
    try:
        return date(year, month, day)
    except ValueError:
        return None


def read_batches(root: str, files: list[LakeFile]) -> Iterator[pa.Table]:
    """Yield the files' text as Arrow tables in FILE_SCHEMA, bounded in count and bytes."""
    base = require_lake(root)
    with ThreadPoolExecutor(max_workers=READ_THREADS, thread_name_prefix="lake-read") as pool:
        for chunk in _chunks(files):
            rows = list(pool.map(lambda f: _read_one(base, f.key), chunk))
            yield pa.Table.from_pylist(rows, schema=FILE_SCHEMA)


def _list_json(root: Path, prefix: str) -> list[LakeFile]:
    top = root / prefix
    if not top.is_dir():
        return []
    found = []
    for path in top.rglob("*.json"):
        rel = path.relative_to(root)
        if _IGNORED_PARTS.intersection(rel.parts) or rel.name.startswith("."):
            continue
        if path.is_file():
            found.append(LakeFile(key=rel.as_posix(), size=path.stat().st_size))
    return sorted(found, key=lambda f: f.key)


def _chunks(files: list[LakeFile]) -> Iterator[list[LakeFile]]:
    chunk: list[LakeFile] = []
    size = 0
    for f in files:
        chunk.append(f)
        size += f.size
        if len(chunk) >= BATCH_FILES or size >= BATCH_BYTES:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def _read_one(root: Path, key: str) -> dict[str, str | None]:
    try:
        raw = (root / key).read_bytes()
    except OSError as exc:
        return {"source_file": key, "content": None, "read_error": f"unreadable file: {exc}"}
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        reason = f"not UTF-8: byte 0x{raw[exc.start]:02x} at offset {exc.start}"
        return {"source_file": key, "content": raw.decode("utf-8", "replace"), "read_error": reason}
    return {"source_file": key, "content": text, "read_error": None}
