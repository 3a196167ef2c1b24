"""How fast the lake generator writes events, against the floor of serialising them at all.

    .venv/bin/python bench/generate_lake.py --events 1000000 --songs 20000

Baseline, in the same process: `json.dumps` of the same number of fixed 18-field events,
written to one file. The ratio (generator / baseline) is what to compare across machines;
seconds alone are noisy on shared hosts.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tasks.sample_lake import LakeSpec, generate_lake
from tests.factories import event


def baseline(events: int, out: Path) -> float:
    record = event()
    started = time.perf_counter()
    with out.open("w") as fh:
        for i in range(events):
            record["ts"] = i
            fh.write(json.dumps(record, separators=(",", ":")) + "\n")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--songs", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        floor = baseline(args.events, Path(tmp) / "baseline.json")
        started = time.perf_counter()
        spec = LakeSpec(songs=args.songs, events=args.events, days=args.days, users=1_000)
        stats = generate_lake(Path(tmp) / "lake", spec)
        generator = time.perf_counter() - started
    print(f"events={stats.events:,} song_files={stats.song_files:,}")
    print(f"baseline json.dumps+write: {floor:.2f} s")
    print(
        f"generator:                 {generator:.2f} s  ({stats.events / generator:,.0f} events/s)"
    )
    print(f"ratio generator/baseline:  {generator / floor:.2f}")


if __name__ == "__main__":
    main()
