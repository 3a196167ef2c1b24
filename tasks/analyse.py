"""The song-play analyses: every query under sql/analysis/, run for a date range."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from prefect import task

from tasks.common.errors import EtlError
from tasks.common.retry import WAREHOUSE_TASK
from tasks.common.sql_files import sql_path, statement_names
from tasks.warehouse.connect import connect
from tasks.warehouse.target import WarehouseTarget

ANALYSES = tuple(name.removeprefix("analysis/") for name in statement_names("analysis/"))


@dataclass
class AnalysisResult:
    """One question, answered: its rows with their column names."""

    name: str
    question: str
    columns: list[str]
    rows: list[tuple[Any, ...]]


def question(name: str, start: datetime | None = None, end: datetime | None = None) -> str:
    """The question a query answers: its header comment, without the name, with the period's
    instants where it names its `:start_time` and `:end_time` parameters."""
    header = sql_path(f"analysis/{name}", "redshift")[0].read_text().splitlines()[0]
    text = header.removeprefix("--").strip().removeprefix(f"{name}:").strip()
    if start and end:
        text = text.replace(":start_time", f"{start:%Y-%m-%d %H:%M}")
        text = text.replace(":end_time", f"{end:%Y-%m-%d %H:%M} (excluded)")
    return text


@task(name="analyse", task_run_name="analyse {name}", **WAREHOUSE_TASK)
def run_analysis(
    warehouse: WarehouseTarget, name: str, start: datetime, end: datetime
) -> AnalysisResult:
    """Run one analysis query over [start, end) (it needs only the warehouse, no lake)."""
    with connect(warehouse, read_only=True) as wh:
        columns, rows = wh.columns_and_rows(
            f"analysis/{name}", {"start_time": start, "end_time": end}
        )
    return AnalysisResult(name, question(name, start, end), columns, rows)


@task(name="report period", **WAREHOUSE_TASK)
def report_period(
    warehouse: WarehouseTarget, start: datetime | None, end: datetime | None
) -> tuple[datetime, datetime]:
    """The period to report on: `start` or the first play, `end` or just after the last."""
    with connect(warehouse, read_only=True) as wh:
        first, last = wh.query("select min(start_time), max(start_time) from songplays")[0]
    if first is None:
        raise EtlError(f"warehouse {warehouse} has no songplays to report on")
    return start or first, end or last + timedelta(milliseconds=1)
