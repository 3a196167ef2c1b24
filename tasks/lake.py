"""The lake: a directory or an S3 prefix laid out like Sparkify's bucket, listed and read.

    song_data/A/B/C/TRABC….json               song objects (one per file, as a rule)
    log_data/YYYY/MM/YYYY-MM-DD-events.json   events (one per line, as a rule)

Which objects are lake files is decided by name (`is_lake_file`): the others are skipped and
listed, never read. A log file's day comes from its key (`log_file_day`). Compressed objects
are told by their magic bytes and read uncompressed (`decompress`).

Staging never holds the lake in memory: `read_batches` yields Arrow tables of whole files
(key, text, read error) a few thousand files or a few tens of MB at a time, fetched by a thread
pool so slow storage overlaps. A file that cannot be read or decoded is not dropped: it comes
back with its error, and staging quarantines it.
"""

from __future__ import annotations

import bz2
import gzip
import os
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from tasks.errors import LakeError, first_line
from tasks.records import KEY_BYTES

SONG_PREFIX = "song_data"
LOG_PREFIX = "log_data"
_LOG_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_FOLDER_DATE = re.compile(r"(?:^|/)(?:[a-z_]+=)?(\d{4})-(\d{2})-(\d{2})/")
_FOLDER_COMPACT_DATE = re.compile(r"(?:^|/)[a-z_]+=(\d{4})(\d{2})(\d{2})/")
_HIVE_DAY = re.compile(r"(?:^|/)year=(\d{4})/month=(\d{1,2})/day=(\d{1,2})/")
_FOLDER_DAY = re.compile(r"(?:^|/)(\d{4})/(\d{2})/(\d{2})/")
_IGNORED_PARTS = {".ipynb_checkpoints", "__MACOSX"}
_RECORD_SUFFIXES = (".json", ".jsonl", ".ndjson")
COMPRESSED_SUFFIXES = (".gz", ".gzip", ".bz2", ".zst", ".zstd")
_NOT_RECORDS = ("readme", "license", "notice", "changelog")

# A batch is one warehouse transaction, whose commit has a fixed cost: 20,000 song files stage
# in 1.14 s as 2 batches and 1.5-1.6 s as 10 (best of 3 each). Bytes bound the batch's memory.
BATCH_FILES = 10_000
BATCH_BYTES = 64 * 1024 * 1024
READ_THREADS = 16

FILE_SCHEMA = pa.schema(
    [
        ("source_file", pa.string()),
        ("content", pa.string()),
        ("read_error", pa.string()),
        ("line_number", pa.int64()),
        ("first_line", pa.int64()),  # a log file comes in pieces: the piece's first line
    ]
)
PIECE_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class LakeSource:
    """Where the lake is: a directory, or `s3://bucket/prefix` (optionally with Prefect blocks).

    `aws_credentials_block` names a prefect-aws AwsCredentials block (credentials, region,
    endpoint); `s3_bucket_block` an S3Bucket block, whose bucket and folder are used when `uri`
    is not an `s3://` URI. Without blocks, S3 access uses boto3's standard environment.
    """

    uri: str
    aws_credentials_block: str | None = None
    s3_bucket_block: str | None = None

    @property
    def is_s3(self) -> bool:
        return self.uri.startswith("s3://") or self.s3_bucket_block is not None


@dataclass(frozen=True)
class LakeFile:
    """One object of the lake: its key relative to the lake root, its size and version tag."""

    key: str
    size: int
    etag: str = ""
    problem: str = ""  # set for an object staging must quarantine without reading


class Lake(Protocol):
    """What staging needs from storage."""

    uri: str

    def list(self, prefix: str) -> list[LakeFile]:
        """Every object under `prefix` (relative to the lake root), in key order."""
        ...

    def read(self, key: str) -> bytes:
        """The object's bytes; raises OSError for an object that cannot be read."""
        ...


class LocalLake:
    """A lake in a directory."""

    def __init__(self, root: str) -> None:
        self.root = Path(root).expanduser()
        self.uri = str(self.root)
        if not self.root.exists():
            raise LakeError(f"lake directory {self.root} does not exist")
        if not self.root.is_dir():
            raise LakeError(f"lake {self.root} is not a directory")

    # Reading local files is cheaper than handing them to threads: a couple of threads overlap
    # the system calls; more only contend for the GIL.
    read_threads = 2

    def list(self, prefix: str) -> list[LakeFile]:
        top = self.root / prefix
        if not top.is_dir():
            return []
        found: list[LakeFile] = []
        self._scan(str(top), f"{prefix.strip('/')}/", found)
        return sorted(found, key=lambda f: f.key)

    def _scan(self, folder: str, key_prefix: str, found: list[LakeFile]) -> None:
        """os.scandir, not Path.rglob: 20,000 song files list ~5x faster (stat comes with the
        directory entry)."""
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir():
                    self._scan(entry.path, f"{key_prefix}{entry.name}/", found)
                elif entry.is_file():
                    stat = entry.stat()
                    found.append(
                        LakeFile(f"{key_prefix}{entry.name}", stat.st_size, str(stat.st_mtime_ns))
                    )

    def read(self, key: str) -> bytes:
        return (self.root / key).read_bytes()


def open_lake(source: LakeSource | str) -> Lake:
    """The lake a source names; a one-line `LakeError` if it cannot be used."""
    if isinstance(source, str):
        source = LakeSource(uri=source)
    if source.is_s3:
        from tasks.lake_s3 import S3Lake  # boto3 is only imported for S3 lakes

        return S3Lake.from_source(source)
    return LocalLake(source.uri)


@dataclass(frozen=True)
class Listing:
    """One kind's lake files, and the objects beside them that are not lake files by name
    (skipped, never read, and listed in the run's summary and artifact)."""

    files: list[LakeFile]
    skipped: list[LakeFile]
    every_key: frozenset[str] = frozenset()  # every lake file of the kind, of any day


def list_songs(lake: Lake) -> Listing:
    """Every song file under song_data/, in key order, and the objects skipped."""
    files = lake.list(SONG_PREFIX)
    songs = _keys_fit([f for f in files if is_lake_file(f.key)])
    return Listing(songs, _skipped(files), frozenset(f.key for f in songs))


def list_logs(lake: Lake, day: date | None = None) -> Listing:
    """The log files of `day`, or of the whole lake, and the objects skipped.

    A log file belongs to the day its key carries (`log_file_day`), in both modes, so loading
    day by day reads exactly what a full load reads. A log file whose day cannot be told fails
    the run, naming it: loaded by no daily run, it would be lost in silence.
    """
    files = lake.list(LOG_PREFIX)
    logs = _keys_fit([f for f in files if is_lake_file(f.key)])
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
    return Listing(logs, _skipped(files), every_key)


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
    parts = key.split("/")
    name = parts[-1]
    if _IGNORED_PARTS.intersection(parts) or name.startswith((".", "_")):
        return False
    if any(p.startswith((".", "_")) for p in parts[1:-1]):  # _temporary/, _spark_metadata/
        return False
    lower = name.lower()
    for suffix in COMPRESSED_SUFFIXES:
        lower = lower.removesuffix(suffix)
    if lower.endswith(_RECORD_SUFFIXES):
        return True
    return "." not in lower and not lower.startswith(_NOT_RECORDS)


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


def _skipped(files: list[LakeFile]) -> list[LakeFile]:
    return [f for f in files if not is_lake_file(f.key)]


def read_batches(lake: Lake, files: list[LakeFile], by_line: bool = False) -> Iterator[pa.Table]:
    """Yield the files' text as Arrow tables in FILE_SCHEMA, bounded in count and bytes.

    With `by_line` (log files), a line that is not UTF-8 comes back as its own row with its
    line number and error, and is blanked in the file's text, so the rest of the file loads.
    """
    threads = getattr(lake, "read_threads", READ_THREADS)
    columns: dict[str, list[Any]] = {name: [] for name in FILE_SCHEMA.names}
    size = 0
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="lake-read") as pool:
        for chunk in _chunks(files):
            for rows in pool.map(lambda g: _read_group(lake, g, by_line), _groups(chunk, threads)):
                for row in rows:
                    for name in FILE_SCHEMA.names:
                        columns[name].append(row.get(name))
                    size += len(row["content"] or "")
                    if size >= BATCH_BYTES or len(columns["source_file"]) >= BATCH_FILES:
                        yield pa.Table.from_pydict(columns, schema=FILE_SCHEMA)
                        columns = {name: [] for name in FILE_SCHEMA.names}
                        size = 0
    if columns["source_file"]:
        yield pa.Table.from_pydict(columns, schema=FILE_SCHEMA)


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


def _groups(chunk: list[LakeFile], threads: int) -> list[list[LakeFile]]:
    """The chunk cut into runs of files, one per thread task: a future per small file cost
    more than reading it (20,000 song files: ~1 s of submit and wait), while four runs per
    thread still keep every thread busy."""
    size = max(1, min(64, len(chunk) // (threads * 4)))
    return [chunk[i : i + size] for i in range(0, len(chunk), size)]


def _read_group(lake: Lake, group: list[LakeFile], by_line: bool) -> list[dict[str, Any]]:
    return [row for f in group for row in _read_one(lake, f, by_line)]


def _read_one(lake: Lake, f: LakeFile, by_line: bool) -> list[dict[str, Any]]:
    if f.problem:
        return [_error_row(f.key, None, None, f.problem)]
    try:
        raw = lake.read(f.key)
    except (ConnectionError, TimeoutError):
        raise  # transient (an S3 endpoint down): the task retries, nothing is quarantined
    except OSError as exc:
        return [_error_row(f.key, None, None, f"unreadable file: {exc}")]
    raw, problem = decompress(raw)
    if problem:
        return [_error_row(f.key, None, None, problem)]
    raw = raw.removeprefix(b"\xef\xbb\xbf")
    if by_line:
        return [row for first, piece in _pieces(raw) for row in _decode_lines(f.key, piece, first)]
    try:
        return [{"source_file": f.key, "content": raw.decode("utf-8"), "read_error": None,
                 "line_number": None}]  # fmt: skip
    except UnicodeDecodeError as exc:
        reason = f"unreadable file: not UTF-8: byte 0x{raw[exc.start]:02x} at offset {exc.start}"
        return [_error_row(f.key, None, raw.decode("utf-8", "replace"), reason)]


def decompress(raw: bytes) -> tuple[bytes, str]:
    """The object's bytes uncompressed, told by their magic bytes as COPY's GZIP, BZIP2 and
    ZSTD options read them (a `.json` name may hold gzip bytes), or a reason it cannot be read."""
    try:
        if raw.startswith(b"\x1f\x8b"):
            return gzip.decompress(raw), ""
        if raw.startswith(b"BZh"):
            return bz2.decompress(raw), ""
        if raw.startswith(b"\x28\xb5\x2f\xfd"):
            import zstandard  # only for zstd objects

            return zstandard.ZstdDecompressor().decompressobj().decompress(raw), ""
    except Exception as exc:  # OSError, EOFError, zlib.error, zstandard.ZstdError: no common base
        return b"", f"unreadable file: corrupt compressed data ({first_line(exc)})"
    return raw, ""


def _pieces(raw: bytes) -> Iterator[tuple[int, bytes]]:
    """A log file cut at line ends into pieces of about PIECE_BYTES, each with the number of
    its first line, so a large file is parsed in bounded memory. Lines are counted as staging
    counts them: CRLF, CR and LF each end one."""
    start, line = 0, 1
    while start < len(raw):
        end = raw.find(b"\n", start + PIECE_BYTES)
        end = len(raw) if end < 0 else end + 1
        piece = raw[start:end]
        yield line, piece.removeprefix(b"\xef\xbb\xbf")  # a BOM opening a line is dropped
        line += piece.count(b"\n") + piece.count(b"\r") - piece.count(b"\r\n")
        start = end


def _decode_lines(key: str, piece: bytes, first_line: int) -> list[dict[str, Any]]:
    try:
        text = piece.decode("utf-8")
    except UnicodeDecodeError:
        rows = _read_by_line(key, piece)
        for row in rows[1:]:
            row["line_number"] += first_line - 1
        rows[0]["first_line"] = first_line
        return rows
    return [{"source_file": key, "content": text, "read_error": None, "line_number": None,
             "first_line": first_line}]  # fmt: skip


def _read_by_line(key: str, raw: bytes) -> list[dict[str, Any]]:
    """Keep the UTF-8 lines, and return each other line as its own error row."""
    good, errors = [], []
    lines = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    for number, line in enumerate(lines, start=1):
        try:
            good.append(line.decode("utf-8"))
        except UnicodeDecodeError as exc:
            good.append("")
            reason = f"not UTF-8: byte 0x{line[exc.start]:02x} at offset {exc.start}"
            errors.append(_error_row(key, number, line.decode("utf-8", "replace"), reason))
    whole = {
        "source_file": key,
        "content": "\n".join(good),
        "read_error": None,
        "line_number": None,
    }
    return [whole, *errors]


def _error_row(key: str, line: int | None, content: str | None, reason: str) -> dict[str, Any]:
    return {"source_file": key, "content": content, "read_error": reason, "line_number": line}
