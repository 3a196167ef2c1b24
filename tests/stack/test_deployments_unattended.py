"""Deployments a team can leave running, through a real server and worker: bad parameters
refused when the run is created, the daily schedule off until turned on, a day reloaded by
hand, failure alerts (Failed, Crashed, TimedOut) delivered to a webhook, a deployment's own
time limit, and `make trigger`'s one-line outcome."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import yaml

from tests.helpers import published_tables, query
from tests.prefect_stack import PREFECT, REPO, PrefectStack, assert_tables_match, prefect_stack
from tests.reference import star_schema

DAILY = "sparkify-daily/daily"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectStack]:
    with prefect_stack(tmp_path_factory.mktemp("prefect-home")) as running:
        yield running


def trigger(stack: PrefectStack, deployment: str, **params: object) -> tuple[int, list[str]]:
    """`python -m flows.trigger DEPLOYMENT --param k=v …` as `make trigger` runs it: its exit
    code and output lines."""
    args = [sys.executable, "-m", "flows.trigger", deployment, "--timeout", "300"]
    for key, value in params.items():
        args += ["--param", f"{key}={value}"]
    done = subprocess.run(args, cwd=REPO, env=stack.env, capture_output=True, text=True,
                          timeout=360)  # fmt: skip
    return done.returncode, (done.stdout + done.stderr).splitlines()


def runs_of(stack: PrefectStack, deployment: str) -> list[dict]:
    found = stack.api("GET", f"/deployments/name/{deployment}")
    return stack.api("POST", "/flow_runs/filter",
                     {"flow_runs": {"deployment_id": {"any_": [found["id"]]}}})  # fmt: skip


# 1. Bad parameters are refused by the API, before a run exists.


@pytest.mark.parametrize(
    ("deployment", "params", "field"),
    [
        (DAILY, {"day": "2018-13-45"}, "day"),
        (DAILY, {"day": "2019-02-29"}, "day"),  # not a leap year
        (DAILY, {"days_back": -1}, "days_back"),
        ("sparkify-etl/full-refresh", {"day": "2018-11-31"}, "day"),
        ("sparkify-etl/full-refresh", {"max_rejected_share": 2}, "max_rejected_share"),
        ("sparkify-backfill/backfill", {"start": "2018-11-01", "end": "2018-11-5"}, "end"),
        ("sparkify-report/report", {"start": "2018-11-31"}, "start"),
        ("sparkify-report/report", {"end": "2018-11-30T25:00"}, "end"),
    ],
)
@pytest.mark.e2e
def test_a_bad_parameter_is_refused_when_the_run_is_created(stack, deployment, params, field):
    found = stack.api("GET", f"/deployments/name/{deployment}")
    assert found["enforce_parameter_schema"] is True
    before = len(runs_of(stack, deployment))
    response = httpx.post(f"{stack.api_url}/deployments/{found['id']}/create_flow_run",
                          json={"parameters": params}, timeout=30)  # fmt: skip
    assert response.status_code in {409, 422}, response.text
    assert f"Validation failed for field {field!r}" in response.json()["detail"]
    assert len(runs_of(stack, deployment)) == before  # no run: nothing for a worker to fail on


@pytest.mark.e2e
def test_make_trigger_says_why_the_api_refused_a_run(stack):
    code, lines = trigger(stack, DAILY, day="2018-13-45")
    assert code == 2
    assert lines[0].startswith("refused: Error creating flow run: Validation failed for field")
    assert "'day'" in lines[0]


# 2. The daily schedule does not fire until it is turned on.


def daily_schedule(stack: PrefectStack) -> dict:
    (schedule,) = stack.api("GET", f"/deployments/name/{DAILY}")["schedules"]
    return schedule


def scheduled_runs(stack: PrefectStack) -> list[dict]:
    return [r for r in runs_of(stack, DAILY) if r["state_type"] == "SCHEDULED"]


@pytest.mark.e2e
def test_the_daily_schedule_is_off_until_turned_on_and_a_redeploy_turns_it_off(stack):
    schedule = daily_schedule(stack)
    assert (schedule["slug"], schedule["active"]) == ("daily-0015-utc", False)
    assert schedule["schedule"]["cron"] == "15 0 * * *"
    time.sleep(10)  # the scheduler looks at a new deployment within seconds
    assert scheduled_runs(stack) == []

    resumed = stack.cli("deployment", "schedule", "resume", DAILY, schedule["id"])
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert daily_schedule(stack)["active"] is True
    deadline = time.monotonic() + 60
    while not scheduled_runs(stack):  # on: the scheduler creates the coming nights' runs
        assert time.monotonic() < deadline, "no run scheduled after the schedule was resumed"
        time.sleep(2)

    redeployed = stack.cli("--no-prompt", "deploy", "--name", "daily")
    assert redeployed.returncode == 0, redeployed.stdout + redeployed.stderr
    schedule = daily_schedule(stack)
    assert (schedule["slug"], schedule["active"]) == ("daily-0015-utc", False)
    # prefect.yaml is the source of truth: `make deploy` turns a resumed schedule off again
    deadline = time.monotonic() + 30
    while scheduled_runs(stack):
        assert time.monotonic() < deadline, "scheduled runs left after the schedule was paused"
        time.sleep(2)


# 3. The daily deployment reloads one day by hand; `make trigger` prints one line.


@pytest.mark.e2e
def test_the_daily_deployment_reloads_the_day_it_is_given(stack, small_lake, tmp_path):
    warehouse = tmp_path / "w.duckdb"
    code, lines = trigger(stack, DAILY, day="2018-11-04", source=small_lake, warehouse=warehouse)
    assert code == 0, lines
    assert re.fullmatch(rf"{DAILY}: flow run [0-9a-f-]{{36}} created; waiting for it to finish",
                        lines[0])  # fmt: skip
    assert lines[1:] == ["sparkify-daily 2018-11-04: Completed"]  # one line, not the events
    loaded = query(warehouse, "select partition_label from sparkify_meta.load_history")
    assert loaded == [("2018-11-04",)]


@pytest.mark.e2e
def test_make_trigger_prints_the_failure_reason(stack, tmp_path):
    missing = tmp_path / "no-such-lake"
    code, lines = trigger(stack, "sparkify-etl/full-refresh", source=missing,
                          warehouse=tmp_path / "w.duckdb")  # fmt: skip
    assert code == 1
    assert len(lines) == 2 and lines[1].startswith("sparkify-etl full no-such-lake: Failed: "), (
        lines
    )
    assert str(missing) in lines[1]


# 4. Failure alerts through a notification block.


class Receiver(ThreadingHTTPServer):
    """A webhook on 127.0.0.1 that records the JSON body of every POST."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Record)
        self.received: list[dict] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"

    def messages(self, text: str, timeout: float = 0) -> list[str]:
        """The received texts that contain `text`, waiting up to `timeout` for one."""
        deadline = time.monotonic() + timeout
        while True:
            found = [m["text"] for m in self.received if text in m.get("text", "")]
            if found or time.monotonic() >= deadline:
                return found
            time.sleep(1)


class _Record(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.received.append(json.loads(body or b"{}"))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def create_alerts(stack: PrefectStack, webhook: str | None = None) -> subprocess.CompletedProcess:
    """`deployments/alerts.py` as `make deploy` runs it (SPARKIFY_ALERT_WEBHOOK optional)."""
    env = {**stack.env, **({"SPARKIFY_ALERT_WEBHOOK": webhook} if webhook else {})}
    return subprocess.run([sys.executable, "deployments/alerts.py"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


@pytest.mark.e2e
def test_a_failed_daily_run_is_notified_once_naming_the_run(stack, receiver, small_lake, tmp_path):
    off = create_alerts(stack)  # no block yet: deploy goes on, and says alerts are off
    assert off.returncode == 0 and "failure alerts are off" in off.stderr
    for _ in range(2):  # again, as every `make deploy` does: one automation, updated
        created = create_alerts(stack, webhook=receiver.url)
        assert created.returncode == 0, created.stdout + created.stderr
    body = {"automations": {"name": {"any_": ["sparkify-alert-failed-runs"]}}}
    assert len(stack.api("POST", "/automations/filter", body)) == 1

    code, lines = trigger(stack, DAILY, day="2018-11-03", source=small_lake,
                          warehouse=tmp_path / "ok.duckdb")  # fmt: skip
    assert code == 0, lines
    completed_id = lines[0].split()[3]
    missing = tmp_path / "no-such-lake"
    code, lines = trigger(stack, DAILY, day="2018-11-04", source=missing,
                          warehouse=tmp_path / "w.duckdb")  # fmt: skip
    assert code == 1 and lines[1].startswith("sparkify-daily 2018-11-04: Failed: "), lines
    run_id = lines[0].split()[3]
    (alert,) = receiver.messages(run_id, timeout=90)
    assert alert.startswith("Sparkify: sparkify-daily 2018-11-04 Failed\n"), alert
    assert "sparkify-daily/daily: flow run sparkify-daily 2018-11-04" in alert
    assert str(missing) in alert  # the reason, from the run's state message
    time.sleep(10)  # the failed subflow run (sparkify-etl 2018-11-04) raises no second alert
    assert receiver.messages("sparkify-etl 2018-11-04") == []
    assert len(receiver.messages(run_id)) == 1
    assert receiver.messages(completed_id) == []  # a Completed run raises none


@pytest.mark.e2e
def test_a_crashed_run_is_notified_naming_the_run(stack, receiver, small_lake, tmp_path):
    """A flow-run process killed mid-run (SIGKILL: nothing in it can report) is marked Crashed
    by the worker, and the alert automation notifies that too."""
    from tests.stack.test_recovery import flow_run_process

    created = create_alerts(stack, webhook=receiver.url)
    assert created.returncode == 0, created.stdout + created.stderr
    params = {"source": small_lake, "warehouse": tmp_path / "w.duckdb"}
    run_id = stack.start_run("sparkify-etl/full-refresh", params)
    deadline = time.monotonic() + 240
    while stack.flow_run(run_id)["state_type"] != "RUNNING":
        assert time.monotonic() < deadline, stack.explain(run_id)
        time.sleep(0.2)
    flow_run_process(stack, run_id).kill()
    run = stack.wait_final(run_id, timeout=120)
    assert run["state_name"] == "Crashed", stack.explain(run_id)
    (alert,) = receiver.messages(run_id, timeout=90)
    assert alert.startswith(f"Sparkify: {run['name']} Crashed\n"), alert


# 5. A deployment's own time limit (SPARKIFY_RUN_TIMEOUT_S): a run past it ends TimedOut.

# Seconds the deployment below allows a run. Its processes also stage one batch of 5 song files
# a second (tests/stack/test_cancel.py's hook), so the small lake's 150 song files alone take
# 30 s: the run cannot finish inside its limit however fast the machine. Prefect starts the
# clock when the flow's body starts (after the process has loaded the flow), and the schema and
# the first batches take ~2 s here, so the limit usually lands mid-staging; wherever it lands,
# the run must end the same way.
TIME_LIMIT_S = 5


def deploy_with_time_limit(stack: PrefectStack, hooks: Path, seconds: float) -> str:
    """prefect.yaml's full-refresh as `full-refresh-time-limit`, with SPARKIFY_RUN_TIMEOUT_S in
    its `job_variables: env:` as an operator sets it, and the slow-staging hook on its path."""
    from tests.stack.test_cancel import SLOW_STAGING

    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(SLOW_STAGING)
    config = yaml.safe_load((REPO / "prefect.yaml").read_text())  # anchors resolved
    (deployment,) = [d for d in config["deployments"] if d["name"] == "full-refresh"]
    deployment["name"] = "full-refresh-time-limit"
    deployment["work_pool"]["job_variables"]["env"].update(
        SPARKIFY_RUN_TIMEOUT_S=str(seconds), PYTHONPATH=os.pathsep.join([str(hooks), str(REPO)])
    )
    config["deployments"] = [deployment]
    del config["definitions"]
    prefect_file = hooks / "prefect.yaml"
    prefect_file.write_text(yaml.safe_dump(config))
    done = stack.cli("--no-prompt", "deploy", "--prefect-file", str(prefect_file), "--all")
    assert done.returncode == 0, done.stdout + done.stderr
    return "sparkify-etl/full-refresh-time-limit"


@pytest.mark.e2e
def test_a_run_past_its_deployments_time_limit_times_out_is_notified_and_publishes_nothing(
    stack, receiver, small_lake, tmp_path
):
    from tests.stack.test_cancel import _logs
    from tests.warehouse.test_cancel import INCOMING, counts

    created = create_alerts(stack, webhook=receiver.url)
    assert created.returncode == 0, created.stdout + created.stderr
    limited = deploy_with_time_limit(stack, tmp_path / "hooks", TIME_LIMIT_S)
    warehouse = tmp_path / "w.duckdb"
    stack.assert_completed(stack.start_run(DAILY, {"day": "2018-11-01", "source": small_lake,
                                                   "warehouse": warehouse}))  # fmt: skip
    before = published_tables(warehouse)

    params = {"source": small_lake, "warehouse": warehouse}
    run_id = stack.start_run(limited, params)
    run = stack.wait_final(run_id, timeout=180)
    assert (run["state_type"], run["state_name"]) == ("FAILED", "TimedOut"), stack.explain(run_id)
    limit_message = f"Flow run exceeded timeout of {float(TIME_LIMIT_S)} second(s)"
    assert run["state"]["message"] == limit_message
    (alert,) = receiver.messages(run_id, timeout=90)
    assert alert.startswith(f"Sparkify: {run['name']} TimedOut\n"), alert
    assert f"sparkify-etl/full-refresh-time-limit: flow run {run['name']} ({run_id})" in alert
    assert f"Reason: {limit_message}" in alert

    # It stopped its tasks and deleted what it had staged; the tables are the last load's.
    logs = _logs(stack, run_id)
    assert any("timed out: nothing was published" in line for line in logs), logs[-20:]
    assert set(counts(warehouse, INCOMING).values()) == {0}
    assert published_tables(warehouse) == before
    history = "select partition_label from sparkify_meta.load_history"
    assert query(warehouse, history) == [("2018-11-01",)]

    # The lock is free, and the deployment with its normal limit loads the lake.
    stack.assert_completed(stack.start_run("sparkify-etl/full-refresh", params))
    assert_tables_match(published_tables(warehouse), star_schema(small_lake))
    assert sorted(query(warehouse, history)) == [("2018-11-01",), ("full",)]


# 6. A worker that does not share the checkout clones the repository.


@pytest.mark.e2e
def test_a_worker_without_the_checkout_clones_the_repository_and_runs(stack, small_lake, tmp_path):
    """deployments/pull-from-git.yaml's step, cloning this branch's last commit (not the work
    tree: commit first) from a bare copy, for a worker started in an empty directory."""
    branch = _git("rev-parse", "--abbrev-ref", "HEAD")
    remote = tmp_path / "sparkify.git"
    _git("clone", "--quiet", "--bare", "--branch", branch, str(REPO), str(remote))
    config = yaml.safe_load((REPO / "prefect.yaml").read_text())  # anchors resolved
    pull = yaml.safe_load((REPO / "deployments" / "pull-from-git.yaml").read_text())["pull"]
    pull[0]["prefect.deployments.steps.git_clone"].update(repository=remote.as_uri(), branch=branch)
    (deployment,) = [d for d in config["deployments"] if d["name"] == "full-refresh"]
    deployment["name"] = "full-refresh-from-git"
    deployment["work_pool"]["name"] = "sparkify-remote"  # only the worker started below
    config.update(pull=pull, deployments=[deployment])
    del config["definitions"]
    prefect_file = tmp_path / "prefect.yaml"
    prefect_file.write_text(yaml.safe_dump(config))
    deploy = ("--no-prompt", "deploy", "--prefect-file", str(prefect_file), "--all")
    for args in (("work-pool", "create", "sparkify-remote", "--type", "process"), deploy):
        done = stack.cli(*args)
        assert done.returncode == 0, done.stdout + done.stderr

    elsewhere = tmp_path / "elsewhere"  # no checkout here, and PWD says so
    elsewhere.mkdir()
    with (tmp_path / "remote-worker.log").open("wb") as log:
        worker = subprocess.Popen([PREFECT, "worker", "start", "--pool", "sparkify-remote"],
                                  cwd=elsewhere, env={**stack.env, "PWD": str(elsewhere)},
                                  stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        warehouse = tmp_path / "w.duckdb"
        code, lines = trigger(stack, "sparkify-etl/full-refresh-from-git", source=small_lake,
                              warehouse=warehouse)  # fmt: skip
        assert code == 0, [*lines, (tmp_path / "remote-worker.log").read_text()[-3000:]]
        assert lines[1] == f"sparkify-etl full {small_lake.name}: Completed"
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    run_id = lines[0].split()[3]
    logs = stack.api("POST", "/logs/filter", {"logs": {"flow_run_id": {"any_": [run_id]}}})
    assert any("Running 1 deployment pull step(s)" in entry["message"] for entry in logs)
    assert query(warehouse, "select partition_label from sparkify_meta.load_history") == [("full",)]


def _git(*args: str) -> str:
    done = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True,
                          check=True)  # fmt: skip
    return done.stdout.strip()
