"""Create the warehouse's schemas, tables and views: idempotent, so every run starts with it."""

from __future__ import annotations

from prefect import task

from tasks.common.retry import WAREHOUSE_TASK
from tasks.common.run_spec import RunSpec
from tasks.model.ddl import ADDED_COLUMNS, RETIRED_VIEWS, ddl_statements
from tasks.warehouse.base import Session, quote_table
from tasks.warehouse.connect import connect


@task(
    name="create schema",
    task_run_name="create schema",
    **WAREHOUSE_TASK,
)
def create_schema(run: RunSpec) -> None:
    """Create whatever of the warehouse is missing; existing tables and rows are untouched."""
    with connect(run.warehouse) as wh, wh.transaction():
        _add_missing_columns(wh)
        for view in RETIRED_VIEWS:
            wh.execute(f"drop view if exists {quote_table(view)}", label=f"drop retired {view}")
        for statement in ddl_statements():  # each after what it needs, read from the files
            wh.run(statement.name, None, **statement.variables)


def _add_missing_columns(wh: Session) -> None:
    """Bring an older warehouse's staging tables up to date before the views are (re)made."""
    present = {(table, column) for table, column in wh.rows("staging/staging_columns")}
    tables = {table for table, _ in present}
    for table, column, kind in ADDED_COLUMNS:
        if table in tables and (table, column) not in present:
            wh.execute(
                f"alter table sparkify_staging.{table} add column {column} {kind}",
                label=f"add {table}.{column}",
            )
