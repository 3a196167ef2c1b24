"""The scheduled flow: load the log partition of the day the run was scheduled for.

A cron schedule creates runs with a scheduled start time; this flow reads that time (not the
clock), so a run that starts late, or one caught up after an outage, loads its own day. A run
started by hand with `day` reloads that day instead.
"""

from __future__ import annotations

from datetime import date

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from prefect.client.orchestration import get_client
from prefect.runtime import flow_run
from prefect.states import State
from prefect.utilities.urls import url_for

from flows.parameters import Count, Day, Share
from flows.sparkify_etl import sparkify_etl
from flows.time_limit import check_run_timeout, flow_timeout_seconds
from tasks.common.partitions import scheduled_day
from tasks.common.run_log import state_outcome
from tasks.common.run_spec import DEFAULT_MAX_REJECTED_SHARE
from tasks.reporting.summary import RunSummary


def _day_to_load(day: date | str | None, days_back: int) -> date:
    """`day` when given, else the scheduled day minus `days_back`."""
    if day is not None:
        return day if isinstance(day, date) else date.fromisoformat(day)
    return scheduled_day(flow_run.scheduled_start_time, days_back)


def _run_name() -> str:
    params = flow_run.parameters
    return f"sparkify-daily {_day_to_load(params.get('day'), params.get('days_back', 0))}"


# A day's partition loads in seconds on DuckDB and minutes on Redshift: a run still going after
# an hour is stuck (a hung query, or waiting on the lock of a run that hangs), so it fails as
# TimedOut rather than staying Running. A run whose process is killed cannot time itself out:
# the zombie-run automation (deployments/automations.yaml) marks it Crashed instead.
# SPARKIFY_RUN_TIMEOUT_S (flows/time_limit.py) sets another limit per deployment.
RUN_TIMEOUT_SECONDS = flow_timeout_seconds(60 * 60)


@flow(name="sparkify-daily", flow_run_name=_run_name, timeout_seconds=RUN_TIMEOUT_SECONDS)
def sparkify_daily(
    source: str = "sample_lake",
    warehouse: str = "warehouse.duckdb",
    days_back: Count = 0,
    day: Day | None = None,
    max_rejected_share: Share = DEFAULT_MAX_REJECTED_SHARE,
    aws_credentials_block: str | None = None,
    s3_bucket_block: str | None = None,
) -> RunSummary:
    """Load the day the run was scheduled for (minus `days_back`), as a `sparkify-etl` run.

    Args:
        source: The lake: a directory (`sample_lake`, what `make run` generates) or
            `s3://bucket/prefix`, holding `song_data/` and `log_data/`.
        warehouse: A DuckDB file (`*.duckdb`, created if missing), or `redshift:BLOCK` (a
            RedshiftWarehouse block) or `redshift:env` (the SPARKIFY_REDSHIFT_* environment).
        days_back: Load the day this many days before the scheduled one (1: yesterday's).
        day: Reload this day (YYYY-MM-DD) instead; empty for the scheduled day.
        max_rejected_share: Fail before publishing if more than this share (0 to 1; 0.01 is
            1%) of the lake's events or songs would be rejected.
        aws_credentials_block: A prefect-aws AwsCredentials block for an S3 lake (else the
            standard AWS environment).
        s3_bucket_block: A prefect-aws S3Bucket block naming the lake's bucket and folder.
    """
    check_run_timeout()
    state = sparkify_etl(
        source=source,
        warehouse=warehouse,
        day=_day_to_load(day, days_back),
        max_rejected_share=max_rejected_share,
        aws_credentials_block=aws_credentials_block,
        s3_bucket_block=s3_bucket_block,
        return_state=True,
    )
    link_child_run(state)
    return state.result()  # a failed load fails this run, with the load's reason


def link_child_run(state: State) -> None:
    """The load's outcome on this run's page, with a link to its run (where its artifacts
    are), so the daily run says what happened without opening the child; and the child run
    tagged as this deployment's runs are, for the UI's filters. (Tagged afterwards, not with
    `prefect.tags()` around the call, which would tag every task run too: a tagged task costs
    ~2 s of concurrency-limit lookups, see tasks/common/retry.py.)"""
    child = state.state_details.flow_run_id
    if child and flow_run.tags:
        with get_client(sync_client=True) as client:
            client.update_flow_run(child, tags=sorted(set(flow_run.tags)))
    outcome = state_outcome(state)
    url = url_for("flow-run", obj_id=child) if child else None
    create_markdown_artifact(
        key="sparkify-daily-load",
        markdown=f"**{outcome}**"
        + (f"  \n[The sparkify-etl run and its artifacts]({url})" * bool(url)),
        description=f"The load this run started: {outcome}",
    )
