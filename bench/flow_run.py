"""One flow run for bench/pipeline.py, in its own process: prints its timings as JSON.

    .venv/bin/python bench/flow_run.py LAKE WAREHOUSE [YYYY-MM-DD]

PREFECT_API_URL must point at a running server (the benchmark starts one), so the wall time
is the flow's own cost plus orchestration, not a temporary server's start-up.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flows.sparkify_etl import sparkify_etl


def main() -> None:
    lake, warehouse = sys.argv[1], sys.argv[2]
    day = date.fromisoformat(sys.argv[3]) if len(sys.argv) > 3 else None
    started = time.perf_counter()
    summary = sparkify_etl(source=lake, warehouse=warehouse, day=day)
    wall = time.perf_counter() - started
    detail = {kind: result.seconds for kind, result in summary.staged.items()}
    result = {"stages": summary.stage_seconds, "stages_detail": detail, "wall": wall}
    print(json.dumps({**result, "peak_rss_mb": peak_rss_mb()}))


def peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM). Not the parent's wait4 figure: on Linux a child's
    ru_maxrss starts from its parent's RSS at fork, so a benchmark process that has grown
    (it runs the baselines in-process) would be reported as the flow's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


if __name__ == "__main__":
    main()
