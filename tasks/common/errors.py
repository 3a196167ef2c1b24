"""The errors the ETL raises on purpose, each with a one-line message a person can act on.

`EtlError` subclasses are data or configuration errors: retrying cannot fix them, so the
retry policy in `tasks.common.retry` never retries them, and the CLI prints them without a
traceback.
"""


class EtlError(Exception):
    """A failure the run reports in one line and does not retry."""


class LakeError(EtlError):
    """The lake is missing, empty, or has no files for the requested partition."""


class WarehouseError(EtlError):
    """The warehouse cannot be opened or written (path, permissions, lock held elsewhere)."""


class WarehouseBusy(WarehouseError):
    """Another process held the DuckDB file for longer than the wait allows: not retried, as
    opening already waited (SPARKIFY_DUCKDB_LOCK_WAIT_S) and a retry would only wait again."""


class RejectedShareExceeded(EtlError):
    """More of the run's input records were quarantined than the threshold allows."""


class QualityCheckFailed(EtlError):
    """A quality check found offending rows; the previous tables stay published."""


class SettingError(EtlError):
    """A setting read from the environment (SPARKIFY_RUN_TIMEOUT_S) has a value the service
    cannot use; the message names the variable and the value."""


def first_line(exc: BaseException) -> str:
    """An exception's message, first line only (engines add hints and context below it)."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
