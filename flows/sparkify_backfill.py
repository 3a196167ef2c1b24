"""The backfill flow: load a range of days one at a time, each day retried on its own.

Every day is its own `sparkify-etl` run (visible in the UI under this one). A day that fails on
a transient error is tried again; a day that fails on its data is not, and the backfill goes on
to the next day, then fails naming every day that did not load.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from flows.parameters import Count, Day, Seconds, Share
from flows.sparkify_etl import sparkify_etl
from flows.time_limit import check_run_timeout, flow_timeout_seconds
from tasks.common.errors import EtlError
from tasks.common.partitions import days_between
from tasks.common.retry import is_transient
from tasks.common.run_spec import DEFAULT_MAX_REJECTED_SHARE

# Each day is one `sparkify-etl` run with its own time limit (a range has no natural bound): a
# day still going after an hour is stuck, fails as TimedOut and is retried like other transient
# errors. A killed process is the zombie-run automation's job (deployments/automations.yaml).
# SPARKIFY_RUN_TIMEOUT_S (flows/time_limit.py) sets another limit for each day.
DAY_TIMEOUT_SECONDS = flow_timeout_seconds(60 * 60)
load_one_day = sparkify_etl.with_options(timeout_seconds=DAY_TIMEOUT_SECONDS)


@dataclass
class BackfillResult:
    loaded: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


class BackfillFailed(EtlError):
    """Some days of the range did not load; the message names each and why."""


def _run_name() -> str:
    params = flow_run.parameters
    return f"sparkify-backfill {params.get('start')}..{params.get('end')}"


@flow(name="sparkify-backfill", flow_run_name=_run_name)
def sparkify_backfill(
    start: Day,
    end: Day,
    source: str = "sample_lake",
    warehouse: str = "warehouse.duckdb",
    max_rejected_share: Share = DEFAULT_MAX_REJECTED_SHARE,
    day_retries: Count = 2,
    retry_delay_seconds: Seconds = 10.0,
    aws_credentials_block: str | None = None,
    s3_bucket_block: str | None = None,
) -> BackfillResult:
    """Load every day from `start` to `end` (both included), oldest first.

    Args:
        start: The first day to load (YYYY-MM-DD).
        end: The last day to load (YYYY-MM-DD), included.
        source: The lake: a directory (`sample_lake`, what `make run` generates) or
            `s3://bucket/prefix`, holding `song_data/` and `log_data/`.
        warehouse: A DuckDB file (`*.duckdb`, created if missing), or `redshift:BLOCK` (a
            RedshiftWarehouse block) or `redshift:env` (the SPARKIFY_REDSHIFT_* environment).
        max_rejected_share: Fail before publishing if more than this share (0 to 1; 0.01 is
            1%) of the lake's events or songs would be rejected.
        day_retries: How many times a failed day is tried again before the next day starts.
        retry_delay_seconds: Seconds to wait before a day is tried again.
        aws_credentials_block: A prefect-aws AwsCredentials block for an S3 lake (else the
            standard AWS environment).
        s3_bucket_block: A prefect-aws S3Bucket block naming the lake's bucket and folder.
    """
    check_run_timeout()
    result = BackfillResult()
    options = {
        "source": source,
        "warehouse": warehouse,
        "max_rejected_share": max_rejected_share,
        "aws_credentials_block": aws_credentials_block,
        "s3_bucket_block": s3_bucket_block,
    }
    for day in days_between(start, end):
        error = _load_day(day, day_retries, retry_delay_seconds, options)
        if error is None:
            result.loaded.append(day.isoformat())
        else:
            result.failed[day.isoformat()] = error
            get_run_logger().error("%s did not load: %s", day, error)
    if result.failed:
        days = "; ".join(f"{d}: {why}" for d, why in result.failed.items())
        raise BackfillFailed(
            f"{len(result.failed)} of {len(result.loaded) + len(result.failed)} days failed: {days}"
        )
    return result


def _load_day(day: date, retries: int, delay: float, options: dict[str, Any]) -> str | None:
    """Run one day; retry it after transient failures only. The error's line, or None."""
    for attempt in range(retries + 1):
        state = load_one_day(day=day, return_state=True, **options)
        if state.is_completed():
            return None
        error = state.result(raise_on_failure=False)
        if not isinstance(error, BaseException) or not is_transient(error) or attempt == retries:
            return str(error).splitlines()[0] if str(error) else state.message or "failed"
        time.sleep(delay * 2**attempt)
    return "failed"
