"""The logger of the current Prefect run (or a plain one when a task's function runs bare), and
a run's outcome in one line."""

from __future__ import annotations

import logging

from prefect import get_run_logger
from prefect.client.schemas.objects import State
from prefect.exceptions import MissingContextError


def run_logger() -> logging.Logger | logging.LoggerAdapter:
    """Prefect's run logger inside a flow or task run (so the UI shows it), else `sparkify`."""
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger("sparkify")


def state_outcome(state: State | None) -> str:
    """A run's end in a few words: `Completed`, or `Failed: ` and the first line of why."""
    if state is None:
        return "no state"
    reason = (state.message or "").strip().splitlines()
    name = state.name or state.type.value
    return name if state.is_completed() or not reason else f"{name}: {reason[0]}"
