"""Stopping a run that was cancelled: its staging tasks stop at the next batch.

Prefect cancels a deployment's run by sending its process SIGTERM, which Prefect raises in the
flow's thread as a `TerminationSignal`; the task threads do not see it, and a process exits
only when its threads are done, so a staging task would read the whole lake before the run
ended (or until the worker kills the process, 30 s later, mid-batch). The flow marks the run
stopping (`request_stop`); staging checks between batches (`raise_if_stopping`) and ends with
`RunStopped`, and the flow then discards what the run had staged and releases its lock.
"""

from __future__ import annotations

import threading

from tasks.common.errors import EtlError

_STOPPING: set[str] = set()
_GUARD = threading.Lock()


class RunStopped(EtlError):
    """The run was cancelled: a task stopped between two units of work (not retried)."""


def request_stop(run_id: str) -> None:
    """Mark the run stopping: every task of it ends at its next check."""
    with _GUARD:
        _STOPPING.add(run_id)


def forget(run_id: str) -> None:
    """The run has ended: nothing more checks its flag."""
    with _GUARD:
        _STOPPING.discard(run_id)


def raise_if_stopping(run_id: str, doing: str) -> None:
    """`RunStopped` if the run was cancelled, naming what stopped."""
    with _GUARD:
        stopping = run_id in _STOPPING
    if stopping:
        raise RunStopped(f"the run was cancelled: {doing} stopped before its next batch")
