"""Staging a lake whose log files all need the stream cut, against the same lake one per line.

    .venv/bin/python bench/stage_streams.py --events 1000000

The generated lake's log files are rewritten with their events back to back on one line (as
Amazon Data Firehose delivers them), so no line is one JSON value and every file is cut into
its values in Python (`tasks/lake/json_stream.py`) before it is parsed. Both lakes are staged twice,
alternating, in this process; the ratio is the stream lake's best over the line lake's best.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tasks.sample_lake import LakeSpec, generate_lake  # noqa: E402
from tasks.stage import stage_events  # noqa: E402
from tests.factories import prepared_run  # noqa: E402


def back_to_back(lines_lake: Path, stream_lake: Path) -> None:
    for path in sorted((lines_lake / "log_data").rglob("*.json")):
        out = stream_lake / path.relative_to(lines_lake)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("".join(path.read_text(encoding="utf-8").splitlines()), encoding="utf-8")


def stage(lake: Path) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        run = prepared_run(lake, Path(tmp) / "w.duckdb")
        started = time.perf_counter()
        result = stage_events.fn(run)
        seconds = time.perf_counter() - started
    print(f"{lake.name:<28} {seconds:6.2f} s  {result.accepted:,} accepted")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    lakes = ROOT / "bench" / ".lakes"
    lines = lakes / f"lines-{args.events}"
    stream = lakes / f"stream-{args.events}"
    if not (lines / "log_data").is_dir():
        generate_lake(lines, LakeSpec(songs=200, events=args.events, days=30))
    if not (stream / "log_data").is_dir():
        back_to_back(lines, stream)
    times: dict[Path, list[float]] = {lines: [], stream: []}
    for _ in range(2):
        for lake in (lines, stream):
            times[lake].append(stage(lake))
    print(f"stream / lines (best of 2): {min(times[stream]) / min(times[lines]):.2f}")


if __name__ == "__main__":
    main()
