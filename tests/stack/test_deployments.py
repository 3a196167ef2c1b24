"""Deployments through real processes, as users run them: `prefect server start`, a process
worker, `prefect deploy --all` from prefect.yaml and `prefect deployment run … --watch`; the
UI checked in headless Chromium."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers import assert_tables_equal, published_tables, query
from tests.prefect_stack import PrefectStack, prefect_stack
from tests.reference import star_schema
from tests.tiers import find_chromium

pytestmark = pytest.mark.e2e
CHROMIUM = find_chromium()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory):
    with prefect_stack(tmp_path_factory.mktemp("prefect-home")) as running:
        yield running


def run_deployment(
    stack: PrefectStack, name: str, *extra: str, **params: object
) -> tuple[int, str]:
    """`prefect deployment run NAME --watch`; the exit code and the flow run's id."""
    args = ["deployment", "run", name, "--watch", *extra]
    for key, value in params.items():
        args += ["--param", f"{key}={value}"]
    result = stack.cli(*args)
    match = re.search(r"UUID: ([0-9a-f-]{36})", result.stdout)
    assert match, result.stdout + result.stderr
    return result.returncode, match.group(1)


def task_runs(stack: PrefectStack, flow_run_id: str, expected: int) -> list[dict]:
    """The run's task runs, once `expected` of them have reached a final state (task states
    reach the API a few seconds after the flow run ends)."""
    body = {"flow_runs": {"id": {"any_": [flow_run_id]}}}
    deadline = time.monotonic() + 30
    while True:
        runs = stack.api("POST", "/task_runs/filter", body)
        done = [r for r in runs if r["state_type"] in {"COMPLETED", "FAILED"}]
        if len(done) >= expected or time.monotonic() > deadline:
            return runs
        time.sleep(1)


@pytest.fixture(scope="module")
def completed_run(stack, small_lake, tmp_path_factory) -> tuple[str, Path]:
    warehouse = tmp_path_factory.mktemp("deployed") / "w.duckdb"
    code, run_id = run_deployment(
        stack, "sparkify-etl/full-refresh", source=small_lake, warehouse=warehouse
    )
    assert code == 0
    return run_id, warehouse


def test_a_full_refresh_runs_on_the_worker_and_publishes(stack, completed_run, small_lake):
    run_id, warehouse = completed_run
    flow_run = stack.api("GET", f"/flow_runs/{run_id}")
    named = f"sparkify-etl full {small_lake.name}"  # the partition and the lake
    assert (flow_run["state_type"], flow_run["name"]) == ("COMPLETED", named)
    assert_tables_equal(published_tables(warehouse), star_schema(small_lake))
    tasks = {t["name"]: t for t in task_runs(stack, run_id, expected=16)}
    for name in ("create schema", "stage events full", "stage songs", "report staging",
                 "check rejected share",
                 "build users", "build songplays", "check songplays", "publish full"):  # fmt: skip
        assert tasks[name]["state_type"] == "COMPLETED", name
    assert {"sparkify", "full-refresh"} <= set(flow_run["tags"])  # the deployment's tags
    # none: tags cost ~2 s each (tasks/common/retry.py)
    assert tasks["stage events full"]["tags"] == []


def test_the_run_publishes_its_artifacts(stack, completed_run) -> None:
    run_id, _ = completed_run
    artifacts = stack.api(
        "POST", "/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [run_id]}}}
    )
    keys = {a["key"] for a in artifacts}
    assert {"sparkify-run-summary", "sparkify-row-counts", "sparkify-quality-checks",
            "sparkify-staging-events", "sparkify-staging-songs"} <= keys  # fmt: skip
    progress = [a for a in artifacts if a["key"] == "sparkify-staging-events"]
    assert progress[0]["data"] == 100.0
    (checks,) = [a for a in artifacts if a["key"] == "sparkify-quality-checks"]
    rows = json.loads(checks["data"]) if isinstance(checks["data"], str) else checks["data"]
    assert checks["description"] == f"Quality checks: {len(rows)} passed, 0 failed"
    assert all(row["limit"] for row in rows)  # each check says what it allows
    limits = {(row["table"], row["check"]): row["limit"] for row in rows}
    assert limits[("users", "level isin")] == "one of free, paid"


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed (make test-deps)")
def test_the_ui_shows_the_run_completed_with_its_task_runs(stack, completed_run, tmp_path):
    run_id, _ = completed_run
    ui = stack.api_url.removesuffix("/api")
    url = f"{ui}/v2/runs/flow-run/{run_id}?tab=TaskRuns"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=20000"]  # fmt: skip
    dom = subprocess.run([CHROMIUM, *flags, "--dump-dom", url], capture_output=True, text=True,
                         timeout=120).stdout  # fmt: skip
    screenshot = tmp_path / "flow-run.png"
    subprocess.run([CHROMIUM, *flags, f"--screenshot={screenshot}", "--window-size=1400,1000", url],
                   capture_output=True, timeout=120)  # fmt: skip
    assert "Completed" in dom and "sparkify-etl full" in dom
    for name in ("stage events full", "build users", "check songplays", "publish full"):
        assert name in dom, name
    assert screenshot.stat().st_size > 10_000


def browse(url: str, tmp_path: Path) -> str:
    """The page's text as headless Chromium renders it (scripts run for 20 s of virtual time)."""
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=20000"]  # fmt: skip
    dom = subprocess.run([CHROMIUM, *flags, "--dump-dom", url], capture_output=True, text=True,
                         timeout=120).stdout  # fmt: skip
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", dom)))


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed (apt-get install chromium)")
def test_the_run_form_describes_every_parameter(stack, tmp_path) -> None:
    from prefect.utilities.callables import parameter_schema

    from flows.sparkify_etl import sparkify_etl

    found = stack.api("GET", "/deployments/name/sparkify-etl/full-refresh")
    ui = stack.api_url.removesuffix("/api")
    page = browse(f"{ui}/deployments/deployment/{found['id']}/run", tmp_path)
    assert "Parameters" in page
    for name, spec in parameter_schema(sparkify_etl.fn).properties.items():
        first_words = " ".join(spec["description"].replace("`", " ").split()[:4])
        assert name in page and first_words in " ".join(page.replace("`", " ").split()), name


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed (apt-get install chromium)")
def test_a_run_failed_on_rejects_shows_the_rejected_records_in_the_ui(stack, small_lake, tmp_path):
    lake = Path(shutil.copytree(small_lake, tmp_path / "lake"))
    day_file = sorted((lake / "log_data").rglob("*.json"))[0]
    day_file.write_text(day_file.read_text() + "{broken-record-for-the-ui\n" * 200)
    code, run_id = run_deployment(
        stack, "sparkify-etl/full-refresh", source=lake, warehouse=tmp_path / "w.duckdb"
    )
    assert code != 0
    ui = stack.api_url.removesuffix("/api")
    # the step that failed is the threshold's own task
    tasks = {t["name"]: t["state_type"] for t in task_runs(stack, run_id, expected=5)}
    assert tasks["check rejected share"] == "FAILED"
    run_page = browse(f"{ui}/v2/runs/flow-run/{run_id}?tab=TaskRuns", tmp_path)
    assert "Failed" in run_page and "check rejected share" in run_page
    body = {"artifacts": {"flow_run_id": {"any_": [run_id]},
                          "key": {"any_": ["sparkify-rejected-records"]}}}  # fmt: skip
    (artifact,) = stack.api("POST", "/artifacts/filter", body)
    page = browse(f"{ui}/v2/artifacts/artifact/{artifact['id']}", tmp_path)
    key = day_file.relative_to(lake).as_posix()
    assert key in page and "{broken-record-for-the-ui" in page  # the file and the raw text
    reasons = {row["reason"] for row in json.loads(artifact["data"])}
    assert reasons and all(reason in page for reason in reasons)  # and why, line by line
    lines = {str(row["line_number"]) for row in json.loads(artifact["data"]) if row["line_number"]}
    assert lines and any(line in page for line in lines)


def test_a_broken_lake_fails_with_its_reason_and_leaves_the_warehouse(stack, small_lake, tmp_path):
    lake = Path(shutil.copytree(small_lake, tmp_path / "lake"))
    warehouse = tmp_path / "w.duckdb"
    assert (
        run_deployment(stack, "sparkify-etl/full-refresh", source=lake, warehouse=warehouse)[0] == 0
    )
    before = published_tables(warehouse)
    day_file = sorted((lake / "log_data").rglob("*.json"))[0]
    day_file.write_text(day_file.read_text() + "{broken\n" * 200)
    code, run_id = run_deployment(
        stack, "sparkify-etl/full-refresh", source=lake, warehouse=warehouse
    )
    flow_run = stack.api("GET", f"/flow_runs/{run_id}")
    assert code != 0 and flow_run["state_type"] == "FAILED"
    assert (
        "rejected" in flow_run["state"]["message"]
        and "events records" in flow_run["state"]["message"]
    )
    assert published_tables(warehouse) == before


def test_a_daily_run_scheduled_in_the_past_loads_its_own_day(stack, small_lake, tmp_path):
    warehouse = tmp_path / "w.duckdb"
    late = ("--start-at", "2018-11-03 00:15:00 UTC")  # scheduled long ago: the run starts late
    code, run_id = run_deployment(
        stack, "sparkify-daily/daily", *late, source=small_lake, warehouse=warehouse
    )
    assert code == 0
    assert stack.api("GET", f"/flow_runs/{run_id}")["name"] == "sparkify-daily 2018-11-02"
    assert query(warehouse, "select partition_label from sparkify_meta.load_history") == [
        ("2018-11-02",)
    ]
    # the daily run shows its load's outcome and links it; the load carries the daily's tags
    artifacts = stack.api(
        "POST", "/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [run_id]}}}
    )
    (load,) = [a for a in artifacts if a["key"] == "sparkify-daily-load"]
    assert load["description"] == "The load this run started: Completed"
    children = stack.api(
        "POST", "/flow_runs/filter",
        {"flow_runs": {"parent_flow_run_id": {"operator": "and_", "any_": [run_id]}}},
    )  # fmt: skip
    (child,) = children
    assert (
        child["id"] in load["data"]
        and child["name"] == f"sparkify-etl 2018-11-02 {small_lake.name}"
    )
    daily_tags = set(stack.api("GET", f"/flow_runs/{run_id}")["tags"])
    assert daily_tags and daily_tags <= set(child["tags"])


def test_a_backfill_loads_day_by_day_and_names_the_day_that_failed(stack, small_lake, tmp_path):
    warehouse = tmp_path / "w.duckdb"
    days = {"start": "2018-11-03", "end": "2018-11-05"}  # the lake has 11-01 to 11-04
    code, run_id = run_deployment(
        stack, "sparkify-backfill/backfill", source=small_lake, warehouse=warehouse, **days
    )
    flow_run = stack.api("GET", f"/flow_runs/{run_id}")
    assert code != 0 and flow_run["state_type"] == "FAILED"
    assert "1 of 3 days failed: 2018-11-05: lake" in flow_run["state"]["message"]
    loaded = query(warehouse, "select partition_label from sparkify_meta.load_history order by 1")
    assert loaded == [("2018-11-03",), ("2018-11-04",)]


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed (make test-deps)")
def test_the_report_deployment_shows_its_charts_in_the_ui(stack, completed_run, tmp_path):
    _, warehouse = completed_run
    code, run_id = run_deployment(
        stack, "sparkify-report/report", warehouse=warehouse, out=tmp_path / "report.html"
    )
    assert code == 0 and (tmp_path / "report.html").is_file()
    body = {"artifacts": {"flow_run_id": {"any_": [run_id]}, "key": {"any_": ["sparkify-report"]}}}
    artifact = stack.api("POST", "/artifacts/filter", body)[0]
    url = f"{stack.api_url.removesuffix('/api')}/v2/artifacts/artifact/{artifact['id']}"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", f"--user-data-dir={tmp_path / 'profile'}",
             "--virtual-time-budget=20000"]  # fmt: skip
    dom = subprocess.run([CHROMIUM, *flags, "--dump-dom", url], capture_output=True, text=True,
                         timeout=120).stdout  # fmt: skip
    assert dom.count('src="data:image/png;base64,') == 4
