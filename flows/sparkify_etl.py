"""The Sparkify ETL flow: the lake's JSON into a checked star schema, one partition per run.

    create schema -> stage events | stage songs -> (daily runs: scope changes)
      -> build users | songs | artists | time -> build songplays
      -> check each table (in parallel) -> publish

Run it from a shell:

    .venv/bin/python -m flows.sparkify_etl --source LAKE_DIR --warehouse warehouse.duckdb
"""

from __future__ import annotations

if __name__ == "__main__":  # a one-off run: Prefect's temporary server starts while this imports
    from flows.temporary_server import start_early

    EARLY_SERVER = start_early()

import argparse
import asyncio
import sys
import uuid
from datetime import date

from prefect import flow, get_run_logger
from prefect.futures import PrefectFuture, wait
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner

from flows.parameters import Day, Share
from flows.temporary_server import EarlyServer, serving
from flows.time_limit import check_run_timeout, flow_timeout_seconds
from tasks.artifacts import (
    publish_check_artifact,
    publish_staging_artifacts,
    publish_summary_artifact,
)
from tasks.build import build_table
from tasks.check import check_table, enforce
from tasks.common.errors import EtlError, first_line
from tasks.common.run_spec import DEFAULT_MAX_REJECTED_SHARE, RunSpec
from tasks.common.stopping import forget, request_stop
from tasks.create_schema import create_schema
from tasks.lake import open_lake
from tasks.lake.files import LakeSource
from tasks.lake.listing import require_log_files
from tasks.model.tables import DIMENSIONS, FACT, MARTS
from tasks.publish import publish, was_published
from tasks.reporting.summary import RunSummary, format_summary
from tasks.scope import scope_changes
from tasks.stage import discard_incoming, enforce_rejected_share, stage_events, stage_songs
from tasks.warehouse.base import RunLock
from tasks.warehouse.connect import adapter_for, run_lock
from tasks.warehouse.target import WarehouseTarget

# A hung run fails TimedOut instead of staying Running. SPARKIFY_RUN_TIMEOUT_S sets another limit
# per deployment (flows/time_limit.py).
RUN_TIMEOUT_SECONDS = 6 * 60 * 60

# How long a cancelled run waits for its tasks to reach the end of a batch: most of the 30 s
# Prefect's worker allows before it kills the run's process.
STOP_GRACE_S = 20.0


def _run_name() -> str:
    params = flow_run.parameters
    return f"sparkify-etl {params.get('day') or 'full'} {lake_label(params.get('source') or '')}"


def lake_label(source: str) -> str:
    """A short name for the lake in run names: its folder (`sample_lake`), or the last part of
    an S3 URI (`s3://bucket/lakes/prod` -> `prod`, `s3://bucket` -> `bucket`)."""
    trimmed = str(source).removeprefix("s3://").rstrip("/")
    return trimmed.rsplit("/", 1)[-1] or str(source)


@flow(
    name="sparkify-etl",
    flow_run_name=_run_name,
    task_runner=ThreadPoolTaskRunner(max_workers=8),  # type: ignore[arg-type]  # Prefect's generics
    retries=0,
    timeout_seconds=flow_timeout_seconds(RUN_TIMEOUT_SECONDS),
)
def sparkify_etl(
    source: str = "sample_lake",
    warehouse: str = "warehouse.duckdb",
    day: Day | None = None,
    max_rejected_share: Share = DEFAULT_MAX_REJECTED_SHARE,
    aws_credentials_block: str | None = None,
    s3_bucket_block: str | None = None,
    report: str | None = None,
) -> RunSummary:
    """Load one partition of the lake (`day`) or all of it into the warehouse's star schema.

    Args:
        source: The lake: a directory (`sample_lake`, what `make run` generates) or
            `s3://bucket/prefix`, holding `song_data/` and `log_data/`.
        warehouse: A DuckDB file (`*.duckdb`, created if missing), or `redshift:BLOCK` (a
            RedshiftWarehouse block) or `redshift:env` (the SPARKIFY_REDSHIFT_* environment).
        day: Load only this day's log files (YYYY-MM-DD) and rebuild only what they change;
            empty for a full load of the whole lake.
        max_rejected_share: Fail before publishing if more than this share (0 to 1; 0.01 is
            1%) of the lake's events or songs would be rejected.
        aws_credentials_block: A prefect-aws AwsCredentials block for an S3 lake (else the
            standard AWS environment).
        s3_bucket_block: A prefect-aws S3Bucket block naming the lake's bucket and folder.
        report: After a successful load, write the song-play report (HTML) to this path.
    """
    run = RunSpec(
        lake=LakeSource(source, aws_credentials_block, s3_bucket_block),
        warehouse=WarehouseTarget.parse(warehouse),
        day=day,
        max_rejected_share=max_rejected_share,
        run_id=str(flow_run.id or uuid.uuid4()),
    )
    summary = RunSummary(partition=run.partition_label)
    submitted: list[PrefectFuture] = []
    try:
        check_run_timeout()
        with run_lock(run.warehouse) as lock:
            try:
                _run(run, summary, lock, submitted)
            except BaseException as exc:
                # A cancel (TerminationSignal), the time limit (Prefect raises a CancelledError
                # in the flow's thread), or Ctrl-C: none is an Exception.
                if not isinstance(exc, Exception):
                    timed_out = isinstance(exc, asyncio.CancelledError)
                    _stop(run, submitted, "timed out" if timed_out else "cancelled")
                raise
            finally:
                forget(run.run_id)
    except EtlError as exc:
        get_run_logger().error("%s", exc)
        raise
    publish_summary_artifact(summary)
    if report:
        from flows.sparkify_report import sparkify_report  # a subflow, only when asked

        sparkify_report(warehouse=warehouse, out=report)
    return summary


def _stop(run: RunSpec, submitted: list[PrefectFuture], why: str) -> None:
    """A cancelled or timed-out run ends cleanly, still holding its lock: its tasks stop at
    their next batch, then the rows it staged are deleted. Prefect's worker kills the process
    30 s after asking it to stop, so the tasks get most of that to reach a batch's end. A
    cleanup that fails (a stop before the schema existed) is logged, never raised: the stop
    must end the run Cancelled or TimedOut, and the next run clears what this one staged."""
    logger = get_run_logger()
    request_stop(run.run_id, why)
    wait(submitted, timeout=STOP_GRACE_S)
    try:
        if was_published(run):
            logger.warning("%s after publishing: this run's tables are published", why)
            return
        discard_incoming(run)
    except Exception as exc:
        logger.warning("%s; its staged rows were not deleted (%s)", why, first_line(exc))
        return
    logger.warning("%s: nothing was published, and the rows this run staged are deleted", why)


def _run(run: RunSpec, summary: RunSummary, lock: RunLock, submitted: list[PrefectFuture]) -> None:
    with summary.timed("schema"):
        create_schema(run)
    with summary.timed("staging"):
        events = stage_events.submit(run)
        submitted.append(events)
        if not adapter_for(run.warehouse).stages_kinds_together:
            wait([events])
        staging = {"events": events, "songs": stage_songs.submit(run)}
        submitted.append(staging["songs"])
        wait(list(staging.values()))
        summary.staged = {kind: future.result() for kind, future in staging.items()}
    publish_staging_artifacts(run, summary.staged)
    enforce_rejected_share(list(summary.staged.values()), run.max_rejected_share)
    if run.incremental:
        with summary.timed("scope"):
            scope_changes(run)
    with summary.timed("build dimensions"):
        dimensions = [build_table.submit(run, table) for table in DIMENSIONS]
        submitted += dimensions
        wait(dimensions)
        [future.result() for future in dimensions]
    with summary.timed("build fact"):
        build_table(run, FACT)
    with summary.timed("checks"):
        checks = [check_table.submit(run, table) for table in MARTS]
        submitted += checks
        wait(checks)
        summary.checks = [result for future in checks for result in future.result()]
    publish_check_artifact(summary.checks)
    enforce(summary.checks)
    lock.check()  # the run lock's session may have ended: then another run may be writing
    with summary.timed("publish"):
        summary.published = publish(run, summary.staged)


def main(argv: list[str] | None = None, early: EarlyServer | None = None) -> int:
    """Command line: run the flow once and print its summary, or a one-line error. `early`:
    the temporary Prefect server the command started before its imports, if it did."""
    parser = argparse.ArgumentParser(
        prog="python -m flows.sparkify_etl",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--source", required=True, help="lake: a directory or s3://bucket/prefix")
    parser.add_argument("--aws-credentials-block", help="prefect-aws AwsCredentials block name")
    parser.add_argument("--s3-bucket-block", help="prefect-aws S3Bucket block name")
    parser.add_argument("--report", help="after loading, write the song-play report here (HTML)")
    parser.add_argument("--warehouse", default="warehouse.duckdb", help="DuckDB file to write")
    parser.add_argument(
        "--date",
        type=date.fromisoformat,
        default=None,
        help="load only this day's log partition (YYYY-MM-DD); default: all",
    )
    parser.add_argument(
        "--max-rejected-share",
        type=float,
        default=DEFAULT_MAX_REJECTED_SHARE,
        help="fail when more than this share of records is rejected (0.01 = 1%%)",
    )
    args = parser.parse_args(argv)
    try:
        check_run_timeout()
        lake = LakeSource(args.source, args.aws_credentials_block, args.s3_bucket_block)
        if lake.aws_credentials_block or lake.s3_bucket_block:
            with serving(early):  # loading a block asks the Prefect API already
                require_log_files(open_lake(lake), args.date)
                summary = _run_once(args)
        else:  # a typo in --source fails here, without waiting for a server
            require_log_files(open_lake(lake), args.date)
            with serving(early):
                summary = _run_once(args)
    except EtlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # anything else still gets one line; the run's logs keep the trace
        lines = str(exc).strip().splitlines() or [""]
        print(f"error: {type(exc).__name__}: {lines[0]}", file=sys.stderr)
        return 1
    print(format_summary(summary))
    return 0


def _run_once(args: argparse.Namespace) -> RunSummary:
    return sparkify_etl(
        source=args.source,
        aws_credentials_block=args.aws_credentials_block,
        s3_bucket_block=args.s3_bucket_block,
        report=args.report,
        warehouse=args.warehouse,
        day=args.date,
        max_rejected_share=args.max_rejected_share,
    )


if __name__ == "__main__":
    sys.exit(main(early=EARLY_SERVER))
