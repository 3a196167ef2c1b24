"""Tasks that run in parallel threads each open their own session on one DuckDB file."""

from __future__ import annotations

import threading
from pathlib import Path

import pyarrow as pa

from tasks.warehouse.connect import connect
from tasks.warehouse.target import WarehouseTarget

ROUNDS = 150
THREADS = 4


def test_sessions_opened_at_once_can_all_scan_arrow_data(tmp_path: Path) -> None:
    """The staging tasks open the warehouse at the same moment, then register Arrow batches.

    Each round starts with no session open, so the first opens create the database instance:
    without the lock around opening, about one round in fifteen failed with "python_arrow_scan
    does not exist" (the soak test's backfill once failed a day that way).
    """
    target = WarehouseTarget.parse(str(tmp_path / "warehouse.duckdb"))
    batch = pa.table({"n": list(range(10))})
    failures: list[str] = []

    def open_and_scan(start: threading.Barrier) -> None:
        start.wait()
        try:
            with connect(target) as wh:
                wh.register("batch", batch)
                assert wh.scalar("select sum(n) from batch") == 45
                wh.unregister("batch")
        except Exception as exc:  # collected: an exception in a thread would not fail the test
            failures.append(f"{type(exc).__name__}: {str(exc).splitlines()[0]}")

    for _ in range(ROUNDS):
        start = threading.Barrier(THREADS)
        threads = [threading.Thread(target=open_and_scan, args=(start,)) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not failures, f"{len(failures)} of {ROUNDS * THREADS} sessions failed: {failures[0]}"
