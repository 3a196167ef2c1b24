"""The one place a warehouse adapter is chosen for a target: `adapter_for`, and `connect` and
`run_lock` through it.

Tasks receive a `WarehouseTarget` (a small, serialisable value naming a file or a Prefect block,
never a secret) and open their own session, so no connection outlives a task or crosses
threads. The Redshift adapter is imported only when a target names it: a DuckDB run never loads
the Redshift driver.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

from tasks.common.errors import WarehouseError
from tasks.warehouse.base import Adapter, RunLock, Session
from tasks.warehouse.duckdb.adapter import DuckDBAdapter
from tasks.warehouse.target import WarehouseTarget


def _redshift() -> Adapter:
    from tasks.warehouse.redshift.adapter import RedshiftAdapter

    return RedshiftAdapter()


_FACTORIES: dict[str, Callable[[], Adapter]] = {"duckdb": DuckDBAdapter, "redshift": _redshift}
_ADAPTERS: dict[str, Adapter] = {}


def adapter_for(target: WarehouseTarget) -> Adapter:
    """The adapter a target names (one instance per name)."""
    name = target.adapter
    if name not in _ADAPTERS:
        if name not in _FACTORIES:
            known = ", ".join(sorted(_FACTORIES))
            raise WarehouseError(f"no warehouse adapter named {name!r}; expected one of {known}")
        _ADAPTERS[name] = _FACTORIES[name]()
    return _ADAPTERS[name]


def register_adapter(name: str, factory: Callable[[], Adapter]) -> None:
    """Make `WarehouseTarget(adapter=name)` use `factory`'s adapter (a test rig's setting,
    e.g. a Redshift adapter that speaks PostgreSQL)."""
    _FACTORIES[name] = factory
    _ADAPTERS.pop(name, None)


def connect(target: WarehouseTarget, read_only: bool = False) -> AbstractContextManager[Session]:
    """Open a session on the target; a one-line `WarehouseError` if it cannot be opened.
    `read_only` asks for a reader's session (a DuckDB file opened as a reader)."""
    return adapter_for(target).session(target, read_only)


def run_lock(
    target: WarehouseTarget,
    poll_seconds: float = 1.0,
    heartbeat_seconds: float | None = None,
    shared: bool = False,
) -> AbstractContextManager[RunLock]:
    """Hold the warehouse for one whole run, so two runs never interleave their writes;
    `shared=True` is a reader's turn (the report), which waits for a run and lets a run wait
    for it. Neither wait has a bound of its own (a run's flow has a timeout). How the lock is
    held is the adapter's (`DuckDBAdapter.run_lock`, `RedshiftAdapter.run_lock`)."""
    return adapter_for(target).run_lock(
        target, shared=shared, poll_seconds=poll_seconds, heartbeat_seconds=heartbeat_seconds
    )
