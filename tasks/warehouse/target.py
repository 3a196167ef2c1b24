"""Which warehouse a run writes to, as a small serialisable value: a DuckDB file, or an adapter's
name and the Prefect block it connects with (never a secret). A leaf module."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tasks.common.errors import WarehouseError

REDSHIFT_PREFIX = "redshift:"


@dataclass(frozen=True)
class WarehouseTarget:
    """Where the star schema lives: a DuckDB file, or Redshift through a named Prefect block.

    `dialect` is the SQL the engine speaks: `duckdb`, `redshift`, or `postgres` for the
    PostgreSQL test rig that stands in for Redshift behind the same driver.
    """

    path: str = ""
    engine: str = "duckdb"
    block: str = ""
    dialect: str = "duckdb"

    @classmethod
    def parse(cls, warehouse: str) -> WarehouseTarget:
        """`redshift:BLOCK` (a `RedshiftWarehouse` block, or `env` for SPARKIFY_REDSHIFT_*), else a
        DuckDB file path."""
        if warehouse.startswith(REDSHIFT_PREFIX):
            block = warehouse[len(REDSHIFT_PREFIX) :]
            return cls(engine="redshift", block=block, dialect="redshift")
        if "\\" in warehouse:
            # DuckDB reads it as a separator: the file opened and the run lock would differ
            raise WarehouseError(f"warehouse path {warehouse!r} contains a backslash")
        return cls(path=str(Path(warehouse).expanduser().resolve()))

    def __str__(self) -> str:
        return self.path or f"{REDSHIFT_PREFIX}{self.block}"
