"""Repair text that was UTF-8 encoded, then decoded as Latin-1 and encoded again (mojibake).

The activity logs carry names such as `CafÃ\\u0083Â©` (Café run through the mistake twice).
Left alone, those plays never match their song and analysts see garbage. The repair is exact
and conservative: a value changes only when all of it is Latin-1 text whose bytes form valid
UTF-8, so genuine accented text (`Café`) is never touched.
"""

from __future__ import annotations

from functools import lru_cache

import pyarrow as pa

_MAX_LAYERS = 4


def repair_mojibake(text: str | None) -> str | None:
    """Undo up to four layers of UTF-8-read-as-Latin-1; return other text unchanged."""
    if text is None or text.isascii():
        return text
    for _ in range(_MAX_LAYERS):
        try:
            repaired = text.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            return text
        if repaired == text:
            return text
        text = repaired
    return text


# A lake repeats its names: the 1M-event lake's 83,104 non-ASCII artists and titles are 2,813
# distinct values; remembered, they repair in 0.039 s against 0.143 s (bench/RESULTS.md). Only
# values up to 1 KB are remembered, so the cache stays under ~64 MB (a value may be 4 MB).
_remembered = lru_cache(maxsize=1 << 16)(repair_mojibake)
_REMEMBERED_CHARS = 1024


def repair_mojibake_arrow(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Vectorised form for DuckDB's arrow UDFs: one call per batch, not per row."""
    return pa.array(
        [
            _remembered(v) if v is not None and len(v) <= _REMEMBERED_CHARS else repair_mojibake(v)
            for v in values.to_pylist()
        ],
        type=pa.string(),
    )


def truncate_utf8(text: str | None, max_bytes: int) -> str | None:
    """The longest prefix of `text` that fits `max_bytes` of UTF-8 (Redshift sizes VARCHAR in
    bytes), cut at a character boundary."""
    if text is None:
        return None
    return text.encode("utf-8")[:max_bytes].decode("utf-8", "ignore")
