"""The fast path: whole pieces of the lake parsed by Arrow's typed JSON reader.

Most of a real lake is clean: one object per line, every field of its declared JSON kind. For
such a piece (a log file, or an 8 MB piece of one; a run of song files) Arrow's reader, given
the declared kinds as its schema, parses the whole piece in C++ on every core, in the reading
threads: events stage in about half the time the per-record path (lines cut and each record
parsed in SQL) takes (bench/RESULTS.md). It is also as strict as that path needs: with an
explicit schema it fails on a number where text is declared, a string, fraction or exponent
where an integer is, a boolean, object or array for a scalar, a key given twice, or JSON that
is not valid. A piece it fails on, or whose layout it could misread, goes whole to the
per-record path, which says which record broke what. The conversions and checks of values
(ranges, allowed values, required fields, text repair, sizes) are rendered for both paths from
the same declarations (`tasks/records/sql.py`), so the fast path never decides a record
differently: tests run both on the same inputs and compare (tests/warehouse/test_fast_path.py).
Each piece also carries the rules its values can break (`tasks.records.guards`, worked out in
the reading thread), so a batch's query renders only those.

Layout a piece must have, checked on its bytes before Arrow sees it:
- every line opens with `{`: no blank lines (line k is then record k, so line numbers are
  exact), no pretty-printed object, no BOM inside the file; and the piece's rows must equal its
  lines afterwards (two objects on one line). Arrow also crashes on a piece opening with a bare
  `null`, which this excludes.
- a CR only as part of CRLF (the per-record path counts a lone CR as a line end);
- valid UTF-8 (Arrow does not check it);
- no line that could be over Redshift's 4 MB record limit.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.json as pa_json

from tasks.records import guards
from tasks.records.fields import BLANKS, FIELDS, MAX_RECORD_BYTES, Field

_ARROW_TYPES = {
    "text": pa.string(),
    "integer": pa.int64(),  # the 32-bit range is checked in SQL, as on the per-record path
    "bigint": pa.int64(),
    "number": pa.float64(),
}
PROVENANCE = [("source_file", pa.string()), ("first_line", pa.int64()), ("line_number", pa.int64())]
Bytes = bytes | memoryview  # a piece is a view of its file's bytes, never a copy
_BLANKS = BLANKS.encode()  # JSON's white space


def enabled() -> bool:
    """Whether staging takes the fast path (`SPARKIFY_STAGING_FAST_PATH=0` turns it off: every
    record then goes the per-record path, e.g. to compare the two)."""
    return os.environ.get("SPARKIFY_STAGING_FAST_PATH", "1") != "0"


def record_schema(kind: str) -> pa.Schema:
    """The declared fields as Arrow types: what the reader parses, keyed by JSON name."""
    return pa.schema([(f.json, _ARROW_TYPES[f.kind]) for f in FIELDS[kind]])


def typed_schema(kind: str) -> pa.Schema:
    """A typed piece as staging registers it: provenance, then the fields."""
    return pa.schema([*PROVENANCE, *record_schema(kind)])


def arrow_column(f: Field) -> str:
    """The typed batch's column for a field (JSON names keep their case: quoted)."""
    return f'"{f.json}"'


@dataclass(frozen=True)
class TypedPiece:
    """Records the fast path parsed: `table` in `typed_schema`, and the bytes of the file (a
    log file's piece starting at `first_line`) or files (song files, read whole) they came
    from, kept until the batch is staged, so a rejected record's raw text can be quarantined."""

    table: pa.Table
    files: Mapping[str, Bytes]
    first_line: int = 1
    # the rules its values may break (tasks.records.guards), found in the reading thread that
    # parsed it; None: any rule
    rules: frozenset[str] | None = None


# 4 MB blocks: 1.35-1.56 s for 1M events against 1.69-1.86 s with the default 1 MB (pyarrow 26,
# best of 2, 2 cores); a block must hold a whole record, so records up to 4 MB parse.
_READ = pa_json.ReadOptions(block_size=MAX_RECORD_BYTES + 1024)
# A run of song files is one small block: handing it to Arrow's thread pool buys nothing (the
# lake's reading threads already parse side by side) and costs a dispatch per call: 0.34
# against 0.31 ms per 64 files on an idle machine (bench/parse_pieces.py). A log piece keeps
# Arrow's threads: 0.032 s against 0.045 s for an 8 MB piece, same script.
_READ_RUN = pa_json.ReadOptions(block_size=MAX_RECORD_BYTES + 1024, use_threads=False)
# A failed run this short is parsed file by file: halving further would cost more calls than
# it saves when most of its files are bad.
_SHORT_RUN = 16


def _options(kind: str) -> pa_json.ParseOptions:
    return pa_json.ParseOptions(
        explicit_schema=record_schema(kind), unexpected_field_behavior="ignore"
    )


def clean_lines(raw: Bytes) -> int:
    """How many records a piece of one-object-per-line JSON holds, or 0 if its layout is not
    one the fast path takes (see the module's docstring). Vectorised: no copy of the piece."""
    octets = np.frombuffer(raw, dtype=np.uint8)
    if not len(octets) or octets[0] != ord("{"):
        return 0
    ends = np.flatnonzero(octets == ord("\n"))
    if ends.size and ends[-1] == len(octets) - 1:
        inner, last = ends[:-1], int(ends[-1])
    else:
        inner, last = ends, len(octets)
    if inner.size and not (octets[inner + 1] == ord("{")).all():
        return 0  # a line that does not open with `{`: blank, pretty-printed, a BOM
    starts = np.concatenate(([0], inner + 1))
    if int(np.max(np.concatenate((inner, [last])) - starts)) > MAX_RECORD_BYTES:
        return 0
    crs = np.flatnonzero(octets == ord("\r"))
    if crs.size and not np.isin(crs + 1, ends).all():
        return 0  # a lone CR ends a line for the per-record path
    if (octets >= 0x80).any() and not _utf8(raw):
        return 0
    return int(inner.size) + 1


def _utf8(raw: Bytes) -> bool:
    try:
        str(raw, "utf-8")
    except UnicodeDecodeError:
        return False
    return True


def parse_lines(kind: str, source_file: str, first_line: int, raw: Bytes) -> TypedPiece | None:
    """A piece of one-object-per-line records parsed whole, or None: the per-record path takes
    it (layout, structure, or a field of another JSON kind than declared)."""
    lines = clean_lines(raw)
    if not lines:
        return None
    table = _parse(kind, raw)
    if table is None or table.num_rows != lines:
        return None
    numbers = pa.array(np.arange(first_line, first_line + lines, dtype=np.int64))
    keys = pa.repeat(pa.scalar(source_file, pa.string()), lines)
    return TypedPiece(
        _with_provenance(table, keys, first_line, numbers),
        {source_file: raw},
        first_line,
        guards.rules_to_keep(kind, table),
    )


def parse_files(kind: str, files: list[tuple[str, bytes]]) -> tuple[list[TypedPiece], list[str]]:
    """Files of one record each (song files) parsed in one call: the typed pieces, and the keys
    of the files the per-record path takes. The file is the record: no line number."""
    runs = _parsed_runs(kind, [(key, raw) for key, raw in files if _one_line(raw)])
    parsed = {key: raw for run, _ in runs for key, raw in run}
    table = pa.concat_tables([table for _, table in runs]) if runs else None
    pieces = []
    if table is not None and parsed:
        keys = pa.array(list(parsed), pa.string())
        nulls = pa.nulls(len(parsed), pa.int64())
        rules = guards.rules_to_keep(kind, table)
        pieces.append(TypedPiece(_with_provenance(table, keys, 1, nulls), parsed, 1, rules))
    return pieces, [key for key, _ in files if key not in parsed]


def _one_line(raw: bytes) -> bool:
    """`clean_lines(raw) == 1` for a small file, without numpy's cost per call: one object on
    one line, white space after it allowed."""
    body = raw.rstrip(_BLANKS)
    return (
        body.startswith(b"{")
        and b"\n" not in body
        and b"\r" not in body
        and len(body) <= MAX_RECORD_BYTES
        and (body.isascii() or _utf8(body))
    )


def _parsed_runs(
    kind: str, files: list[tuple[str, bytes]]
) -> list[tuple[list[tuple[str, bytes]], pa.Table]]:
    """The files parsed in as few calls as they allow: one bad file fails its call, so a run
    that fails is halved until its runs are short, then parsed file by file (about
    2·log2(n/16) + 16 calls per bad file, not one call per file of the run)."""
    if not files:
        return []
    table = _parse(kind, b"\n".join(raw.rstrip(_BLANKS) for _, raw in files), _READ_RUN)
    if table is not None and table.num_rows == len(files):
        return [(files, table)]
    if len(files) <= _SHORT_RUN:
        return [([f], table) for f in files if (table := _one_file(kind, f[1])) is not None]
    half = len(files) // 2
    return _parsed_runs(kind, files[:half]) + _parsed_runs(kind, files[half:])


def _one_file(kind: str, raw: bytes) -> pa.Table | None:
    table = _parse(kind, raw.rstrip(_BLANKS), _READ_RUN)
    return table if table is not None and table.num_rows == 1 else None


def _parse(kind: str, raw: Bytes, read: pa_json.ReadOptions = _READ) -> pa.Table | None:
    try:
        return pa_json.read_json(pa.py_buffer(raw), parse_options=_options(kind), read_options=read)
    except pa.ArrowInvalid:
        return None


def _with_provenance(table: pa.Table, keys: pa.Array, first_line: int, lines: pa.Array) -> pa.Table:
    columns = [keys, pa.repeat(pa.scalar(first_line, pa.int64()), len(keys)), lines, *table.columns]
    return pa.Table.from_arrays(
        columns, names=[name for name, _ in PROVENANCE] + table.column_names
    )


def rules(pieces: list[TypedPiece]) -> frozenset[str] | None:
    """The rules any of the pieces' values may break, for `render_staging(keep=...)`;
    `SPARKIFY_STAGING_RULE_GUARDS=0` renders every rule (to compare, or to rule a guard out)."""
    if os.environ.get("SPARKIFY_STAGING_RULE_GUARDS", "1") == "0":
        return None
    if any(p.rules is None for p in pieces):
        return None
    return frozenset().union(*(p.rules for p in pieces if p.rules is not None))


def concat(kind: str, pieces: list[TypedPiece]) -> pa.Table:
    """The pieces' records as one table in `typed_schema` (empty if there are none)."""
    if not pieces:
        return typed_schema(kind).empty_table()
    return pa.concat_tables([p.table for p in pieces]).cast(typed_schema(kind))


def record_texts(piece: TypedPiece, key: str, line_numbers: list[int | None]) -> list[str]:
    """Records' raw text as the per-record path quarantines it: the line, without its line end,
    or (a song file) the whole file."""
    raw = piece.files[key]
    if all(n is None for n in line_numbers):
        return [str(raw, "utf-8")] * len(line_numbers)
    ends = np.flatnonzero(np.frombuffer(raw, dtype=np.uint8) == 10)
    starts = np.concatenate(([0], ends + 1))
    ends = np.concatenate((ends, [len(raw)]))
    texts = []
    for number in line_numbers:
        k = (number or piece.first_line) - piece.first_line
        line = raw[int(starts[k]) : int(ends[k])]
        texts.append(str(bytes(line).removesuffix(b"\r"), "utf-8"))
    return texts
