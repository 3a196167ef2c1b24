"""The run's Prefect artifacts for the UI: staging progress and rejects, checks, the summary."""

from __future__ import annotations

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from tasks.common.results import CheckResult, StageResult
from tasks.common.retry import WAREHOUSE_TASK
from tasks.common.run_spec import RunSpec
from tasks.reporting.summary import RunSummary, check_headline, format_summary
from tasks.warehouse.connect import connect


def publish_check_artifact(checks: list[CheckResult]) -> None:
    """The quality-check results as a table artifact, one row per check with the limit it
    enforces, headed by how many passed and failed."""
    rows = [
        {
            "table": c.table,
            "check": c.check,
            "limit": c.rule,
            "status": "pass" if c.passed else "FAIL",
            "failing_rows": c.failing_rows,
            "sample": "; ".join(c.sample),
        }
        for c in checks
    ]
    create_table_artifact(
        key="sparkify-quality-checks", table=rows, description=check_headline(checks)
    )


def publish_summary_artifact(summary: RunSummary) -> None:
    """Rows per table (before and after), rejected records and stage timings, as artifacts."""
    if summary.published:
        rows = [
            {"table": t, "rows_before": summary.published.rows_before[t], "rows_after": after}
            for t, after in summary.published.rows_after.items()
        ]
        create_table_artifact(key="sparkify-row-counts", table=rows, description="Rows per table")
    rejected = [
        {"kind": kind, "reason": reason, "records": count}
        for kind, result in summary.staged.items()
        for reason, count in result.rejected_by_reason.items()
    ]
    if rejected:
        create_table_artifact(
            key="sparkify-rejected-reasons", table=rejected, description="Quarantined, by reason"
        )
    create_markdown_artifact(
        key="sparkify-run-summary",
        markdown=f"```\n{format_summary(summary)}\n```",
        description=f"Sparkify ETL summary ({summary.partition})",
    )


REJECTED_LISTED = 1000


@task(name="report staging", task_run_name="report staging", **WAREHOUSE_TASK)
def publish_staging_artifacts(run: RunSpec, staged: dict[str, StageResult]) -> None:
    """The records staging rejected (file, line, reason, the start of the text) and the objects
    it skipped, as artifacts: published before the rejected-share check, so a run that fails
    on it shows what it would have quarantined (kept in sparkify_staging.quarantine_incoming)."""
    with connect(run.warehouse) as wh:
        columns, rows = wh.columns_and_rows("staging/quarantine_sample", {"limit": REJECTED_LISTED})
    if rows:
        total = sum(result.rejected for result in staged.values())
        create_table_artifact(
            key="sparkify-rejected-records",
            table=[dict(zip(columns, row, strict=True)) for row in rows],
            description=f"Rejected records: {total:,} (the first {len(rows):,} listed)",
        )
    skipped = [
        {"kind": kind, "object": key} for kind, result in staged.items() for key in result.skipped
    ]
    if skipped:
        count = sum(result.skipped_count for result in staged.values())
        create_table_artifact(
            key="sparkify-skipped-objects",
            table=skipped,
            description=f"Objects skipped as not lake files: {count:,}",
        )
