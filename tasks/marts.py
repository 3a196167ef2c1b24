"""Build the star schema's tables from staging into `sparkify_build`, one task per table.

Each mart under sql/marts/ is a single SELECT; this module owns how it is materialised: the
build table is recreated with the published table's exact shape and filled in one
transaction. Nothing here is visible to analysts until `tasks.publish` swaps it in.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from prefect import task

from tasks.retry import WAREHOUSE_TASK
from tasks.run_spec import RunSpec
from tasks.scope import scoped_mart
from tasks.sql_files import render
from tasks.warehouse import connect, quote_table

DIMENSIONS = ("users", "songs", "artists", "time")
FACT = "songplays"
MARTS = (*DIMENSIONS, FACT)
BUILD_SCHEMA = "sparkify_build"


@dataclass
class BuildResult:
    table: str
    rows: int
    seconds: float


@task(
    name="load table",
    task_run_name="load {table}",
    **WAREHOUSE_TASK,
)
def build_table(run: RunSpec, table: str) -> BuildResult:
    """Build `sparkify_build.<table>` from sql/marts/<table>.sql: every row on a full load, the
    changed keys' rows on a daily run (`tasks.scope`)."""
    if table not in MARTS:
        raise ValueError(f"unknown table {table!r}; expected one of {', '.join(MARTS)}")
    started = time.perf_counter()
    published, build = quote_table(table), quote_table(f"{BUILD_SCHEMA}.{table}")
    dialect = run.warehouse.dialect
    select = scoped_mart(table, dialect) if run.incremental else render(f"marts/{table}", dialect)
    with connect(run.warehouse) as wh:
        with wh.transaction():
            wh.execute(f"drop table if exists {build}", label=f"drop build {table}")
            wh.execute(
                f"create table {build} as select * from {published} where 1 = 0",
                label=f"create build {table}",
            )
            wh.execute(f"insert into {build}\n{select}", label=f"marts/{table}")
        rows = wh.count(f"{BUILD_SCHEMA}.{table}")
    return BuildResult(table=table, rows=rows, seconds=round(time.perf_counter() - started, 3))
