"""The report flow (through a temporary Prefect server): its HTML opens offline in Chromium with
its charts rendered. Each analysis query's answer is checked in tests/warehouse/test_report.py."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from flows.sparkify_report import sparkify_report
from tasks.analyse import ANALYSES, run_analysis
from tests.factories import published_run
from tests.tiers import find_chromium
from tests.warehouse.test_report import END, START

CHROMIUM = find_chromium()


@pytest.fixture(scope="module")
def loaded(small_lake, tmp_path_factory):
    return published_run(small_lake, tmp_path_factory.mktemp("report") / "w.duckdb")


@pytest.mark.e2e
@pytest.mark.usefixtures("prefect_server")
@pytest.mark.e2e
@pytest.mark.usefixtures("prefect_server")
def test_the_report_flow_writes_a_self_contained_html_report(loaded, tmp_path) -> None:
    out = Path(sparkify_report(warehouse=loaded.warehouse.path, start=START, end=END,
                               out=str(tmp_path / "r.html")))  # fmt: skip
    page = out.read_text()
    assert page.count('src="data:image/png;base64,') == 4
    assert "http" not in re.sub(r'src="data:[^"]*"', "", page)  # nothing to fetch: works offline
    for name in ANALYSES:
        assert run_analysis.fn(loaded.warehouse, name, START, END).question in page
    assert ":start_time" not in page and ":end_time" not in page  # the period, in words
    assert f"{START:%Y-%m-%d %H:%M} to {END:%Y-%m-%d %H:%M} UTC (end excluded)" in page
    assert re.search(r"<td>\d+\.\d\d%</td>", page)  # the matched share, as a percentage
    if CHROMIUM is None:
        pytest.skip(
            "Chromium not installed (apt-get install chromium): charts not checked in a browser"
        )
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", f"--user-data-dir={tmp_path / 'profile'}",
             "--virtual-time-budget=5000"]  # fmt: skip
    dom = subprocess.run([CHROMIUM, *flags, "--dump-dom", out.as_uri()], capture_output=True,
                         text=True, timeout=120).stdout  # fmt: skip
    assert dom.count('data-rendered="yes"') == 4
