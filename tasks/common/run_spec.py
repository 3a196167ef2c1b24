"""What one run does, as a small frozen value every task receives (no connections, no secrets)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from tasks.common.errors import EtlError
from tasks.lake.files import LakeSource
from tasks.warehouse.target import WarehouseTarget

DEFAULT_MAX_REJECTED_SHARE = 0.01


@dataclass(frozen=True)
class RunSpec:
    """The lake to read, the warehouse to write, and which part of the lake this run covers.

    `day=None` is a full load: every log file is read and staged files gone from the lake drop
    out. A `day` reads only that day's log partition and replaces only its staged rows, so
    loading day by day ends with the same tables as one full load.
    """

    lake: LakeSource
    warehouse: WarehouseTarget
    day: date | None = None
    max_rejected_share: float = DEFAULT_MAX_REJECTED_SHARE
    run_id: str = "local"

    def __post_init__(self) -> None:
        share = self.max_rejected_share
        valid = isinstance(share, int | float) and not isinstance(share, bool)
        if not (valid and math.isfinite(share) and 0 <= share <= 1):
            # NaN would silently switch the rejected-share check off
            raise EtlError(f"max_rejected_share must be a number from 0 to 1, not {share!r}")

    @property
    def partition_label(self) -> str:
        return self.day.isoformat() if self.day else "full"

    @property
    def incremental(self) -> bool:
        """A partition run rebuilds only the keys its changes touch (`tasks.scope`)."""
        return self.day is not None
