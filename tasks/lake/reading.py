"""Read lake files in bounded memory: batches of whole files, fetched by a thread pool.

Staging never holds the lake in memory: `read_batches` yields batches of a few thousand files
or a few tens of MB, fetched by a thread pool so slow storage overlaps. With a record kind
given, each reading thread parses what it can on the fast path (`tasks.records.typed`: Arrow's
typed reader, which releases the GIL, so the threads parse in parallel) and the batch carries
those typed pieces; everything else comes as text (key, text, read error) for the per-record
path. Compressed objects are told by their magic bytes and read uncompressed (`decompress`). A
file that cannot be read or decoded is not dropped: it comes back with its error, and staging
quarantines it.
"""

from __future__ import annotations

import bz2
import gzip
import queue
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from tasks.common.errors import first_line
from tasks.lake.files import Lake, LakeFile
from tasks.records.typed import TypedPiece, parse_files, parse_lines

# A batch is one warehouse transaction, whose commit has a fixed cost: 20,000 song files stage
# in 1.14 s as 2 batches and 1.5-1.6 s as 10 (best of 3 each). Bytes bound the batch's memory.
BATCH_FILES = 10_000
GROUP_FILES = 1024  # the most files one thread task reads (and parses, for song files)
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


@dataclass
class Batch:
    """One batch of the lake: the fast path's typed pieces, and the text of everything else."""

    content: pa.Table  # FILE_SCHEMA: what the per-record path parses
    typed: list[TypedPiece] = field(default_factory=list)


@dataclass
class _Read:
    """What one thread read from a run of files."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    typed: list[TypedPiece] = field(default_factory=list)


def read_batches(
    lake: Lake, files: list[LakeFile], by_line: bool = False, fast_kind: str | None = None
) -> Iterator[Batch]:
    """Yield the files as batches, bounded in count and bytes; the next batch is read while
    the caller stages this one (one batch ahead: memory stays bounded).

    With `by_line` (log files), a line that is not UTF-8 comes back as its own row with its
    line number and error, and is blanked in the file's text, so the rest of the file loads.
    With `fast_kind`, what the fast path takes comes back parsed as records of that kind.
    """
    ahead: queue.Queue[Batch | BaseException | None] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def produce() -> None:
        try:
            for batch in _read_all(lake, files, by_line, fast_kind):
                while not stop.is_set():
                    try:
                        ahead.put(batch, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            ahead.put(None)
        except BaseException as exc:  # handed to the caller, which raises it
            ahead.put(exc)

    reader = threading.Thread(target=produce, name="lake-read-ahead", daemon=True)
    reader.start()
    try:
        while (item := ahead.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        with suppress(queue.Empty):
            ahead.get_nowait()  # unblock a reader waiting to put
        reader.join()


def _read_all(
    lake: Lake, files: list[LakeFile], by_line: bool = False, fast_kind: str | None = None
) -> Iterator[Batch]:
    threads = getattr(lake, "read_threads", READ_THREADS)
    columns: dict[str, list[Any]] = {name: [] for name in FILE_SCHEMA.names}
    typed: list[TypedPiece] = []
    size = count = 0

    def read(group: list[LakeFile]) -> _Read:
        return _read_group(lake, group, by_line, fast_kind)

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="lake-read") as pool:
        for chunk in _chunks(files):
            for done in pool.map(read, _groups(chunk, threads)):
                for row in done.rows:
                    for name in FILE_SCHEMA.names:
                        columns[name].append(row.get(name))
                    size += len(row["content"] or "")
                    count += 1
                typed.extend(done.typed)
                size += sum(len(raw) for p in done.typed for raw in p.files.values())
                count += sum(len(p.files) for p in done.typed)
                if size >= BATCH_BYTES or count >= BATCH_FILES:
                    yield Batch(pa.Table.from_pydict(columns, schema=FILE_SCHEMA), typed)
                    columns = {name: [] for name in FILE_SCHEMA.names}
                    typed = []
                    size = count = 0
    if count:
        yield Batch(pa.Table.from_pydict(columns, schema=FILE_SCHEMA), typed)


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
    thread still keep every thread busy. Song files are parsed a run per call, so longer runs
    parse cheaper: 20,000 files in 0.14-0.53 s as runs of 64, 0.05-0.07 s as runs of 1,024
    (bench/parse_pieces.py). On S3 (16 threads) a 10,000-file chunk makes runs of 156."""
    size = max(1, min(GROUP_FILES, len(chunk) // (threads * 4)))
    return [chunk[i : i + size] for i in range(0, len(chunk), size)]


def _read_group(lake: Lake, group: list[LakeFile], by_line: bool, fast_kind: str | None) -> _Read:
    done = _Read()
    whole: list[tuple[str, bytes]] = []  # files read whole (song files)
    for f in group:
        raw, problem = _fetch(lake, f)
        if problem:
            done.rows.append(_error_row(f.key, None, None, problem))
        elif by_line:
            for first, piece in _pieces(raw):
                typed = parse_lines(fast_kind, f.key, first, piece) if fast_kind else None
                if typed is not None:
                    done.typed.append(typed)
                else:
                    done.rows.extend(_decode_lines(f.key, piece, first))
        else:
            whole.append((f.key, raw))
    if whole and fast_kind:
        typed_files, others = parse_files(fast_kind, whole)
        done.typed.extend(typed_files)
        slow = set(others)
        whole = [(key, raw) for key, raw in whole if key in slow]
    done.rows.extend(_decode_file(key, raw) for key, raw in whole)
    return done


def _fetch(lake: Lake, f: LakeFile) -> tuple[bytes, str]:
    """The file's bytes, uncompressed and without a BOM, or why it cannot be read."""
    if f.problem:
        return b"", f.problem
    try:
        raw = lake.read(f.key)
    except (ConnectionError, TimeoutError):
        raise  # transient (an S3 endpoint down): the task retries, nothing is quarantined
    except OSError as exc:
        return b"", f"unreadable file: {exc}"
    raw, problem = decompress(raw)
    return raw.removeprefix(b"\xef\xbb\xbf"), problem


def _decode_file(key: str, raw: bytes) -> dict[str, Any]:
    try:
        return {"source_file": key, "content": raw.decode("utf-8"), "read_error": None,
                "line_number": None}  # fmt: skip
    except UnicodeDecodeError as exc:
        reason = f"unreadable file: not UTF-8: byte 0x{raw[exc.start]:02x} at offset {exc.start}"
        return _error_row(key, None, raw.decode("utf-8", "replace"), reason)


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


def _pieces(raw: bytes) -> Iterator[tuple[int, memoryview]]:
    """A log file cut at line ends into pieces of about PIECE_BYTES, each with the number of
    its first line, so a large file is parsed in bounded memory. Pieces are views: cutting
    copies nothing. Lines are counted as staging counts them: CRLF, CR and LF each end one."""
    view = memoryview(raw)
    start, line = 0, 1
    while start < len(raw):
        end = raw.find(b"\n", start + PIECE_BYTES)
        end = len(raw) if end < 0 else end + 1
        piece = view[start:end]
        if piece[:3] == b"\xef\xbb\xbf":
            piece = piece[3:]  # a BOM opening a line is dropped
        yield line, piece
        if end < len(raw):  # the next piece's first line
            line += raw.count(b"\n", start, end)
            if raw.find(b"\r", start, end) >= 0:
                line += raw.count(b"\r", start, end) - raw.count(b"\r\n", start, end)
        start = end


def _decode_lines(key: str, view: memoryview, first_line: int) -> list[dict[str, Any]]:
    piece = bytes(view)
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
