"""Which failures a task retries: transient ones only, never a data or configuration error."""

from __future__ import annotations

from typing import Any

from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

# A DuckDB file another process holds is not here: opening it waits for the holder itself
# (tasks.warehouse.duckdb.session.lock_wait_seconds) and then fails `WarehouseBusy`, so a
# retry would only multiply a bound the operator chose.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,
)

RETRIES = 3
RETRY_DELAYS = exponential_backoff(backoff_factor=2)
RETRY_JITTER = 0.5


def is_transient(exc: BaseException) -> bool:
    """True for failures that a later attempt can succeed past (network, timeouts)."""
    return isinstance(exc, TRANSIENT_ERRORS)


def retry_on_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect `retry_condition_fn`: retry when the failed attempt raised a transient error."""
    try:
        state.result()
    except BaseException as exc:  # the state re-raises the attempt's exception
        return is_transient(exc)
    return False


# Every task that touches the warehouse: retried on transient errors only, never cached
# (idempotency comes from the SQL, not from Prefect's result cache).
# No task tags: before a tagged task starts, Prefect 3 asks the server for the tags'
# concurrency limits, which cost ~2 s per stage here (profiled: acquire_concurrency_slots_
# with_lease in every task's start), more than most daily runs' own work. Task runs are found
# by name (`load users`, `check songplays`) and flow runs by their deployment's tags.
WAREHOUSE_TASK: dict[str, Any] = {
    "retries": RETRIES,
    "retry_delay_seconds": RETRY_DELAYS,
    "retry_jitter_factor": RETRY_JITTER,
    "retry_condition_fn": retry_on_transient,
    "cache_policy": NO_CACHE,
}
