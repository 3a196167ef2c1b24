"""The optional tiers of the suite: what each needs, whether this machine has it, and the one
command that enables it. One definition: the tests skip on these functions, and the header
pytest prints before a run (`pytest_report_header` in tests/conftest.py) says which tiers the
run will skip."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

# The public Udacity sample (song_data/, log_data/), beside the checkout unless set.
UDACITY_SAMPLE = Path(
    os.environ.get(
        "SPARKIFY_UDACITY_SAMPLE",
        Path(__file__).resolve().parents[2] / "shared" / "data" / "udacity_sample",
    )
)
# What the live Redshift tier (tests/rigs/test_redshift_live.py) needs to run, with the
# placeholder the header's export command shows for each.
LIVE_ENDPOINT = {
    "SPARKIFY_REDSHIFT_HOST": "<cluster endpoint>",
    "SPARKIFY_REDSHIFT_SERVERLESS_WORK_GROUP": "<workgroup>",
}
LIVE_COPY = {
    "SPARKIFY_REDSHIFT_STAGING_URI": "s3://<bucket>/<prefix>",
    "SPARKIFY_REDSHIFT_COPY_IAM_ROLE": "<role ARN>",
}
# Installs the Debian packages the rig (PgBouncer) and the browser checks (Chromium) need, as
# .ci/run does.
TEST_DEPS = "make test-deps"
DEV_INSTALL = "pip install -c constraints.txt -e '.[dev]'"
ENABLE = " — enable: "


def find_chromium() -> str | None:
    """The browser the UI and report checks run headless, or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def udacity_sample_found() -> bool:
    return (UDACITY_SAMPLE / "log_data").is_dir()


def live_redshift_missing(env: Mapping[str, str] = os.environ) -> list[str]:
    """The settings the live tier lacks (none: it runs): an endpoint, and the COPY settings."""
    endpoint = any(env.get(name) for name in LIVE_ENDPOINT)
    missing = [] if endpoint else [" or ".join(LIVE_ENDPOINT)]
    return missing + [name for name in LIVE_COPY if not env.get(name)]


def _live_exports(missing: list[str]) -> str:
    placeholders = {**LIVE_ENDPOINT, **LIVE_COPY}
    names = [name.split(" or ")[0] for name in missing]  # the endpoint: a cluster's host
    exports = " ".join(f"{name}={placeholders[name]}" for name in names)
    return f"export {exports} (and a login; use a throwaway database)"


def _rig_line(env: Mapping[str, str]) -> str:
    from tests.redshift_rig import REQUIRED_ENV, find_pgbouncer, unavailable_reason

    reason = unavailable_reason()
    if reason is None:
        return f"Redshift rig: runs (PgBouncer at {find_pgbouncer()}, PostgreSQL from pgserver)"
    fix = TEST_DEPS if find_pgbouncer() is None else DEV_INSTALL
    verdict = f"fails, as {REQUIRED_ENV}=1 asks" if env.get(REQUIRED_ENV) == "1" else "skipped"
    return f"Redshift rig: {verdict} ({reason.split(' (')[0]}){ENABLE}{fix}"


def report_lines(env: Mapping[str, str] = os.environ) -> list[str]:
    """One line per optional tier: it runs, or it is skipped (why) and the command enabling it."""
    lines = [_rig_line(env)]
    chromium = find_chromium()
    if chromium:
        lines.append(f"Browser checks: run ({chromium})")
    else:
        lines.append(f"Browser checks: skipped (chromium not found){ENABLE}{TEST_DEPS}")
    missing = live_redshift_missing(env)
    if missing:
        unset = ", ".join(missing)
        lines.append(f"Live Redshift: skipped ({unset} unset){ENABLE}{_live_exports(missing)}")
    else:
        lines.append("Live Redshift: runs (SPARKIFY_REDSHIFT_* set; it drops the ETL's tables)")
    if udacity_sample_found():
        lines.append(f"Public Udacity sample: runs ({UDACITY_SAMPLE})")
    else:
        lines.append(
            f"Public Udacity sample: skipped (not found at {UDACITY_SAMPLE}){ENABLE}"
            "export SPARKIFY_UDACITY_SAMPLE=<directory holding song_data/ and log_data/>"
        )
    return lines
