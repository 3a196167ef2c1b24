"""Staging's one parse per log line: `json_extract` over the 18 field paths (what
sql/parse/parsed.duckdb.sql.j2 does) against `json_transform` to 18 JSON fields (what it
did before), in one DuckDB session on the same lines, alternating, best of `--repeats`.

    .venv/bin/python bench/parse_fields.py --lines 200000

The lines are generated log events (tasks.sample_lake). The ratio is what to compare across
machines; seconds alone are noisy on shared hosts.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import duckdb

from tasks.sample_lake import LakeSpec, generate_lake

FIELDS = [
    "artist", "auth", "firstName", "gender", "itemInSession", "lastName", "length", "level",
    "location", "method", "page", "registration", "sessionId", "song", "status", "ts",
    "userAgent", "userId",
]  # fmt: skip

TRANSFORM = "json_transform(line, '{{{}}}')".format(
    ", ".join(f'"{name}": "JSON"' for name in FIELDS)
)
EXTRACT = "json_extract(line, [{}])".format(", ".join(f"'$.\"{name}\"'" for name in FIELDS))


def timed(conn: duckdb.DuckDBPyConnection, expression: str) -> float:
    started = time.perf_counter()
    conn.execute(f"create or replace temp table parsed as select {expression} as v from lines")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        lake = Path(tmp) / "lake"
        generate_lake(lake, LakeSpec(songs=200, events=args.lines, days=30))
        lines = [
            line
            for f in sorted((lake / "log_data").rglob("*.json"))
            for line in f.read_text().splitlines()
            if line.strip()
        ]
    conn = duckdb.connect()
    conn.execute("create temp table lines (line varchar)")
    conn.execute("insert into lines select unnest($lines)", {"lines": lines})
    transform = extract = float("inf")
    for _ in range(args.repeats):  # alternating, so drift on a shared host hits both
        transform = min(transform, timed(conn, TRANSFORM))
        extract = min(extract, timed(conn, EXTRACT))
    print(f"{len(lines):,} log lines, best of {args.repeats}")
    print(f"json_transform to 18 JSON fields  {transform:6.2f} s")
    print(f"json_extract over 18 paths        {extract:6.2f} s")
    print(f"ratio extract / transform         {extract / transform:6.2f}")


if __name__ == "__main__":
    main()
