"""A real Prefect stack in processes: `prefect server start` (SQLite in a temporary
PREFECT_HOME, a free loopback port), the work pool, `prefect deploy --all` from prefect.yaml,
and a process worker, as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.s3_server import free_port

REPO = Path(__file__).resolve().parents[1]
PREFECT = str(Path(sys.executable).with_name("prefect"))


@dataclass(frozen=True)
class PrefectStack:
    api_url: str
    env: dict[str, str]

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PREFECT, *args], cwd=REPO, env=self.env, capture_output=True, text=True,
            timeout=timeout,
        )  # fmt: skip

    def api(self, method: str, path: str, json: dict | None = None) -> object:
        response = httpx.request(method, f"{self.api_url}{path}", json=json, timeout=30)
        response.raise_for_status()
        return response.json()


@contextmanager
def prefect_stack(home: Path) -> Iterator[PrefectStack]:
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
    }
    logs = home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    server = _start([PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                    env, logs / "server.log")  # fmt: skip
    worker = None
    try:
        _wait_healthy(api_url, server, logs / "server.log")
        stack = PrefectStack(api_url, env)
        _check(stack.cli("work-pool", "create", "sparkify-local", "--type", "process"))
        _check(stack.cli("--no-prompt", "deploy", "--all"))
        worker = _start([PREFECT, "worker", "start", "--pool", "sparkify-local"],
                        env, logs / "worker.log")  # fmt: skip
        yield stack
    finally:
        for proc in (worker, server):
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()


def _start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("wb")
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
