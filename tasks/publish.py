"""Publish a run: in one transaction, swap the audited build tables and the staged files in.

Either everything the run built becomes visible, staging, quarantine, all five tables and the
load-history row, or (on any error) nothing does and analysts keep the previous tables.
"""

from __future__ import annotations

import time

from prefect import task

from tasks.common.results import PublishResult, StageResult
from tasks.common.retry import WAREHOUSE_TASK
from tasks.common.run_spec import RunSpec
from tasks.common.sql_files import render
from tasks.model.tables import (
    BUILD_SCHEMA,
    BY_KIND_INCOMING,
    BY_KIND_PUBLISHED,
    INCOMING,
    KINDS,
    MARTS,
)
from tasks.warehouse.base import Adapter, Session, quote_table
from tasks.warehouse.connect import adapter_for, connect

# Tables a full load rewrites whole: the marts and the published staging and quarantine.
RECLAIMED = (
    *MARTS,
    "sparkify_staging.events",
    "sparkify_staging.songs",
    "sparkify_staging.quarantine",
)


@task(
    name="publish",
    task_run_name="publish {run.partition_label}",
    **WAREHOUSE_TASK,
)
def publish(run: RunSpec, staged: dict[str, StageResult]) -> PublishResult:
    """Make the run's staging and audited tables the published ones, atomically."""
    started = time.perf_counter()
    with connect(run.warehouse) as wh:
        before = {table: wh.count(table) for table in MARTS}
        with wh.transaction():
            _publish_staging(wh, adapter_for(run.warehouse), run.incremental)
            for table in MARTS:
                _replace(wh, table, run.incremental)
            wh.run("publish/load_history_replaced", {"run_id": run.run_id})
            wh.run("publish/load_history", _history_row(run, staged))
            for kind in KINDS:
                wh.run("staging/clear_incoming", kind=kind)
                for table in BY_KIND_INCOMING:
                    wh.run("staging/clear_kind", {"kind": kind}, table=table)
        if not run.incremental:
            adapter_for(run.warehouse).reclaim(wh, RECLAIMED)
        after = {table: wh.count(table) for table in MARTS}
    return PublishResult(before, after, round(time.perf_counter() - started, 3))


def _publish_staging(wh: Session, adapter: Adapter, incremental: bool) -> None:
    """Every staging table drops the rows of the files the run replaces, then takes the run's.
    A full load replaces every file, so its staged events and songs are the published ones
    whole: the adapter may move them instead of copying (`Adapter.replace_staged`)."""
    for kind in KINDS:
        adapter.replace_staged(wh, kind, whole=not incremental)
    for table in BY_KIND_PUBLISHED:
        wh.run("publish/by_kind_replaced", table=table)
    for table in INCOMING:
        if table not in KINDS:
            wh.run("publish/incoming", table=table)
    wh.run("publish/loaded_files")


def _replace(wh: Session, table: str, incremental: bool) -> None:
    """Swap one mart's build in: delete the rows it replaces (all of them, or on a daily run
    the changed keys', as the build holds exactly those), then insert it. DELETE, not
    TRUNCATE: Redshift's TRUNCATE commits the open transaction."""
    published, build = quote_table(table), quote_table(f"{BUILD_SCHEMA}.{table}")
    delete = render("publish/mart_replaced", wh.dialect, table=table, is_incremental=incremental)
    wh.execute(delete, label=f"publish {table}: delete" + (" changed" if incremental else ""))
    wh.execute(f"insert into {published} select * from {build}", label=f"publish {table}: insert")


def _history_row(run: RunSpec, staged: dict[str, StageResult]) -> dict[str, object]:
    events, songs = staged["events"], staged["songs"]
    return {
        "run_id": run.run_id,
        "partition_label": run.partition_label,
        "event_files": events.files,
        "events_accepted": events.accepted,
        "events_rejected": events.rejected,
        "song_files": songs.files,
        "songs_accepted": songs.accepted,
        "songs_rejected": songs.rejected,
    }


def was_published(run: RunSpec) -> bool:
    """Whether the run's publish committed: its load_history row is written in the same
    transaction as the tables, so the row says it, even when the run ended before hearing."""
    with connect(run.warehouse) as wh:
        return int(wh.rows("publish/run_is_published", {"run_id": run.run_id})[0][0]) > 0
