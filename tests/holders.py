"""Second processes that hold a DuckDB warehouse while a test runs: an analyst's read-only
connection, a load or a report mid-run, a plain connection. DuckDB's lock and the run lock are
per process, so every holder is a real process (tests/warehouse/test_warehouse_turns.py,
tests/flow/test_warehouse_turns_flow.py, the retry tests)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
Spawn = Callable[[str], subprocess.Popen]


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """Start a second process running `code`; return once it prints `held`. Killed at the end."""
    processes: list[subprocess.Popen] = []

    def start(code: str) -> subprocess.Popen:
        process = subprocess.Popen([sys.executable, "-c", code], cwd=REPO,
                                   stdout=subprocess.PIPE, text=True)  # fmt: skip
        processes.append(process)
        assert process.stdout.readline().strip() == "held"
        return process

    yield start
    for process in processes:
        process.kill()
        process.wait()


def analyst(path: Path, seconds: float) -> str:
    """An analyst's read-only connection, left open for `seconds`."""
    return (
        "import duckdb, time\n"
        f"c = duckdb.connect({str(path)!r}, read_only=True)\n"
        "print('held', flush=True)\n"
        f"time.sleep({seconds})\n"
    )


def load_in_progress(path: Path, seconds: float, publishes: str = "select 1") -> str:
    """A load mid-run: the run lock for `seconds`, the file open for writing in its first
    second (a task), then only the lock (between tasks), then `publishes` (its last task)."""
    return (
        "import time\n"
        "from tasks.warehouse.connect import connect, run_lock\n"
        "from tasks.warehouse.target import WarehouseTarget\n"
        f"target = WarehouseTarget.parse({str(path)!r})\n"
        "with run_lock(target):\n"
        "    with connect(target):\n"
        "        print('held', flush=True)\n"
        "        time.sleep(1)\n"
        f"    time.sleep({seconds - 1})\n"
        "    with connect(target) as wh:\n"
        f"        wh.execute({publishes!r})\n"
    )


def report_in_progress(path: Path, seconds: float) -> str:
    """A report mid-run: the run lock shared, and the file open read-only."""
    return (
        "import time\n"
        "from tasks.warehouse.connect import connect, run_lock\n"
        "from tasks.warehouse.target import WarehouseTarget\n"
        f"target = WarehouseTarget.parse({str(path)!r})\n"
        "with run_lock(target, shared=True), connect(target, read_only=True):\n"
        "    print('held', flush=True)\n"
        f"    time.sleep({seconds})\n"
    )


def waited(started: float) -> float:
    return time.monotonic() - started


def hold_lock(path: Path, seconds: float) -> subprocess.Popen:
    """A read-write connection to the DuckDB file at `path`, held for `seconds` (the caller
    kills it or waits for it)."""
    code = (
        "import duckdb, sys, time\n"
        f"c = duckdb.connect({str(path)!r})\n"
        "print('locked', flush=True)\n"
        f"time.sleep({seconds})\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    return holder
