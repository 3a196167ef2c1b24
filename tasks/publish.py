"""Publish a run: in one transaction, swap the audited build tables and the staged files in.

Either everything the run built becomes visible, staging, quarantine, all five tables and the
load-history row, or (on any error) nothing does and analysts keep the previous tables.
"""

from __future__ import annotations

import time

from prefect import task

from tasks.common.errors import first_line
from tasks.common.results import PublishResult, StageResult
from tasks.common.retry import WAREHOUSE_TASK
from tasks.common.run_log import run_logger
from tasks.common.run_spec import RunSpec
from tasks.common.sql_files import render
from tasks.model.tables import BUILD_SCHEMA, MARTS
from tasks.warehouse.base import Session, quote_table
from tasks.warehouse.connect import connect

KINDS = ("events", "songs")
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
            _publish_staging(wh)
            for table in MARTS:
                _replace(wh, table, run.incremental)
            wh.run("publish/load_history_replaced", {"run_id": run.run_id})
            wh.run("publish/load_history", _history_row(run, staged))
            for kind in KINDS:
                wh.run(f"staging/clear_{kind}_incoming")
                wh.run("staging/clear_quarantine_incoming", {"kind": kind})
                wh.run("staging/clear_incoming_files", {"kind": kind})
        if run.warehouse.engine == "redshift" and not run.incremental:
            reclaim(wh)
        after = {table: wh.count(table) for table in MARTS}
    return PublishResult(before, after, round(time.perf_counter() - started, 3))


def _publish_staging(wh: Session) -> None:
    for kind in KINDS:
        wh.run(f"publish/staging_{kind}_replaced")
        wh.run(f"publish/staging_{kind}")
    wh.run("publish/quarantine_replaced")
    wh.run("publish/quarantine")
    wh.run("publish/loaded_files_replaced")
    wh.run("publish/loaded_files")


def _replace(wh: Session, table: str, incremental: bool) -> None:
    """Swap one mart's build in: delete the rows it replaces (all of them, or on a daily run
    the changed keys', as the build holds exactly those), then insert it. DELETE, not
    TRUNCATE: Redshift's TRUNCATE commits the open transaction."""
    published, build = quote_table(table), quote_table(f"{BUILD_SCHEMA}.{table}")
    delete = render("publish/mart_replaced", wh.dialect, table=table, is_incremental=incremental)
    wh.execute(delete, label=f"publish {table}: delete" + (" changed" if incremental else ""))
    wh.execute(f"insert into {published} select * from {build}", label=f"publish {table}: insert")


def reclaim_statements(dialect: str) -> list[tuple[str, str]]:
    """(label, SQL) run after a full load commits. Its DELETE + INSERT of every table leaves the
    deleted rows' blocks and an unsorted region behind (AWS, "Vacuuming tables":
    https://docs.aws.amazon.com/redshift/latest/dg/t_Reclaiming_storage_space202.html), so
    VACUUM FULL reclaims and re-sorts them and ANALYZE refreshes the planner's statistics.
    VACUUM cannot run inside a transaction block (AWS, VACUUM:
    https://docs.aws.amazon.com/redshift/latest/dg/r_VACUUM_command.html): it runs after the
    commit, on the autocommit session.

    Chosen over swapping in freshly built tables by rename: the published tables keep their
    identity, so analysts' grants, views bound to them and their dist and sort keys survive.
    The PostgreSQL rig runs plain VACUUM (it has no TO … PERCENT)."""
    statements = []
    for table in RECLAIMED:
        name = quote_table(table)
        vacuum = f"vacuum full {name} to 100 percent" if dialect == "redshift" else f"vacuum {name}"
        statements += [(f"vacuum {table}", vacuum), (f"analyze {table}", f"analyze {name}")]
    return statements


def reclaim(wh: Session) -> None:
    """Run the reclaim statements; a failure (another VACUUM is running: a cluster runs one at
    a time) is logged, not raised: the run's tables are already published, and Redshift's
    automatic vacuum delete catches up in the background."""
    for label, sql in reclaim_statements(wh.dialect):
        try:
            wh.execute(sql, label=label)
        except Exception as exc:
            if isinstance(exc, ConnectionError):
                raise
            run_logger().warning("%s failed after publishing: %s", label, first_line(exc))
            return


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
