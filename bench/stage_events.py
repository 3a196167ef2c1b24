"""Staging log events: this project's staging against two baselines, in one process.

    .venv/bin/python bench/stage_events.py --events 1000000 --days 30

- floor: read every log file's bytes (what any loader must at least do);
- naive: DuckDB `read_json` over the log glob into a table (no validation, no quarantine,
  no text repair; a malformed line would abort it);
- staging: `stage_events` as the flow runs it (per-line parsing, typing, range checks,
  quarantine, text repair), on a fresh warehouse.
Ratios are against the floor; compare ratios across machines, not seconds.
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
from tasks.stage import stage_events
from tests.factories import prepared_run


def timed(label: str, action) -> float:
    started = time.perf_counter()
    action()
    seconds = time.perf_counter() - started
    print(f"{label:<10} {seconds:8.2f} s")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--lake", type=Path, help="an existing lake instead of a generated one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        lake = args.lake or Path(tmp) / "lake"
        if not args.lake:
            generate_lake(lake, LakeSpec(songs=200, events=args.events, days=args.days))
        files = sorted((lake / "log_data").rglob("*.json"))
        floor = timed("floor", lambda: [f.read_bytes() for f in files])
        glob = str(lake / "log_data" / "**" / "*.json")
        naive_sql = (
            "create table events as select * from read_json(?, format = 'newline_delimited')"
        )
        naive_db = duckdb.connect(str(Path(tmp) / "naive.duckdb"))
        naive = timed("naive", lambda: naive_db.execute(naive_sql, [glob]))
        run = prepared_run(lake, Path(tmp) / "w.duckdb")
        result = None

        def stage() -> None:
            nonlocal result
            result = stage_events.fn(run)

        staging = timed("staging", stage)
        print(f"events staged: {result.accepted:,} ({result.rejected:,} rejected)")
        print(f"ratio naive/floor:   {naive / floor:.1f}")
        print(f"ratio staging/floor: {staging / floor:.1f}")
        print(f"ratio staging/naive: {staging / naive:.2f}")


if __name__ == "__main__":
    main()
