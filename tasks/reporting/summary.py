"""The run's summary: what each stage did and how long it took, as the CLI prints it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from tasks.common.results import CheckResult, PublishResult, StageResult


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


def check_headline(checks: list[CheckResult]) -> str:
    """`54 passed, 0 failed`, naming the failed checks when there are any."""
    failed = [c for c in checks if not c.passed]
    headline = f"Quality checks: {len(checks) - len(failed)} passed, {len(failed)} failed"
    if failed:
        headline += ": " + ", ".join(f"{c.table}.{c.check}" for c in failed[:5])
        headline += f" and {len(failed) - 5} more" if len(failed) > 5 else ""
    return headline
