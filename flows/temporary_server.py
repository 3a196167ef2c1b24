"""Prefect's temporary server for a one-off command-line run, started before the run's imports.

A run from the command line with no Prefect server configured gets a temporary one: Prefect
starts it (a uvicorn process serving `prefect.server.api.server:create_app`) when the flow
first needs its API, that is after this project's imports (~3 s: Prefect, pandas, pyarrow,
DuckDB), and the server then takes ~5 s more to import and answer. Started at the top of the
command instead, with the same command line and settings Prefect's `SubprocessASGIServer`
uses (Prefect 3.9; `prefect.server.api.server`), the two overlap. This module imports nothing
heavy, so it can run before everything else.

If the settings do name a server after all (a Prefect profile, `prefect.toml`, `.env`: only
known once Prefect is imported), the early server is stopped unused; if it does not answer,
Prefect starts its own as before. Either way the run behaves as a Prefect one-off run does.
"""

from __future__ import annotations

import atexit
import http.client
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

# The environment Prefect gives its temporary server: no UI, ephemeral mode (no background
# services), and these settings final.
_SERVER_ENV = {
    "PREFECT_UI_ENABLED": "0",
    "PREFECT__SERVER_EPHEMERAL": "1",
    "PREFECT__SERVER_FINAL": "1",
}
_STOP_WAIT_S = 5.0  # as Prefect's own stop


@dataclass
class EarlyServer:
    """A temporary Prefect server this process started; stopped when the process exits."""

    process: subprocess.Popen[bytes]
    port: int

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def wait_ready(self, timeout_s: float) -> bool:
        """Whether the server answers its health check within `timeout_s` (False if it died)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(f"{self.api_url}/health", timeout=1) as response:
                    if response.status == 200:
                        return True
            except (OSError, http.client.HTTPException):  # URLError is an OSError
                pass
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=_STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_early(
    argv: list[str] | None = None, environ: dict[str, str] | None = None
) -> EarlyServer | None:
    """Start the temporary server now, unless the environment names a server (then None, and
    Prefect connects to that one as usual) or the command only prints its help."""
    env = os.environ if environ is None else environ
    args = sys.argv[1:] if argv is None else argv
    if env.get("PREFECT_API_URL") or {"-h", "--help"} & set(args):
        return None
    port = _free_port()
    command = [
        sys.executable, "-m", "uvicorn", "--app-dir", str(_prefect_parent()),
        "--factory", "prefect.server.api.server:create_app",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "error", "--lifespan", "on",
    ]  # fmt: skip
    process = subprocess.Popen(command, env={**env, **_SERVER_ENV})
    server = EarlyServer(process, port)
    atexit.register(server.stop)  # registered first, so it runs after Prefect's own handlers
    return server


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _prefect_parent() -> Path:
    """The directory Prefect is installed in, found without importing it."""
    import importlib.util

    spec = importlib.util.find_spec("prefect")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("prefect is not installed")
    return Path(spec.origin).resolve().parent.parent


@contextmanager
def serving(early: EarlyServer | None) -> Iterator[None]:
    """The block's Prefect API is the early server, once it answers; unless Prefect's settings
    name a server (that one is used, and the early one stopped) or the early server does not
    answer in Prefect's own start-up limit (then Prefect starts its temporary server itself), or
    the settings forbid a temporary server (then Prefect refuses, as it would)."""
    if early is None:
        yield
        return
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_SERVER_ALLOW_EPHEMERAL_MODE,
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
        temporary_settings,
    )

    limit = float(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value())
    wanted = not PREFECT_API_URL.value() and PREFECT_SERVER_ALLOW_EPHEMERAL_MODE.value()
    if not wanted or not early.wait_ready(limit):
        early.stop()
        yield
        return
    with temporary_settings(updates={PREFECT_API_URL: early.api_url}):
        yield
