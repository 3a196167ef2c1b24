"""Processes killed mid-run (SIGKILL), through the real stack: `prefect server start`, a
process worker, `prefect deploy --all` and the zombie-run automation of
deployments/automations.yaml, as `make deploy` creates them.

A killed run must not stay Running (the worker reports its child's death; flow-run heartbeats
and the automation catch what no surviving process can report), nothing it half-did may be
visible, its warehouse lock must not block the rerun, and the rerun must leave exactly the
tables of the reference model: no duplicate, no missing row.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import yaml

from flows.sparkify_backfill import DAY_TIMEOUT_SECONDS, load_one_day
from flows.sparkify_daily import RUN_TIMEOUT_SECONDS, sparkify_daily
from tasks.sample_lake import LakeSpec, generate_lake
from tests.helpers import published_tables, query
from tests.prefect_stack import (
    REPO,
    PrefectStack,
    assert_tables_match,
    daily_schedule_time,
    prefect_stack,
)
from tests.reference import star_schema

pytestmark = pytest.mark.e2e

AUTOMATIONS = REPO / "deployments" / "automations.yaml"
# Heartbeats come every 30 s (prefect.yaml; Prefect's minimum). The test's window is 45 s (30 s
# plus 15 s for a heartbeat delayed on this loaded 2-core machine); production's is 90 s.
ZOMBIE_WINDOW = 45
# The automation fires `within` after the last heartbeat (at most the kill), then the server's
# proactive evaluation (every 5 s) and the action add a few seconds.
CRASH_BOUND = ZOMBIE_WINDOW + 20
# Big enough that a day's run lasts a few seconds, so the kill lands mid-run.
LAKE = LakeSpec(songs=300, events=40_000, days=4, users=60, seed=11, matched_share=0.4)
DAYS = ("2018-11-01", "2018-11-02", "2018-11-03", "2018-11-04")
ZOMBIE_MESSAGE = "sparkify-crash-zombie-runs"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory):
    with prefect_stack(tmp_path_factory.mktemp("prefect-home")) as running:
        running.create_automations(AUTOMATIONS, within=ZOMBIE_WINDOW)
        yield running


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("recovery-lake")
    generate_lake(path, LAKE)
    return path


@pytest.fixture(scope="module")
def reference(lake: Path) -> dict[str, list[tuple]]:
    return star_schema(lake)


def run_daily(stack: PrefectStack, lake: Path, warehouse: Path, day: str) -> str:
    params = {"source": lake, "warehouse": warehouse}
    return stack.start_run("sparkify-daily/daily", params, daily_schedule_time(day))


def wait_until_staging(stack: PrefectStack, run_id: str, timeout: float = 120) -> None:
    """Until the run (or one of its subflow runs) has started staging events: mid-run."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = [run_id] + [sub["id"] for sub in stack.subflow_runs(run_id)]
        body = {"flow_runs": {"id": {"any_": runs}}}
        tasks = stack.api("POST", "/task_runs/filter", body)
        if any(t["name"].startswith("stage events") for t in tasks):
            return
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} never started staging")


def flow_run_process(stack: PrefectStack, run_id: str) -> psutil.Process:
    """The worker's child process executing the flow run."""
    for child in psutil.Process(stack.worker.pid).children(recursive=True):
        try:
            if child.environ().get("PREFECT__FLOW_RUN_ID") == run_id:
                return child
        except psutil.Error:
            continue
    raise AssertionError(f"no process runs flow run {run_id}")


def wait_left_running(stack: PrefectStack, run_id: str, timeout: float) -> tuple[dict, float]:
    """The flow run once it is no longer Running, and the seconds that took."""
    started = time.monotonic()
    while (run := stack.flow_run(run_id))["state_type"] in {"RUNNING", "PENDING"}:
        assert time.monotonic() - started < timeout, f"{run['name']} still Running"
        time.sleep(0.5)
    return run, time.monotonic() - started


def assert_lock_free(warehouse: Path) -> None:
    """The killed run's lock file is still there (it is never deleted) but nobody holds it:
    the kernel released the dead process's flock."""
    lock = Path(f"{warehouse}.lock")
    assert lock.is_file()
    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises BlockingIOError if held
        fcntl.flock(handle, fcntl.LOCK_UN)


def loaded_days(warehouse: Path) -> list[str]:
    sql = "select partition_label from sparkify_meta.load_history order by 1"
    return [row[0] for row in query(warehouse, sql)]


def test_the_automation_window_allows_for_the_heartbeat_frequency() -> None:
    """Production's window (90 s) is three heartbeats (30 s), so one late heartbeat never
    crashes a healthy run; the test window keeps at least 15 s of slack."""
    deployments = yaml.safe_load((REPO / "prefect.yaml").read_text())["deployments"]
    frequencies = {
        int(d["work_pool"]["job_variables"]["env"]["PREFECT_FLOWS_HEARTBEAT_FREQUENCY"])
        for d in deployments
    }
    (automation,) = yaml.safe_load(AUTOMATIONS.read_text())["automations"]
    assert frequencies == {30}
    assert automation["trigger"]["within"] >= 3 * 30 and ZOMBIE_WINDOW >= 30 + 15
    assert automation["actions"][0]["state"] == "CRASHED"
    assert "force" not in automation["actions"][0]  # never overwrite a run's final state


def test_a_killed_flow_run_process_is_crashed_and_its_rerun_loads_every_row(
    stack, lake, reference, tmp_path
):
    warehouse = tmp_path / "w.duckdb"
    for day in DAYS[:2]:
        stack.assert_completed(run_daily(stack, lake, warehouse, day))
    before = published_tables(warehouse)

    run_id = run_daily(stack, lake, warehouse, DAYS[2])
    wait_until_staging(stack, run_id)
    flow_run_process(stack, run_id).kill()  # SIGKILL: no handler, no cleanup runs

    # The worker sees its child die and reports the parent run at once ...
    parent, parent_seconds = wait_left_running(stack, run_id, timeout=30)
    assert parent["state_name"] == "Crashed" and "SIGKILL" in parent["state"]["message"]
    # ... but nothing alive knows the subflow run in that process: it is still Running until
    # its heartbeats stop long enough for the automation.
    (subflow,) = stack.subflow_runs(run_id)
    assert subflow["state_name"] == "Running"
    subflow, subflow_seconds = wait_left_running(stack, subflow["id"], timeout=CRASH_BOUND)
    assert subflow["state_name"] == "Crashed" and ZOMBIE_MESSAGE in subflow["state"]["message"]
    print(f"SIGKILL -> parent Crashed {parent_seconds:.1f} s, subflow {subflow_seconds:.1f} s")

    # Nothing the killed run did is visible, and its lock does not block anyone.
    assert published_tables(warehouse) == before
    assert loaded_days(warehouse) == list(DAYS[:2])
    assert_lock_free(warehouse)

    for day in DAYS[2:]:  # the rerun of the killed day, then the next day
        stack.assert_completed(run_daily(stack, lake, warehouse, day))
    assert_tables_match(published_tables(warehouse), reference)
    assert loaded_days(warehouse) == list(DAYS)


def test_a_killed_worker_crashes_its_backfill_and_a_new_worker_reruns_it(
    stack, lake, reference, tmp_path
):
    warehouse = tmp_path / "w.duckdb"
    days = {"start": DAYS[0], "end": DAYS[-1], "source": lake, "warehouse": warehouse}
    run_id = stack.start_run("sparkify-backfill/backfill", days)
    deadline = time.monotonic() + 120
    while not any(sub["state_type"] == "COMPLETED" for sub in stack.subflow_runs(run_id)):
        assert time.monotonic() < deadline, "the backfill never loaded its first day"
        time.sleep(0.2)
    process = flow_run_process(stack, run_id)
    stack.worker.kill()  # SIGKILL the worker alone; the flow-run process survives it
    stack.worker.wait()

    # The flow-run process loses its worker's control channel and ends its runs itself.
    run, seconds = wait_left_running(stack, run_id, timeout=30)
    assert run["state_name"] == "Crashed", run["state"]["message"]
    assert all(sub["state_type"] != "RUNNING" for sub in stack.subflow_runs(run_id))
    process.wait(timeout=30)
    print(f"worker SIGKILL -> backfill Crashed {seconds:.1f} s")
    assert_lock_free(warehouse)
    assert 1 <= len(loaded_days(warehouse)) < len(DAYS)  # killed between days, not after

    stack.start_worker()
    stack.assert_completed(stack.start_run("sparkify-backfill/backfill", days))
    assert_tables_match(published_tables(warehouse), reference)
    assert set(loaded_days(warehouse)) == set(DAYS)


def test_a_lost_host_leaves_no_run_running_and_the_rerun_loads_every_row(
    stack, lake, reference, tmp_path
):
    """Worker and flow-run process die together (a host, VM or container lost): no process
    is left to report anything; only the heartbeats' silence does."""
    warehouse = tmp_path / "w.duckdb"
    params = {"source": lake, "warehouse": warehouse}
    run_id = stack.start_run("sparkify-etl/full-refresh", params)
    wait_until_staging(stack, run_id)
    process = flow_run_process(stack, run_id)
    stack.worker.kill()
    process.kill()
    killed = time.monotonic()
    stack.worker.wait()

    time.sleep(5)
    assert stack.flow_run(run_id)["state_name"] == "Running"  # nobody reported the death
    run, _ = wait_left_running(stack, run_id, timeout=CRASH_BOUND)
    seconds = time.monotonic() - killed
    assert run["state_name"] == "Crashed" and ZOMBIE_MESSAGE in run["state"]["message"]
    print(f"host loss -> Crashed by the automation {seconds:.1f} s after SIGKILL")
    assert_lock_free(warehouse)

    stack.start_worker()
    stack.assert_completed(stack.start_run("sparkify-etl/full-refresh", params))
    assert_tables_match(published_tables(warehouse), reference)
    assert loaded_days(warehouse) == ["full"]


def test_a_run_stuck_on_a_held_lock_times_out_instead_of_running_forever(stack, lake, tmp_path):
    """The deployed flows carry a time limit; with a short one, a run whose lock is held by a
    hung run fails as TimedOut, and leaves the lock to its holder."""
    assert sparkify_daily.timeout_seconds == RUN_TIMEOUT_SECONDS == 3600
    assert load_one_day.timeout_seconds == DAY_TIMEOUT_SECONDS == 3600
    warehouse = tmp_path / "w.duckdb"
    script = (
        "import sys; from flows.sparkify_daily import sparkify_daily\n"
        "state = sparkify_daily.with_options(timeout_seconds=8)(source=sys.argv[1],"
        " warehouse=sys.argv[2], return_state=True)\n"
        "print('STATE', state.name, state.message)\n"
    )
    with Path(f"{warehouse}.lock").open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # a hung run holds the warehouse
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-c", script, str(lake), str(warehouse)], cwd=REPO,
            env={**stack.env, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip
        seconds = time.monotonic() - started
    assert "STATE TimedOut Flow run exceeded timeout of 8" in result.stdout, result.stderr[-3000:]
    assert seconds < 60
    assert not os.path.exists(warehouse)  # it never got past the lock
