"""What the Redshift path adds on the worker: writing the staged rows as Parquet parts.

    .venv/bin/python bench/parquet_parts.py --events 1000000

A Redshift run stages the lake on the worker exactly as a DuckDB run does, then writes each
staged table as Snappy Parquet parts for COPY (`tasks/warehouse/redshift/parquet.write_parts`). This
stages the generated lake's log files into a DuckDB file, then writes `events_incoming` as the
parts a 4-slice cluster would get, twice, alternating, in this process; the ratio is the best
write over the best staging, and the sizes compare the parts with the lake's JSON.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tasks.records.fields import COMPRESSION_RATIO, TYPICAL_RECORD_BYTES  # noqa: E402
from tasks.sample_lake import LakeSpec, generate_lake  # noqa: E402
from tasks.stage import stage_events  # noqa: E402
from tasks.warehouse.connect import connect  # noqa: E402
from tasks.warehouse.redshift.parquet import part_count, write_parts  # noqa: E402
from tests.factories import prepared_run  # noqa: E402

SLICES = 4


def one_round(lake: Path) -> tuple[float, float, int, int]:
    """Seconds to stage, seconds to write the parts, the parts' bytes and their count."""
    with tempfile.TemporaryDirectory() as tmp:
        run = prepared_run(lake, Path(tmp) / "w.duckdb")
        started = time.perf_counter()
        result = stage_events.fn(run)
        staged = time.perf_counter() - started
        with connect(run.warehouse) as wh:
            columns = wh.column_names("sparkify_staging.events_incoming")
            estimate = result.accepted * TYPICAL_RECORD_BYTES["events"] // COMPRESSION_RATIO
            count = part_count(estimate, SLICES)
            parts_dir = Path(tmp) / "parts"
            parts_dir.mkdir()
            started = time.perf_counter()
            parts = write_parts(wh, "events_incoming", columns, parts_dir, count)
            written = time.perf_counter() - started
        size = sum(p.stat().st_size for p in parts)
    print(f"stage {staged:6.2f} s   parts {written:6.2f} s   {len(parts)} parts, {size:,} bytes")
    return staged, written, size, len(parts)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    lake = ROOT / "bench" / ".lakes" / f"lines-{args.events}"
    if not (lake / "log_data").is_dir():
        generate_lake(lake, LakeSpec(songs=200, events=args.events, days=30))
    rounds = [one_round(lake) for _ in range(2)]
    stage_best = min(r[0] for r in rounds)
    write_best = min(r[1] for r in rounds)
    json_bytes = sum(p.stat().st_size for p in (lake / "log_data").rglob("*.json"))
    print(f"parts / staging (best of 2): {write_best / stage_best:.3f}")
    print(f"parts' bytes / the lake's JSON: {rounds[0][2] / json_bytes:.3f}")


if __name__ == "__main__":
    main()
