"""A one-off command-line run with no Prefect server configured, as `make run` does it: the
command starts the temporary server itself while it imports, the run completes on it, and the
server is gone when the command exits."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import assert_tables_equal, published_tables
from tests.reference import star_schema

pytestmark = pytest.mark.e2e
PROJECT = Path(__file__).resolve().parents[2]


def _servers_of(home: Path) -> list[int]:
    """Processes serving Prefect's API with `home` as their PREFECT_HOME."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            command = (proc / "cmdline").read_bytes()
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue  # ended meanwhile, or not ours to read
        if b"prefect.server.api.server:create_app" in command and (
            f"PREFECT_HOME={home}".encode() in environ.split(b"\0")
        ):
            found.append(int(proc.name))
    return found


def test_a_one_off_run_serves_itself_and_leaves_no_server(small_lake, tmp_path) -> None:
    home, warehouse = tmp_path / "prefect-home", tmp_path / "w.duckdb"
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_LOGGING_LEVEL="INFO",  # Prefect logs its own temporary server's start at INFO
    )
    command = [sys.executable, "-m", "flows.sparkify_etl", "--source", str(small_lake),
               "--warehouse", str(warehouse)]  # fmt: skip
    done = subprocess.run(
        command, cwd=PROJECT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "seconds per stage" in done.stdout
    # Prefect would log this had it started its own temporary server
    assert "Starting temporary server" not in done.stderr
    assert_tables_equal(published_tables(warehouse), star_schema(small_lake))
    assert (home / "prefect.db").exists()  # the run was recorded in this home's database
    assert _servers_of(home) == []
