"""Read lake files in bounded memory: Arrow batches of whole files, fetched by a thread pool.

Staging never holds the lake in memory: `read_batches` yields Arrow tables of whole files
(key, text, read error) a few thousand files or a few tens of MB at a time, fetched by a thread
pool so slow storage overlaps. Compressed objects are told by their magic bytes and read
uncompressed (`decompress`). A file that cannot be read or decoded is not dropped: it comes
back with its error, and staging quarantines it.
"""

from __future__ import annotations

import bz2
import gzip
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pyarrow as pa

from tasks.common.errors import first_line
from tasks.lake.files import Lake, LakeFile

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
