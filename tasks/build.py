"""Build the star schema's tables from staging into `sparkify_build`, one task per table.

Each mart under sql/marts/ is a single SELECT; this module owns how it is materialised: the
build table is recreated with the published table's exact shape and filled in one
transaction. Nothing here is visible to analysts until `tasks.publish` swaps it in.
"""

from __future__ import annotations

import time

from prefect import task

from tasks.common.results import BuildResult
from tasks.common.retry import WAREHOUSE_TASK
from tasks.common.run_spec import RunSpec
from tasks.common.sql_files import render
from tasks.model.tables import BUILD_SCHEMA, MARTS
from tasks.warehouse.base import Adapter, quote_table
from tasks.warehouse.connect import adapter_for, connect


@task(
    name="build table",
    task_run_name="build {table}",
    **WAREHOUSE_TASK,
)
def build_table(run: RunSpec, table: str) -> BuildResult:
    """Build `sparkify_build.<table>` from sql/marts/<table>.sql: every row on a full load, the
    changed keys' rows on a daily run (the mart's `is_incremental` branch; `tasks.scope`)."""
    if table not in MARTS:
        raise ValueError(f"unknown table {table!r}; expected one of {', '.join(MARTS)}")
    started = time.perf_counter()
    with connect(run.warehouse) as wh:
        with wh.transaction():
            for label, sql in build_statements(table, adapter_for(run.warehouse), run.incremental):
                wh.execute(sql, label=label)
        rows = wh.count(f"{BUILD_SCHEMA}.{table}")
    return BuildResult(table=table, rows=rows, seconds=round(time.perf_counter() - started, 3))


def build_statements(table: str, adapter: Adapter, incremental: bool) -> list[tuple[str, str]]:
    """(label, SQL) of one build, in order: the build table recreated empty with the published
    table's shape and layout (`Adapter.create_like`), then filled from the mart's SELECT,
    rendered for a daily run when `incremental` (the mart itself says what that run reads)."""
    dialect = adapter.dialect
    published, build = quote_table(table), quote_table(f"{BUILD_SCHEMA}.{table}")
    select = render(f"marts/{table}", dialect, is_incremental=incremental)
    return [
        (f"drop build {table}", f"drop table if exists {build}"),
        (f"create build {table}", adapter.create_like(build, published)),
        (f"marts/{table}", f"insert into {build}\n{select}"),
    ]
