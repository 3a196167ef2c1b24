"""Progress the Prefect UI shows while staging runs: files done out of files to read."""

from __future__ import annotations

from typing import cast
from uuid import UUID

from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.context import TaskRunContext


class StagingProgress:
    """A progress artifact (files done / total) the UI shows while a staging task runs.

    Outside a Prefect task run (a task's function called bare, as unit tests do) it records
    nothing, so no API is needed.
    """

    def __init__(self, kind: str, total: int) -> None:
        self.kind, self.total, self.done = kind, total, 0
        self.artifact_id = None
        if TaskRunContext.get() is not None:
            self.artifact_id = create_progress_artifact(
                progress=self._percent(), key=f"sparkify-staging-{kind}",
                description=self._description(),
            )  # fmt: skip

    def advance(self, files: int) -> None:
        self.done += files
        if self.artifact_id is not None:
            update_progress_artifact(
                cast(UUID, self.artifact_id),
                progress=self._percent(),
                description=self._description(),
            )

    def _percent(self) -> float:
        """Nothing to read (a daily run with no new song file) is done, not stuck at 0%."""
        return 100.0 * self.done / self.total if self.total else 100.0

    def _description(self) -> str:
        if not self.total:
            return f"staging {self.kind}: no files to read (none new or changed)"
        return f"staging {self.kind}: {self.done:,} of {self.total:,} files"
