"""The report flow: answer the song-play questions for a date range and publish the answers.

    .venv/bin/python -m flows.sparkify_report --warehouse warehouse.duckdb --out report.html

Publishes table artifacts for the rankings, a markdown artifact with the charts, and writes a
self-contained HTML report (charts and tables) that opens offline.

The report only reads: it opens a DuckDB file read-only, and holds the warehouse's run lock
shared while it queries, so it waits for a load to finish and a load waits for it, while
any number of reports (and analysts' read-only connections) read side by side.
"""

from __future__ import annotations

if __name__ == "__main__":  # a one-off run: Prefect's temporary server starts while this imports
    from flows.temporary_server import start_early

    EARLY_SERVER = start_early()

import argparse
import sys
from datetime import datetime
from pathlib import Path

from prefect import flow
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.futures import wait
from prefect.runtime import flow_run

from flows.parameters import Instant, as_utc
from flows.temporary_server import EarlyServer, serving
from tasks.analyse import ANALYSES, AnalysisResult, report_period, run_analysis
from tasks.common.errors import EtlError
from tasks.reporting.html import markdown, period_label, render_html
from tasks.warehouse.connect import run_lock
from tasks.warehouse.target import WarehouseTarget

RANKINGS = ("top_songs", "top_artists", "plays_by_location", "plays_by_user_agent", "level_changes")


def _run_name() -> str:
    params = flow_run.parameters
    start, end = params.get("start"), params.get("end")
    period = f"{start or 'first play'} to {end or 'last play'}" if start or end else "all plays"
    return f"sparkify-report {period}"


@flow(name="sparkify-report", flow_run_name=_run_name)
def sparkify_report(
    warehouse: str = "warehouse.duckdb",
    start: Instant | None = None,
    end: Instant | None = None,
    out: str = "report.html",
) -> str:
    """Run every analysis over [start, end) (default: all plays) and publish the report.

    Args:
        warehouse: A DuckDB file (`*.duckdb`, read-only: it must exist), or `redshift:BLOCK` (a
            RedshiftWarehouse block) or `redshift:env` (the SPARKIFY_REDSHIFT_* environment).
        start: The first instant of the period, YYYY-MM-DD[THH:MM[:SS]] in UTC (or with an
            offset: Z, +02:00); default: the first play.
        end: The end of the period, excluded, in the same form; default: just after the
            last play.
        out: Where to write the HTML report (a file path on the worker).
    """
    target = WarehouseTarget.parse(warehouse)
    start, end = as_utc(start), as_utc(end)
    with run_lock(target, shared=True):  # between loads, never during one
        if not (start and end):
            start, end = report_period(target, start, end)
        futures = [run_analysis.submit(target, name, start, end) for name in ANALYSES]
        wait(futures)
        results: list[AnalysisResult] = [future.result() for future in futures]
    for result in results:
        if result.name in RANKINGS:
            rows = [dict(zip(result.columns, map(_plain, row), strict=True)) for row in result.rows]
            create_table_artifact(key=f"sparkify-{result.name.replace('_', '-')}", table=rows,
                                  description=result.question)  # fmt: skip
    create_markdown_artifact(key="sparkify-report", markdown=markdown(results, start, end),
                             description="Song plays: charts")  # fmt: skip
    path = Path(out).expanduser().resolve()
    path.write_text(render_html(results, start, end), encoding="utf-8")
    create_link_artifact(
        key="sparkify-report-html",
        link=path.as_uri(),
        link_text=path.name,
        description=f"The HTML report, {period_label(start, end)}, on the worker's disk",
    )
    return str(path)


def _plain(value: object) -> object:
    return value if isinstance(value, int | float | str) or value is None else str(value)


def main(argv: list[str] | None = None, early: EarlyServer | None = None) -> int:
    """Command line: write the report once; `early` as for `flows.sparkify_etl.main`."""
    parser = argparse.ArgumentParser(
        prog="python -m flows.sparkify_report",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--warehouse", default="warehouse.duckdb")
    parser.add_argument("--start", type=datetime.fromisoformat, help="first instant (UTC)")
    parser.add_argument("--end", type=datetime.fromisoformat, help="end instant, excluded")
    parser.add_argument("--out", default="report.html")
    args = parser.parse_args(argv)
    try:
        with serving(early):
            path = sparkify_report(
                warehouse=args.warehouse, start=args.start, end=args.end, out=args.out
            )
    except EtlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"report written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(early=EARLY_SERVER))
