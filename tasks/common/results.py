"""What each stage of a run returns: small values the flow, the summary and the artifacts read.

A leaf module (nothing of ours imported), so task modules and reporting share these types
without importing each other."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class StageResult:
    """What a staging task read, accepted, rejected (with counts per reason) and skipped, and
    the records of its kind the whole lake holds once the run publishes."""

    kind: str
    files: int
    accepted: int
    rejected: int
    seconds: float
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # the first SKIPPED_LISTED of them
    skipped_count: int = 0
    lake_accepted: int = 0
    lake_rejected: int = 0

    @property
    def rejected_share(self) -> float:
        """The rejected share of the lake as this run leaves it: what a full load would judge,
        so a day a full load accepts also loads on its own, and one bad new file cannot block
        every later daily run."""
        total = self.lake_accepted + self.lake_rejected
        return self.lake_rejected / total if total else 0.0


@dataclass
class BuildResult:
    table: str
    rows: int
    seconds: float


@dataclass(frozen=True)
class Check:
    """One named query returning offending rows."""

    table: str
    name: str
    sql: str
    rule: str = ""  # the limit it enforces, as a reader of the report states it


@dataclass
class CheckResult:
    table: str
    check: str
    failing_rows: int
    sample: list[str] = field(default_factory=list)
    rule: str = ""

    @property
    def passed(self) -> bool:
        return self.failing_rows == 0


@dataclass
class PublishResult:
    rows_before: dict[str, int]
    rows_after: dict[str, int]
    seconds: float
