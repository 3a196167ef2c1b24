"""The logger of the current Prefect run, or a plain one when a task's function runs bare."""

from __future__ import annotations

import logging

from prefect import get_run_logger
from prefect.exceptions import MissingContextError


def run_logger() -> logging.Logger | logging.LoggerAdapter:
    """Prefect's run logger inside a flow or task run (so the UI shows it), else `sparkify`."""
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger("sparkify")
