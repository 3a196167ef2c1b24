"""Which objects are lake files, and which day a log file holds, decided by key.

Which objects are lake files is decided by name (`is_lake_file`): the others are skipped and
listed, never read. A log file's day comes from its key (`log_file_day`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from tasks.common.errors import LakeError
from tasks.lake.files import LOG_PREFIX, SONG_PREFIX, Lake, LakeFile
from tasks.records.fields import KEY_BYTES

_LOG_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_FOLDER_DATE = re.compile(r"(?:^|/)(?:[a-z_]+=)?(\d{4})-(\d{2})-(\d{2})/")
_FOLDER_COMPACT_DATE = re.compile(r"(?:^|/)[a-z_]+=(\d{4})(\d{2})(\d{2})/")
_HIVE_DAY = re.compile(r"(?:^|/)year=(\d{4})/month=(\d{1,2})/day=(\d{1,2})/")
_FOLDER_DAY = re.compile(r"(?:^|/)(\d{4})/(\d{2})/(\d{2})/")
_IGNORED_PARTS = {".ipynb_checkpoints", "__MACOSX"}
_RECORD_SUFFIXES = (".json", ".jsonl", ".ndjson")
COMPRESSED_SUFFIXES = (".gz", ".gzip", ".bz2", ".zst", ".zstd")
_NOT_RECORDS = ("readme", "license", "notice", "changelog")


@dataclass(frozen=True)
class Listing:
    """One kind's lake files, and the objects beside them that are not lake files by name
    (skipped, never read, and listed in the run's summary and artifact)."""

    files: list[LakeFile]
    skipped: list[LakeFile]
    every_key: frozenset[str] = frozenset()  # every lake file of the kind, of any day


def list_songs(lake: Lake) -> Listing:
    """Every song file under song_data/, in key order, and the objects skipped."""
    songs, skipped = _by_name(lake.list(SONG_PREFIX))
    songs = _keys_fit(songs)
    return Listing(songs, skipped, frozenset(f.key for f in songs))


def list_logs(lake: Lake, day: date | None = None) -> Listing:
    """The log files of `day`, or of the whole lake, and the objects skipped.

    A log file belongs to the day its key carries (`log_file_day`), in both modes, so loading
    day by day reads exactly what a full load reads. A log file whose day cannot be told fails
    the run, naming it: loaded by no daily run, it would be lost in silence.
    """
    logs, skipped = _by_name(lake.list(LOG_PREFIX))
    logs = _keys_fit(logs)
    undated = [f.key for f in logs if log_file_day(f.key) is None]
    if undated:
        more = f" (and {len(undated) - 1:,} more)" if len(undated) > 1 else ""
        raise LakeError(
            f"log file {undated[0]}{more} carries no day: put YYYY-MM-DD in its name, or it "
            "under year=YYYY/month=MM/day=DD/ or YYYY/MM/DD/ folders"
        )
    every_key = frozenset(f.key for f in logs)
    if day is not None:
        logs = [f for f in logs if log_file_day(f.key) == day]
    return Listing(logs, skipped, every_key)


def list_song_files(lake: Lake) -> list[LakeFile]:
    """Every song file under song_data/, in key order."""
    return list_songs(lake).files


def list_log_files(lake: Lake, day: date | None = None) -> list[LakeFile]:
    """The log files of `day`, or of the whole lake, in key order."""
    return list_logs(lake, day).files


def require_log_files(
    lake: Lake, day: date | None = None, files: list[LakeFile] | None = None
) -> None:
    """Fail fast, in one line, when the lake (or the listing given) has no log file to load."""
    listed = list_log_files(lake, day) if files is None else files
    if not listed:
        where = f"for {day.isoformat()} " if day else ""
        raise LakeError(f"lake {lake.uri} has no log files {where}under {LOG_PREFIX}/")


def log_file_day(key: str) -> date | None:
    """The day a log file's key says it holds: `YYYY-MM-DD` in its name (the Sparkify layout,
    `2018-11-01-events.json`), else its folders: `YYYY-MM-DD/` or `dt=YYYY-MM-DD/`,
    `dt=YYYYMMDD/`, Hive's and Spark's `year=YYYY/month=MM/day=DD/`, or `YYYY/MM/DD/` (Amazon
    Data Firehose's default prefix)."""
    folder, _, name = key.rpartition("/")
    for pattern, text in (
        (_LOG_DAY, name),
        (_FOLDER_DATE, folder + "/"),
        (_FOLDER_COMPACT_DATE, folder + "/"),
        (_HIVE_DAY, folder + "/"),
        (_FOLDER_DAY, folder + "/"),
    ):
        match = pattern.search(text)
        if match:
            year, month, day = (int(g) for g in match.groups())
            try:
                return date(year, month, day)
            except ValueError:
                return None
    return None


def is_lake_file(key: str) -> bool:
    """A record file by name: `.json`, `.jsonl` or `.ndjson` (any case), optionally compressed
    (`.gz`, `.bz2`, `.zst`), or a name without an extension (Firehose objects, Spark's
    `part-00000`). Hidden and `_`-prefixed names (`_SUCCESS`), checksums (`*.crc`), READMEs,
    notebook checkpoints and macOS resource forks are not."""
    folder, _, name = key.rpartition("/")
    return _folder_holds_records(folder) and _names_a_record(name)


def _folder_holds_records(folder: str) -> bool:
    parts = folder.split("/")
    if _IGNORED_PARTS.intersection(parts):
        return False
    return not any(p.startswith((".", "_")) for p in parts[1:])  # _temporary/, _spark_metadata/


def _names_a_record(name: str) -> bool:
    if name in _IGNORED_PARTS or name.startswith((".", "_")):
        return False
    lower = name.lower()
    for suffix in COMPRESSED_SUFFIXES:
        lower = lower.removesuffix(suffix)
    if lower.endswith(_RECORD_SUFFIXES):
        return True
    return "." not in lower and not lower.startswith(_NOT_RECORDS)


def _by_name(files: list[LakeFile]) -> tuple[list[LakeFile], list[LakeFile]]:
    """The lake files and the objects skipped, each name judged once."""
    kept: list[LakeFile] = []
    skipped: list[LakeFile] = []
    for f in files:
        (kept if is_lake_file(f.key) else skipped).append(f)
    return kept, skipped


def _keys_fit(files: list[LakeFile]) -> list[LakeFile]:
    """The files, if every key fits `source_file` (VARCHAR(1024): bytes, on Redshift); else the
    run fails naming the first, instead of a load failing on it or a key being cut short."""
    for f in files:
        if len(f.key.encode("utf-8", "surrogateescape")) > KEY_BYTES:
            raise LakeError(
                f"lake file {f.key[:120]}… has a key of over {KEY_BYTES:,} bytes, more than "
                "source_file holds: move it to a shorter path"
            )
    return files
