"""SPARKIFY_RUN_TIMEOUT_S, a run's time limit set without editing code (flows/time_limit.py):
how it is read, what it refuses, and that every flow's limit follows it. A deployment's run
that exceeds it, through a real server and worker: tests/stack/test_deployments_unattended.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from flows.time_limit import (
    RUN_TIMEOUT_ENV,
    check_run_timeout,
    flow_timeout_seconds,
    run_timeout_seconds,
)
from tasks.common.errors import EtlError, SettingError

REPO = Path(__file__).resolve().parents[2]
LIMITS = (
    "from flows.sparkify_etl import sparkify_etl; from flows.sparkify_daily import sparkify_daily;"
    " from flows.sparkify_backfill import load_one_day;"
    " print(sparkify_etl.timeout_seconds, sparkify_daily.timeout_seconds,"
    " load_one_day.timeout_seconds)"
)


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [(None, 3600.0), ("", 3600.0), ("  ", 3600.0), ("2", 2.0), (" 1.5 ", 1.5), ("1e3", 1000.0)],
)
def test_the_setting_is_seconds_or_the_flows_default(raw: str | None, seconds: float) -> None:
    environ = {} if raw is None else {RUN_TIMEOUT_ENV: raw}
    assert run_timeout_seconds(3600.0, environ) == seconds


@pytest.mark.parametrize("raw", ["abc", "10s", "0", "-5", "0.0", "nan", "inf", "-inf", "1,5"])
def test_a_bad_setting_is_a_one_line_error_naming_the_variable(raw: str) -> None:
    with pytest.raises(SettingError) as caught:
        run_timeout_seconds(3600.0, {RUN_TIMEOUT_ENV: raw})
    assert str(caught.value) == (
        f"SPARKIFY_RUN_TIMEOUT_S must be a number of seconds greater than 0: {raw!r}"
    )
    assert isinstance(caught.value, EtlError)  # not retried; the CLI prints it in one line


def test_a_bad_setting_leaves_the_decorators_default_and_fails_the_run_at_its_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The module must still load (else Prefect crashes the run before it is named); the
    flows call check_run_timeout first, so the run fails with the one-line reason."""
    monkeypatch.setenv(RUN_TIMEOUT_ENV, "soon")
    assert flow_timeout_seconds(3600.0) == 3600.0
    with pytest.raises(SettingError, match="SPARKIFY_RUN_TIMEOUT_S must be"):
        check_run_timeout()
    monkeypatch.setenv(RUN_TIMEOUT_ENV, "90")
    assert flow_timeout_seconds(3600.0) == 90.0
    check_run_timeout()


def _run(args: list[str], timeout_env: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != RUN_TIMEOUT_ENV}
    if timeout_env is not None:
        env[RUN_TIMEOUT_ENV] = timeout_env
    return subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip


def test_every_flow_takes_its_limit_from_the_setting_or_keeps_its_own() -> None:
    """Unset: the ETL's 6 hours, a daily run's hour and a backfill day's hour. Set, in a fresh
    process as a worker's flow-run process imports the flows: the setting for all three."""
    from flows.sparkify_backfill import load_one_day
    from flows.sparkify_daily import sparkify_daily
    from flows.sparkify_etl import sparkify_etl

    if os.environ.get(RUN_TIMEOUT_ENV, "").strip() == "":
        limits = [sparkify_etl.timeout_seconds, sparkify_daily.timeout_seconds,
                  load_one_day.timeout_seconds]  # fmt: skip
        assert limits == [6 * 3600, 3600, 3600]
    done = _run(["-c", LIMITS], "2.5")
    assert done.stdout.split() == ["2.5", "2.5", "2.5"], done.stderr[-2000:]


def test_the_command_line_refuses_a_bad_setting_in_one_line(tmp_path: Path) -> None:
    """Before any Prefect server starts, as for a lake without log files."""
    done = _run(["-m", "flows.sparkify_etl", "--source", str(tmp_path)], "-1")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "error: SPARKIFY_RUN_TIMEOUT_S must be a number of seconds greater than 0: '-1'"
    ]
    assert not (tmp_path / "warehouse.duckdb").exists()
