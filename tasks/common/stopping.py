"""Stopping a run that was cancelled or timed out: its staging tasks stop at the next batch.

Prefect cancels a deployment's run by sending its process SIGTERM, which Prefect raises in the
flow's thread as a `TerminationSignal`; the task threads do not see it, and a process exits
only when its threads are done, so a staging task would read the whole lake before the run
ended (or until the worker kills the process, 30 s later, mid-batch). The flow marks the run
stopping (`request_stop`); staging checks between batches (`raise_if_stopping`) and ends with
`RunStopped`, and the flow then discards what the run had staged and releases its lock. A run
past its time limit stops the same way (Prefect raises a `CancelledError` in the flow's thread).
"""

from __future__ import annotations

import threading

from tasks.common.errors import EtlError

_STOPPING: dict[str, str] = {}  # run id -> why it stops
_GUARD = threading.Lock()


class RunStopped(EtlError):
    """The run was cancelled or timed out: a task stopped between two units of work (not
    retried)."""


def request_stop(run_id: str, why: str = "cancelled") -> None:
    """Mark the run stopping (`why`: "cancelled", "timed out"): every task of it ends at its
    next check."""
    with _GUARD:
        _STOPPING[run_id] = why


def forget(run_id: str) -> None:
    """The run has ended: nothing more checks its flag."""
    with _GUARD:
        _STOPPING.pop(run_id, None)


def raise_if_stopping(run_id: str, doing: str) -> None:
    """`RunStopped` if the run is stopping, naming why and what stopped."""
    with _GUARD:
        why = _STOPPING.get(run_id)
    if why is not None:
        raise RunStopped(f"the run was {why}: {doing} stopped before its next batch")
