"""The run's summary: printed by the CLI and published as Prefect artifacts for the UI."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from tasks.checks import CheckResult
from tasks.publish import PublishResult
from tasks.retry import WAREHOUSE_TASK
from tasks.run_spec import RunSpec
from tasks.staging import StageResult
from tasks.warehouse import connect


@dataclass
class RunSummary:
    partition: str
    staged: dict[str, StageResult] = field(default_factory=dict)
    checks: list[CheckResult] = field(default_factory=list)
    published: PublishResult | None = None
    stage_seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        """Record the wall-clock seconds of one stage of the flow."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.stage_seconds[stage] = round(time.perf_counter() - started, 3)

    @property
    def rejected(self) -> int:
        return sum(result.rejected for result in self.staged.values())


def format_summary(summary: RunSummary) -> str:
    """A plain-text report for the terminal."""
    lines = [f"Sparkify ETL ({summary.partition})", "", "rows per table"]
    if summary.published:
        for table, after in summary.published.rows_after.items():
            before = summary.published.rows_before[table]
            lines.append(f"  {table:<10} {after:>10,}   (before: {before:,})")
    lines += ["", "staged"]
    for kind, result in summary.staged.items():
        lines.append(
            f"  {kind:<10} {result.files:>6,} files {result.accepted:>10,} accepted "
            f"{result.rejected:>6,} rejected"
        )
        for reason, count in result.rejected_by_reason.items():
            lines.append(f"    {count:>6,}  {reason}")
        if result.skipped_count:
            shown = ", ".join(result.skipped[:3])
            more = f" and {result.skipped_count - 3:,} more" if result.skipped_count > 3 else ""
            lines.append(
                f"    skipped {result.skipped_count:,} objects that are not lake files: "
                f"{shown}{more}"
            )
    lines += ["", check_headline(summary.checks)]
    lines += ["", "seconds per stage"]
    lines += [f"  {stage:<12} {secs:>8.2f}" for stage, secs in summary.stage_seconds.items()]
    return "\n".join(lines)


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


def check_headline(checks: list[CheckResult]) -> str:
    """`54 passed, 0 failed`, naming the failed checks when there are any."""
    failed = [c for c in checks if not c.passed]
    headline = f"Quality checks: {len(checks) - len(failed)} passed, {len(failed)} failed"
    if failed:
        headline += ": " + ", ".join(f"{c.table}.{c.check}" for c in failed[:5])
        headline += f" and {len(failed) - 5} more" if len(failed) > 5 else ""
    return headline


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
