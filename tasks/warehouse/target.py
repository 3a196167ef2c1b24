"""Which warehouse a run writes to, as a small serialisable value: a DuckDB file, or an adapter's
name and the Prefect block it connects with (never a secret). A leaf module."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tasks.common.errors import WarehouseError

REDSHIFT_PREFIX = "redshift:"


@dataclass(frozen=True)
class WarehouseTarget:
    """Where the star schema lives: a DuckDB file (`path`), or an adapter's name (`redshift`)
    and the Prefect block it connects with (`block`; `env` reads SPARKIFY_REDSHIFT_*).

    What the name means (the engine, its dialect, how it stages, locks and builds) is the
    adapter's, looked up in one place: `tasks.warehouse.connect.adapter_for`.
    """

    path: str = ""
    adapter: str = "duckdb"
    block: str = ""

    @classmethod
    def parse(cls, warehouse: str) -> WarehouseTarget:
        """`redshift:BLOCK` (a `RedshiftWarehouse` block, or `env` for SPARKIFY_REDSHIFT_*), else a
        DuckDB file path."""
        if warehouse.startswith(REDSHIFT_PREFIX):
            block = warehouse[len(REDSHIFT_PREFIX) :]
            return cls(adapter="redshift", block=block)
        if "\\" in warehouse:
            # DuckDB reads it as a separator: the file opened and the run lock would differ
            raise WarehouseError(f"warehouse path {warehouse!r} contains a backslash")
        return cls(path=str(Path(warehouse).expanduser().resolve()))

    def __str__(self) -> str:
        return self.path or f"{self.adapter}:{self.block}"
