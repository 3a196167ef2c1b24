"""Staging before and after a change: this tree against a git revision, on the same lake.

    .venv/bin/python bench/ab_staging.py --baseline HEAD~3 --events 1000000 --songs 20000

The baseline revision is checked out into a temporary git worktree. Each round stages the same
lake's events and songs once with each tree (alternating, each in its own process on a fresh
warehouse) and reads the lake's bytes once (the floor), so the noise of a shared machine hits
both trees alike. Reported: seconds per round, each tree's best against the best floor, and
this tree's best over the baseline's.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tasks.sample_lake import LakeSpec, generate_lake  # noqa: E402

STAGE = """
import json, sys, time
from pathlib import Path
from tasks.stage import stage_events, stage_songs
from tests.factories import prepared_run
run = prepared_run(Path(sys.argv[1]), Path(sys.argv[2]))
seconds = {}
for kind, stage in (("events", stage_events), ("songs", stage_songs)):
    started = time.perf_counter()
    result = stage.fn(run)
    seconds[kind] = time.perf_counter() - started
    seconds[kind + "_accepted"] = result.accepted
print(json.dumps(seconds))
"""


def stage_with(tree: Path, lake: Path, work: Path) -> dict[str, float]:
    warehouse = work / f"{tree.name}-{time.monotonic_ns()}.duckdb"
    out = subprocess.run(
        [sys.executable, "-c", STAGE, str(lake), str(warehouse)],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin", "PREFECT_LOGGING_LEVEL": "ERROR"},
        check=True,
        capture_output=True,
        text=True,
    )
    warehouse.unlink(missing_ok=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def floor(lake: Path) -> float:
    started = time.perf_counter()
    for path in lake.rglob("*"):
        if path.is_file():
            path.read_bytes()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", required=True, help="git revision to compare with")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--songs", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    lake = ROOT / "bench" / ".lakes" / f"ab-{args.events}-{args.songs}"
    if not (lake / "log_data").is_dir():
        generate_lake(lake, LakeSpec(songs=args.songs, events=args.events, days=30))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        base = work / "baseline"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(base), args.baseline],
            check=True,
        )
        try:
            runs: dict[str, list[dict[str, float]]] = {"baseline": [], "this tree": []}
            floors = []
            for round_ in range(1, args.rounds + 1):
                floors.append(floor(lake))
                for name, tree in (("baseline", base), ("this tree", ROOT)):
                    result = stage_with(tree, lake, work)
                    runs[name].append(result)
                    print(
                        f"round {round_} {name:<10} events {result['events']:6.2f} s "
                        f"({result['events_accepted']:,})  songs {result['songs']:6.2f} s "
                        f"({result['songs_accepted']:,})  floor {floors[-1]:.2f} s"
                    )
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)])
    best_floor = min(floors)
    print(f"\nbest of {args.rounds}; floor (read every lake file) {best_floor:.2f} s")
    best = {
        name: {k: min(r[k] for r in rs) for k in ("events", "songs")} for name, rs in runs.items()
    }
    for name, b in best.items():
        print(
            f"{name:<10} events {b['events']:6.2f} s ({b['events'] / best_floor:5.1f}x floor)  "
            f"songs {b['songs']:6.2f} s"
        )
    for kind in ("events", "songs"):
        ratio = best["this tree"][kind] / best["baseline"][kind]
        print(f"{kind} staging, this tree / baseline: {ratio:.2f}")


if __name__ == "__main__":
    main()
