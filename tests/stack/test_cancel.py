"""A cancelled run ends cleanly through a real server and worker: staging stops at its next
batch, nothing is published, and no row the run staged is left behind; the next run loads as
if it had not happened. (The stop itself, without Prefect: tests/warehouse/test_cancel.py.)"""

from __future__ import annotations

import shutil
import textwrap
import time
from collections.abc import Iterator

import pytest

from tasks.model.tables import MARTS
from tests.prefect_stack import PrefectStack, prefect_stack
from tests.warehouse.test_cancel import INCOMING, counts

# Through a real server and worker: the run's process slowed to one batch of 5 files a second,
# so staging the small lake's songs takes about 30 s and a cancel lands in the middle of it.
SLOW_STAGING = textwrap.dedent(
    """
    import sys, time
    if "prefect.engine" in " ".join(sys.orig_argv):
        import tasks.lake.reading, tasks.stage
        tasks.lake.reading.BATCH_FILES = 5
        _real = tasks.stage._stage_batch
        def _slow(wh, kind, batch):
            time.sleep(1)
            return _real(wh, kind, batch)
        tasks.stage._stage_batch = _slow
    """
)


@pytest.fixture(scope="module")
def slow_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectStack]:
    hooks = tmp_path_factory.mktemp("hooks")
    (hooks / "sitecustomize.py").write_text(SLOW_STAGING)
    home = tmp_path_factory.mktemp("prefect-home")
    with prefect_stack(home, {"PYTHONPATH": str(hooks)}) as running:
        yield running


def _task_runs(stack: PrefectStack, run_id: str) -> dict[str, dict]:
    body = {"task_runs": {"flow_run_id": {"any_": [run_id]}}}
    return {t["name"]: t for t in stack.api("POST", "/task_runs/filter", body)}


def _logs(stack: PrefectStack, run_id: str) -> list[str]:
    body = {"logs": {"flow_run_id": {"any_": [run_id]}}, "limit": 200}
    return [entry["message"] for entry in stack.api("POST", "/logs/filter", body)]


@pytest.mark.e2e
def test_a_run_cancelled_during_staging_publishes_nothing_and_leaves_no_staged_rows(
    slow_stack, small_lake, tmp_path
) -> None:
    lake, warehouse = tmp_path / "lake", tmp_path / "w.duckdb"
    shutil.copytree(small_lake, lake)
    params = {"source": str(lake), "warehouse": str(warehouse)}
    run_id = slow_stack.start_run("sparkify-etl/full-refresh", params)
    deadline = time.monotonic() + 240
    while _task_runs(slow_stack, run_id).get("stage songs", {}).get("state_type") != "RUNNING":
        assert time.monotonic() < deadline, slow_stack.explain(run_id)
        time.sleep(0.5)
    time.sleep(3)  # a few batches in
    slow_stack.api("POST", f"/flow_runs/{run_id}/set_state",
                   {"state": {"type": "CANCELLING"}, "force": True})  # fmt: skip
    run = slow_stack.wait_final(run_id, timeout=120)
    assert run["state_type"] == "CANCELLED", slow_stack.explain(run_id)
    songs = _task_runs(slow_stack, run_id)["stage songs"]
    assert "staging songs stopped before its next batch" in (songs["state"]["message"] or "")
    assert any("nothing was published" in line for line in _logs(slow_stack, run_id))
    assert set(counts(warehouse, INCOMING).values()) == {0}
    assert set(counts(warehouse, MARTS).values()) == {0}
    # the lock is free and nothing of the cancelled run is in the way: the next run loads
    slow_stack.assert_completed(slow_stack.start_run("sparkify-etl/full-refresh", params), 400)
    assert all(counts(warehouse, ("songplays", "users", "songs")).values())
