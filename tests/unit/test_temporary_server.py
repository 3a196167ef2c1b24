"""The one-off command's early temporary server: when it is used, and when Prefect decides."""

from __future__ import annotations

import subprocess
import sys

import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings

from flows.temporary_server import EarlyServer, serving, start_early


class _Server(EarlyServer):
    """A real child process (a sleeping Python) standing in for the server."""

    def __init__(self, answers: bool) -> None:
        super().__init__(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]), 1)
        self.answers = answers

    def wait_ready(self, timeout_s: float) -> bool:
        return self.answers


def test_an_api_url_in_the_environment_starts_nothing() -> None:
    assert start_early([], {"PREFECT_API_URL": "http://127.0.0.1:9/api"}) is None


def test_a_server_that_answers_is_the_api_inside_the_block() -> None:
    early = _Server(answers=True)
    try:
        with temporary_settings(restore_defaults={PREFECT_API_URL}):
            with serving(early):
                assert PREFECT_API_URL.value() == early.api_url
            assert not PREFECT_API_URL.value()
        assert early.process.poll() is None  # still serving: stopped when the process exits
    finally:
        early.stop()


@pytest.mark.parametrize("configured", [None, "http://127.0.0.1:9/api"])
def test_a_server_that_does_not_answer_or_is_not_wanted_is_stopped(configured) -> None:
    early = _Server(answers=configured is not None)
    with temporary_settings(updates={PREFECT_API_URL: configured}), serving(early):
        assert PREFECT_API_URL.value() == configured  # Prefect decides, as without it
    assert early.process.poll() is not None


def test_no_early_server_changes_nothing() -> None:
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}), serving(None):
        assert PREFECT_API_URL.value() == "http://127.0.0.1:9/api"


def test_a_command_that_only_prints_its_help_starts_nothing(monkeypatch) -> None:
    assert start_early(["--source", "x", "--help"], {}) is None


def test_settings_that_forbid_a_temporary_server_stop_the_early_one() -> None:
    from prefect.settings import PREFECT_SERVER_ALLOW_EPHEMERAL_MODE

    early = _Server(answers=True)
    forbid = {PREFECT_API_URL: None, PREFECT_SERVER_ALLOW_EPHEMERAL_MODE: False}
    with temporary_settings(updates=forbid), serving(early):
        assert not PREFECT_API_URL.value()  # Prefect refuses to run, as it would
    assert early.process.poll() is not None
