"""A real Prefect stack in processes: `prefect server start` (SQLite in a temporary
PREFECT_HOME, a free loopback port), the work pool, `prefect deploy --all` from prefect.yaml,
and a process worker, as a user runs them. The stack keeps its processes, so fault tests can
kill the worker and start another, and soak tests can sample the processes' resources."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import httpx
import yaml

from tests.s3_server import free_port

REPO = Path(__file__).resolve().parents[1]
PREFECT = str(Path(sys.executable).with_name("prefect"))
FINAL_STATES = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
RETRIED_STATUS = {429, 502, 503}
API_ATTEMPTS = 6  # Prefect's client: PREFECT_CLIENT_MAX_RETRIES (5) after the first try


@dataclass(frozen=True)
class PrefectStack:
    api_url: str
    env: dict[str, str]
    logs: Path | None = None
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PREFECT, *args], cwd=REPO, env=self.env, capture_output=True, text=True,
            timeout=timeout,
        )  # fmt: skip

    def api(self, method: str, path: str, json: dict | None = None) -> object:
        """One API call, retried as Prefect's own client retries it (PrefectHttpxAsyncClient:
        429, 502 and 503, backing off): the server answers 503 when its SQLite database is
        briefly locked by another writer, which a busy stack does now and then (seen in CI on
        create_flow_run). Runs are created with an idempotency key, so a retry creates one run."""
        for attempt in range(API_ATTEMPTS):
            response = httpx.request(method, f"{self.api_url}{path}", json=json, timeout=30)
            if response.status_code not in RETRIED_STATUS or attempt == API_ATTEMPTS - 1:
                break
            retry_after = response.headers.get("Retry-After", "")
            time.sleep(float(retry_after) if retry_after.isdigit() else 2**attempt)
        response.raise_for_status()
        return response.json()

    @property
    def server(self) -> subprocess.Popen[bytes]:
        return self.processes["server"]

    @property
    def worker(self) -> subprocess.Popen[bytes]:
        return self.processes["worker"]

    def create_automations(self, spec: Path, within: float | None = None) -> None:
        """`prefect automation create --from-file` with the spec's automations; `within` (a
        shorter window, for a test) replaces each trigger's window."""
        assert self.logs is not None
        document = yaml.safe_load(spec.read_text())
        if within is not None:
            for automation in document["automations"]:
                automation["trigger"]["within"] = within
        copy = self.logs / spec.name
        copy.write_text(yaml.safe_dump(document))
        _check(self.cli("automation", "create", "--from-file", str(copy)))

    def start_run(
        self, deployment: str, parameters: dict[str, object], scheduled: str | None = None
    ) -> str:
        """Create a run of `deployment` (`flow/deployment`), due at `scheduled` (ISO time,
        default now) as a schedule would have created it; its id."""
        found = self.api("GET", f"/deployments/name/{deployment}")
        params = {key: str(value) for key, value in parameters.items()}
        state = {"type": "SCHEDULED", "state_details": {"scheduled_time": scheduled}}
        body = {
            "parameters": params,
            "idempotency_key": secrets.token_hex(8),  # a retried request creates one run
            **({"state": state} if scheduled else {}),
        }
        return self.api("POST", f"/deployments/{found['id']}/create_flow_run", body)["id"]

    def flow_run(self, run_id: str) -> dict:
        return self.api("GET", f"/flow_runs/{run_id}")

    def subflow_runs(self, run_id: str) -> list[dict]:
        body = {"flow_runs": {"parent_flow_run_id": {"any_": [run_id]}}, "sort": "START_TIME_ASC"}
        return self.api("POST", "/flow_runs/filter", body)

    def wait_final(self, run_id: str, timeout: float = 300) -> dict:
        """The flow run once it has left Scheduled/Pending/Running (or fail after `timeout`)."""
        deadline = time.monotonic() + timeout
        while (run := self.flow_run(run_id))["state_type"] not in FINAL_STATES:
            assert time.monotonic() < deadline, f"{run['name']} still {run['state_name']}"
            time.sleep(0.5)
        return run

    def explain(self, run_id: str) -> str:
        """Why a run ended as it did, for a failing assertion: its state and message, each
        subflow run's, and the end of the worker's output."""
        run = self.flow_run(run_id)
        lines = [f"{run['name']}: {run['state_name']}: {(run.get('state') or {}).get('message')}"]
        for sub in self.subflow_runs(run_id):
            if sub["state_type"] != "COMPLETED":
                message = (sub.get("state") or {}).get("message")
                lines.append(f"  subflow {sub['name']} {sub['state_name']}: {message}")
        if self.logs is not None and (self.logs / "worker.log").exists():
            lines.append((self.logs / "worker.log").read_text(errors="replace")[-4000:])
        return "\n".join(lines)

    def assert_completed(self, run_id: str, timeout: float = 300) -> dict:
        """wait_final, then fail with explain() unless the run Completed."""
        run = self.wait_final(run_id, timeout)
        assert run["state_type"] == "COMPLETED", self.explain(run_id)
        return run

    def start_worker(self) -> subprocess.Popen[bytes]:
        """Start a process worker on the pool (another one, after a test killed the first); its
        output is appended to logs/worker.log."""
        assert self.logs is not None
        self.processes["worker"] = _start(
            [PREFECT, "worker", "start", "--pool", "sparkify-local"], self.env,
            self.logs / "worker.log", append=True,
        )  # fmt: skip
        return self.worker


@contextmanager
def prefect_stack(home: Path, extra_env: Mapping[str, str] | None = None) -> Iterator[PrefectStack]:
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")},
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": api_url,
        "PREFECT_UI_API_URL": api_url,
        "PREFECT_SERVER_API_HOST": "127.0.0.1",
        "PREFECT_SERVER_API_PORT": str(port),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PWD": str(REPO),
        **(extra_env or {}),
    }
    logs = home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    server = _start([PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                    env, logs / "server.log")  # fmt: skip
    stack = PrefectStack(api_url, env, logs, {"server": server})
    try:
        _wait_healthy(api_url, server, logs / "server.log")
        _check(stack.cli("work-pool", "create", "sparkify-local", "--type", "process"))
        _check(stack.cli("--no-prompt", "deploy", "--all"))
        stack.start_worker()
        yield stack
    finally:
        for name in ("worker", "server"):
            proc = stack.processes.get(name)
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()


def daily_schedule_time(day: str) -> str:
    """When the daily deployment's cron (00:15 UTC, days_back 1) fires to load `day`."""
    return f"{date.fromisoformat(day) + timedelta(days=1)}T00:15:00Z"


def assert_tables_match(actual: dict[str, list[tuple]], expected: dict[str, list[tuple]]) -> None:
    """Table by table, as multisets: a duplicated row fails as surely as a missing one. Linear
    in the rows (the stack tests compare tables of tens of thousands of rows)."""
    for table, want in expected.items():
        got = actual[table]
        missing = list((Counter(want) - Counter(got)).elements())[:3]
        extra = list((Counter(got) - Counter(want)).elements())[:3]
        assert (len(got), missing, extra) == (len(want), [], []), f"{table} differs"


def _start(
    command: list[str], env: dict[str, str], log: Path, append: bool = False
) -> subprocess.Popen[bytes]:
    handle = log.open("ab" if append else "wb")
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT)


def _wait_healthy(api_url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"prefect server exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{api_url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"prefect server did not become healthy: {log.read_text()[-2000:]}")


def _check(result: subprocess.CompletedProcess[str]) -> None:
    if result.returncode != 0:
        raise RuntimeError(f"{result.args} failed: {result.stdout[-2000:]}{result.stderr[-2000:]}")
