"""A run's time limit (Prefect's `timeout_seconds`), set per deployment without editing code.

SPARKIFY_RUN_TIMEOUT_S, a number of seconds greater than 0, replaces each flow's own limit
(the ETL's 6 hours, a daily run's hour, a backfill day's hour): put it in a deployment's
`job_variables: env:` in prefect.yaml, or in a custom run's job variables. A run that exceeds
it ends TimedOut, which the failure alert notifies.

Prefect fixes a flow's limit when the flow object is built, and a deployment has no field that
overrides it, so the flows read the variable when their module is imported; a worker starts a
fresh process for each run, so that is when the run starts. A bad value must not stop the
module from loading (Prefect would then crash the run before it is named, with a traceback),
so the decorators get the flow's default instead, and the run fails at its start with the
one-line error of `check_run_timeout`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping

from tasks.common.errors import SettingError

RUN_TIMEOUT_ENV = "SPARKIFY_RUN_TIMEOUT_S"


def run_timeout_seconds(default: float, environ: Mapping[str, str] = os.environ) -> float:
    """SPARKIFY_RUN_TIMEOUT_S in seconds (unset or blank: `default`); anything but a number
    greater than 0 is a one-line `SettingError` naming the variable and the value."""
    raw = environ.get(RUN_TIMEOUT_ENV, "").strip()
    if not raw:
        return default
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds < math.inf:  # also refuses nan
        raise SettingError(f"{RUN_TIMEOUT_ENV} must be a number of seconds greater than 0: {raw!r}")
    return seconds


def flow_timeout_seconds(default: float) -> float:
    """A flow decorator's `timeout_seconds`, at import: the setting, or `default` while it is
    bad (the run then fails at its start, in `check_run_timeout`)."""
    try:
        return run_timeout_seconds(default)
    except SettingError:
        return default


def check_run_timeout() -> None:
    """Raise the setting's one-line `SettingError` if SPARKIFY_RUN_TIMEOUT_S is bad."""
    run_timeout_seconds(default=0)
