"""Which of the declared rules a batch of typed records can break: the rest are not rendered.

On a clean lake almost no value is changed or rejected by the rules of `tasks.records.fields`,
yet the conversion query evaluates every rule on every value: at 1M events the rules cost more
than the insert itself (bench/RESULTS.md). The fast path parses a piece with Arrow's reader and
then looks at its columns once, in the reading thread, for what each rule needs before it can
apply to any value: a text rule that drops NUL characters needs a zero byte, the mojibake repair
a byte over 0x7F, a size rule a value over the size, a range rule a minimum or maximum outside
it. A rule whose need is absent from every piece of a batch cannot change the batch's result,
so staging renders the query without it (`tasks.records.sql.render_staging(keep=...)`): the
rules are still declared once, this only proves where they are idle. Each test here errs on the
side of keeping a rule (a null slot's bytes, a value that merely could be blank); tests run
every rule's class of input through the kept and the full query and compare
(tests/warehouse/test_rule_guards.py).

A rule is named `"<json field>.<rule>"`, as `tasks.records.sql` reads them:
- text: `nul` (drop NUL), `rtrim` (trailing spaces), `repair`, `unquote`, `blank`,
  `non_empty`, `size` (any of the size policies), `allowed`, `missing`;
- integer and bigint: `missing`, `int32` (the 32-bit range of an integer field), `range`;
- number: `missing`, `finite`, `range`.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tasks.records.fields import BLANKS, FIELDS, INT32, NEXT_SONG, Field

_SPACE, _QUOTE = ord(" "), ord('"')
_BLANK_BYTES = [ord(c) for c in BLANKS]


def rules_to_keep(kind: str, table: pa.Table) -> frozenset[str]:
    """The rules that may change or reject a value of `table` (in `typed.record_schema`)."""
    keep: set[str] = set()
    for f in FIELDS[kind]:
        column = table.column(f.json)
        if column.null_count == len(column):  # no value: only `missing` can apply
            rules = set()
        elif f.kind == "text":
            rules = _text_rules(f, column)
        else:
            rules = _number_rules(f, column)
        if _may_be_missing(f, column, table):
            rules.add("missing")
        keep.update(f"{f.json}.{rule}" for rule in rules)
    return frozenset(keep)


# The conditions a field is required under (fields.py writes them as SQL on the raw values),
# read by Arrow; a condition not here keeps the field's `missing` rule whenever it has a null.
_CONDITIONS = {NEXT_SONG: lambda table: pc.equal(table.column("page"), "NextSong")}


def _may_be_missing(f: Field, column: pa.ChunkedArray, table: pa.Table) -> bool:
    if not f.required or not column.null_count:
        return False
    if f.required is True or f.required not in _CONDITIONS:
        return True
    required_here = _CONDITIONS[f.required](table)  # NULL where the condition is
    return bool(pc.any(pc.and_kleene(pc.is_null(column), required_here)).as_py())


def _text_rules(f: Field, column: pa.ChunkedArray) -> set[str]:
    stats = _ByteStats.of(column)
    if stats.low_byte == 0:  # a NUL dropped can leave anything: every rule stays
        return {"nul", "rtrim", "repair", "unquote", "blank", "non_empty", "size", "allowed"}
    rules: set[str] = set()
    if stats.ends_with_space:
        rules.add("rtrim")
    if f.repair and stats.high_byte >= 0x80:
        rules.add("repair")
    unquoted = f.unquote and stats.starts_with_quote  # '" "' and '""' unquote to blanks
    if unquoted:
        rules.add("unquote")
    # text that ends blank starts blank, also once trailing spaces are dropped, so only a value
    # starting with a blank, or an empty one, can be blank; '' stays '' for blank="empty"
    if f.blank != "keep" and (
        unquoted or stats.starts_with_blank or (f.blank == "null" and _has_empty(column))
    ):
        rules.add("blank")
    if f.non_empty and (unquoted or stats.starts_with_blank or _has_empty(column)):
        rules.add("non_empty")
    if f.max_bytes is not None and stats.longest > f.max_bytes:
        rules.add("size")
    if f.allowed and not _all_in(column, f.allowed):
        rules.add("allowed")
    return rules


def _has_empty(column: pa.ChunkedArray) -> bool:
    return bool(pc.any(pc.equal(pc.binary_length(column), 0)).as_py())  # nulls skipped


def _all_in(column: pa.ChunkedArray, allowed: tuple[str, ...]) -> bool:
    found = pc.is_in(column, value_set=pa.array(allowed, pa.string()))
    return bool(pc.all(pc.or_kleene(found, pc.is_null(column))).as_py())


def _number_rules(f: Field, column: pa.ChunkedArray) -> set[str]:
    rules: set[str] = set()
    finite = True
    if f.kind == "number":
        finite = bool(pc.all(pc.is_finite(column)).as_py())  # nulls skipped
        if not finite:
            rules.add("finite")
    bounds = pc.min_max(column)
    low, high = bounds["min"].as_py(), bounds["max"].as_py()
    if f.kind == "integer" and not (INT32[0] <= low and high <= INT32[1]):
        rules.add("int32")
    if f.bounded and (not finite or not _within(f, low, high)):
        rules.add("range")
    return rules


def _within(f: Field, low: float, high: float) -> bool:
    if f.low is not None and (low <= f.low if f.exclusive_low else low < f.low):
        return False
    return f.high is None or high <= f.high


class _ByteStats:
    """What the text rules need to know of a column's bytes, from its buffers (numpy, no copy
    of the values). A null slot's bytes are counted too: that can only keep a rule."""

    def __init__(
        self, low: int, high: int, longest: int, first: np.ndarray, last: np.ndarray
    ) -> None:
        self.low_byte, self.high_byte, self.longest = low, high, longest
        self.starts_with_quote = bool(first[_QUOTE])
        self.starts_with_blank = bool(first[_BLANK_BYTES].any())
        self.ends_with_space = bool(last[_SPACE])

    @classmethod
    def of(cls, column: pa.ChunkedArray) -> _ByteStats:
        low, high, longest = 0xFF, 0, 0
        first = np.zeros(256, dtype=bool)
        last = np.zeros(256, dtype=bool)
        for chunk in column.chunks:
            offsets, data = _buffers(chunk)
            if not data.size:
                continue
            low, high = min(low, int(data.min())), max(high, int(data.max()))
            starts, ends = offsets[:-1], offsets[1:]
            longest = max(longest, int((ends - starts).max()))
            filled = ends > starts
            first[data[starts[filled] - offsets[0]]] = True
            last[data[ends[filled] - 1 - offsets[0]]] = True
        return cls(low, high, longest, first, last)


def _buffers(chunk: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """A string array's offsets and the bytes they span."""
    if pa.types.is_large_string(chunk.type):
        chunk = chunk.cast(pa.string())
    _, offset_buffer, data_buffer = chunk.buffers()
    window = slice(chunk.offset, chunk.offset + len(chunk) + 1)
    offsets = np.frombuffer(offset_buffer, dtype=np.int32)[window]
    if data_buffer is None or offsets[-1] == offsets[0]:
        return offsets, np.zeros(0, dtype=np.uint8)
    data = np.frombuffer(data_buffer, dtype=np.uint8)[offsets[0] : offsets[-1]]
    return offsets, data
