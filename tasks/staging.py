"""Stage the lake: parse every log line and song file in the warehouse, quarantine the rest.

Python only moves bytes (files read concurrently, streamed in Arrow batches); parsing, typing,
text repair and rejection are set-based SQL under sql/staging/. Staged rows land in the
`*_incoming` tables and stay invisible to analysts until the run publishes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from prefect import task

from tasks.errors import RejectedShareExceeded
from tasks.lake import (
    Lake,
    LakeFile,
    list_log_files,
    list_song_files,
    open_lake,
    read_batches,
    require_log_files,
)
from tasks.report_progress import StagingProgress
from tasks.retry import WAREHOUSE_TASK
from tasks.run_log import run_logger
from tasks.run_spec import RunSpec
from tasks.staging_redshift import stage_with_copy
from tasks.warehouse import Session, connect


@dataclass
class StageResult:
    """What a staging task read, accepted and rejected (with counts per reason)."""

    kind: str
    files: int
    accepted: int
    rejected: int
    seconds: float
    rejected_by_reason: dict[str, int] = field(default_factory=dict)

    @property
    def rejected_share(self) -> float:
        total = self.accepted + self.rejected
        return self.rejected / total if total else 0.0


@task(
    name="stage events",
    task_run_name="stage events {run.partition_label}",
    **WAREHOUSE_TASK,
)
def stage_events(run: RunSpec) -> StageResult:
    """Stage the run's log files (one day's partition, or all of them)."""
    lake = open_lake(run.lake)
    files = list_log_files(lake, run.day)
    require_log_files(lake, run.day, files)
    return _stage("events", run, lake, files, replace_all=run.day is None)


@task(name="stage songs", task_run_name="stage songs", **WAREHOUSE_TASK)
def stage_songs(run: RunSpec) -> StageResult:
    """Stage every song file; the catalogue is small next to the logs and is always re-read."""
    lake = open_lake(run.lake)
    files = list_song_files(lake)
    if not files:
        run_logger().warning("lake %s has no song files under song_data/", lake.uri)
    if run.day is None:
        return _stage("songs", run, lake, files, replace_all=True)
    with connect(run.warehouse) as wh:
        loaded = dict(wh.rows("staging/loaded_songs"))
    changed = [f for f in files if f.problem or loaded.get(f.key) != f.etag]
    run_logger().info("%d of %d song files are new or changed", len(changed), len(files))
    return _stage("songs", run, lake, changed, replace_all=False)


def check_rejected_share(results: list[StageResult], threshold: float) -> None:
    """Fail the run, before anything is published, if too much of its input was rejected."""
    for result in results:
        if result.rejected_share > threshold:
            raise RejectedShareExceeded(
                f"rejected {result.rejected_share:.2%} of {result.kind} records "
                f"({result.rejected:,} of {result.accepted + result.rejected:,}), over the "
                f"{threshold:.2%} threshold; see sparkify_staging.quarantine_incoming"
            )


def _stage(
    kind: str, run: RunSpec, lake: Lake, files: list[LakeFile], replace_all: bool
) -> StageResult:
    started = time.perf_counter()
    with connect(run.warehouse) as wh:
        if run.warehouse.engine == "redshift":
            with wh.transaction():
                _clear_incoming(wh, kind, replace_all)
                stage_with_copy(wh, kind, run, lake, files, run.run_id)
        else:
            # One transaction per batch: DuckDB keeps a transaction's new rows in memory until
            # it commits, so one transaction for the whole lake grows with the lake. Nothing
            # reads the incoming tables until publish, and a retry clears them first.
            with wh.transaction():
                _clear_incoming(wh, kind, replace_all)
            _parse_in_duckdb(wh, kind, lake, files)
        result = _count(wh, kind, len(files))
    result.seconds = round(time.perf_counter() - started, 3)
    run_logger().info(
        "staged %s: %d files, %d accepted, %d rejected",
        kind,
        result.files,
        result.accepted,
        result.rejected,
    )
    return result


def _clear_incoming(wh: Session, kind: str, replace_all: bool) -> None:
    wh.run(f"staging/clear_{kind}_incoming")
    wh.run("staging/clear_quarantine_incoming", {"kind": kind})
    wh.run("staging/clear_incoming_files", {"kind": kind})
    if replace_all:
        wh.run("staging/incoming_files_all", {"kind": kind})


def _parse_in_duckdb(wh: Any, kind: str, lake: Lake, files: list[LakeFile]) -> None:
    """Stream the files into the embedded warehouse and parse them there, batch by batch."""
    for macro in ("json_kind", "json_text", "json_field_problem", "repair_text"):
        wh.run(f"staging/{macro}")
    listing = pa.table(
        {"source_file": [f.key for f in files], "etag": [f.etag or None for f in files]},
        schema=pa.schema([("source_file", pa.string()), ("etag", pa.string())]),
    )
    wh.register("lake_files", listing)
    wh.run("staging/incoming_files", {"kind": kind})
    wh.unregister("lake_files")
    progress = StagingProgress(kind, len(files))
    for batch in read_batches(lake, files, by_line=kind == "events"):
        with wh.transaction():
            _stage_batch(wh, kind, batch)
        progress.advance(_files_begun(batch))


def _files_begun(batch: pa.Table) -> int:
    """Files whose first piece (or whole text, or file-level error) is in the batch."""
    opening = pc.and_(
        pc.is_null(batch.column("line_number")),
        pc.equal(pc.fill_null(batch.column("first_line"), 1), 1),
    )
    return pc.count_distinct(batch.filter(opening).column("source_file")).as_py()


def _stage_batch(wh: Any, kind: str, batch: object) -> None:
    wh.register("lake_batch", batch)
    wh.run(f"staging/{kind}_parsed")
    wh.run(f"staging/{kind}_accepted")
    wh.run("staging/rejected", {"kind": kind})
    wh.unregister("lake_batch")  # on an error the connection closes with the transaction


def _count(wh: Session, kind: str, files: int) -> StageResult:
    accepted = wh.count(f"sparkify_staging.{kind}_incoming")
    reasons = wh.rows("staging/rejected_by_reason", {"kind": kind})
    by_reason = {reason: count for reason, count in reasons}
    return StageResult(
        kind=kind,
        files=files,
        accepted=accepted,
        rejected=sum(by_reason.values()),
        seconds=0.0,
        rejected_by_reason=by_reason,
    )
