"""Soak: one Prefect server and one process worker (loopback only) run many small daily runs back
to back, then a 30-day backfill, with the zombie-run automation active as deployed.

Every run must complete, the tables must equal one full load of the lake, and the long-lived
processes (the server and the worker) must not leak file descriptors, threads or TCP
connections, nor grow in memory run after run. SPARKIFY_SOAK_RUNS scales the daily runs
(default 10: about four minutes with the backfill on an idle 2-core machine); the backfill is
always 30 days.
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import psutil
import pytest

from tasks.sample_lake import LakeSpec, generate_lake
from tests.helpers import published_tables
from tests.prefect_stack import (
    REPO,
    PrefectStack,
    assert_tables_match,
    daily_schedule_time,
    prefect_stack,
)
from tests.reference import star_schema

pytestmark = pytest.mark.e2e

DAILY_RUNS = int(os.environ.get("SPARKIFY_SOAK_RUNS", "10"))
BACKFILL_DAYS = 30
WARM_UP_RUNS = 2  # the first runs import modules and open pools: the baseline comes after them
START = date(2018, 11, 1)
LAKE = LakeSpec(songs=120, events=150 * max(DAILY_RUNS, BACKFILL_DAYS), days=max(DAILY_RUNS,
                BACKFILL_DAYS), users=40, seed=5, matched_share=0.4)  # fmt: skip

# Leak tolerances, end of the soak against the baseline after the warm-up runs. A leak of one
# descriptor, thread or connection per run exceeds them: the worker starts 9 flow-run
# processes after the baseline (8 daily runs by default, the backfill), the server serves 39
# flow runs. What they allow is bounded churn that does not grow with the run count: HTTP
# keep-alive connections in a client pool (the worker's and the server's, a few each), the
# SQLite database's -wal/-shm files the server may hold open or not at the moment of sampling,
# and short-lived threads (AnyIO worker threads, the worker's per-run executor) that may still
# be winding down when a sample is taken. Measured here: server fds 24 -> 28, tcp 3 -> 4,
# threads 14 -> 14; worker unchanged (13 fds, 5 threads, 4 tcp).
MAX_NEW_FDS = 8
MAX_NEW_THREADS = 6
MAX_NEW_TCP = 6
# Memory: the median RSS of the last third of the daily runs against the first third (after the
# warm-up). Python keeps freed memory in its arenas, so a few MiB is normal: the worker levels
# off (measured 112 -> 120 MiB, flat from the fifth run) and must stay within 12 MiB. The
# Prefect server (SQLite-backed; none of this project's code runs in it) rose steadily, ~1-2.6
# MiB per run over 10-12 runs and ~0.5 MiB per backfill day: not shown flat here, so it is only
# bounded, at 4 MiB per run between the thirds. A leak of a run's data in either process (its
# staged batches or tables: tens of MiB for this lake) fails; whether the server levels off
# needs a longer soak: SPARKIFY_SOAK_RUNS=60 puts about 40 runs between the thirds.
MAX_RSS_GROWTH_BYTES = {"worker": 12 * 2**20}
MAX_RSS_GROWTH_PER_RUN = {"server": 4 * 2**20}


@dataclass(frozen=True)
class Sample:
    fds: int
    threads: int
    tcp: int
    rss: int

    def __str__(self) -> str:
        mib = self.rss / 2**20
        return f"fds {self.fds}, threads {self.threads}, tcp {self.tcp}, rss {mib:.1f} MiB"


def sample(pid: int) -> Sample:
    process = psutil.Process(pid)
    with process.oneshot():
        return Sample(
            fds=process.num_fds(),
            threads=process.num_threads(),
            tcp=len(process.net_connections("tcp")),
            rss=process.memory_info().rss,
        )


def assert_loopback_only(pid: int) -> None:
    for conn in psutil.Process(pid).net_connections("inet"):
        addresses = [conn.laddr] + ([conn.raddr] if conn.raddr else [])
        assert all(a.ip in {"127.0.0.1", "::1"} for a in addresses), conn


def settle(stack: PrefectStack, timeout: float = 60) -> None:
    """Until the worker's flow-run processes have exited, so a sample sees the idle worker."""
    deadline = time.monotonic() + timeout
    while psutil.Process(stack.worker.pid).children(recursive=True):
        assert time.monotonic() < deadline, "a flow-run process outlived its run"
        time.sleep(0.2)
    time.sleep(0.5)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory):
    with prefect_stack(tmp_path_factory.mktemp("prefect-home")) as running:
        running.create_automations(REPO / "deployments" / "automations.yaml")  # as deployed
        yield running


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("soak-lake")
    generate_lake(path, LAKE)
    return path


@pytest.mark.timeout(1800)  # bounded, but longer than the suite's 600 s default: ~40 flow runs
def test_many_daily_runs_then_a_backfill_leak_nothing_and_load_every_row(stack, lake, tmp_path):
    assert DAILY_RUNS >= 3 * WARM_UP_RUNS, "SPARKIFY_SOAK_RUNS too small to compare thirds"
    warehouse = tmp_path / "w.duckdb"
    params = {"source": lake, "warehouse": warehouse}
    processes = {"server": stack.server.pid, "worker": stack.worker.pid}
    series: dict[str, list[Sample]] = {name: [] for name in processes}
    run_ids, started = [], time.monotonic()

    for n in range(DAILY_RUNS):
        day = (START + timedelta(days=n)).isoformat()
        run_ids.append(stack.start_run("sparkify-daily/daily", params, daily_schedule_time(day)))
        stack.assert_completed(run_ids[-1])
        settle(stack)
        for name, pid in processes.items():
            series[name].append(sample(pid))
    daily_seconds = time.monotonic() - started

    end = (START + timedelta(days=BACKFILL_DAYS - 1)).isoformat()
    backfill = {"start": START.isoformat(), "end": end, **params}
    run_ids.append(stack.start_run("sparkify-backfill/backfill", backfill))
    stack.assert_completed(run_ids[-1], timeout=600)
    settle(stack)
    final = {name: sample(pid) for name, pid in processes.items()}
    print(f"\n{DAILY_RUNS} daily runs in {daily_seconds:.0f} s, then the backfill: "
          f"{time.monotonic() - started:.0f} s in all")  # fmt: skip

    # Every run completed: the daily runs, the backfill and every subflow run under them.
    subflows = [sub for run_id in run_ids for sub in stack.subflow_runs(run_id)]
    assert len(subflows) == DAILY_RUNS + BACKFILL_DAYS
    assert {sub["state_type"] for sub in subflows} == {"COMPLETED"}
    assert_tables_match(published_tables(warehouse), star_schema(lake))

    for name, pid in processes.items():
        baseline, samples = series[name][WARM_UP_RUNS - 1], series[name]
        print(f"{name}: after warm-up {baseline}; end {final[name]}")
        print(f"{name} rss MiB per run: {[round(s.rss / 2**20, 1) for s in samples]}")
        assert_loopback_only(pid)
        end_state = final[name]
        assert end_state.fds - baseline.fds <= MAX_NEW_FDS, (name, "fds", baseline, end_state)
        assert end_state.threads - baseline.threads <= MAX_NEW_THREADS, (name, "threads")
        assert end_state.tcp - baseline.tcp <= MAX_NEW_TCP, (name, "tcp", baseline, end_state)
        third = len(samples) // 3
        first = statistics.median(s.rss for s in samples[WARM_UP_RUNS : WARM_UP_RUNS + third])
        last = statistics.median(s.rss for s in samples[-third:])
        runs_between = len(samples) - WARM_UP_RUNS - third  # from middle to middle of the thirds
        allowed = MAX_RSS_GROWTH_BYTES.get(name) or MAX_RSS_GROWTH_PER_RUN[name] * runs_between
        print(f"{name} rss: first third {first / 2**20:.1f} MiB, last {last / 2**20:.1f} MiB")
        assert last - first <= allowed, (name, "rss grew", first, last, allowed)
