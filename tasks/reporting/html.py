"""Charts and the self-contained HTML report of the song-play analyses.

Charts are drawn by matplotlib (headless Agg backend) into PNGs embedded as data URIs, so the
HTML opens offline with nothing beside it, and the same images serve the Prefect artifact.
"""

from __future__ import annotations

import base64
import html
import io
from datetime import datetime
from decimal import Decimal

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from tasks.analyse import AnalysisResult

WEEKDAYS = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")
CHARTED = ("plays_by_hour", "plays_by_weekday", "daily_active_users", "free_vs_paid")


def chart_png(result: AnalysisResult) -> bytes:
    """One chart for one of the CHARTED analyses, as PNG bytes."""
    rows = result.rows
    if result.name == "free_vs_paid":
        return _free_vs_paid(result)
    fig, ax = plt.subplots(figsize=(7, 3.2), dpi=100)
    if result.name == "plays_by_hour":
        ax.bar([r[0] for r in rows], [r[1] for r in rows], color="#3b6ea5")
        ax.set_xlabel("hour of day (UTC)")
        ax.set_ylabel("plays")
    elif result.name == "plays_by_weekday":
        ax.bar([WEEKDAYS[r[0]] for r in rows], [r[1] for r in rows], color="#3b6ea5")
        ax.set_ylabel("plays")
    elif result.name == "daily_active_users":
        ax.plot([r[0] for r in rows], [r[1] for r in rows], marker="o", color="#3b6ea5")
        ax.set_ylabel("users")
        fig.autofmt_xdate()
    else:
        raise ValueError(f"no chart for {result.name}")
    ax.set_title(result.question, fontsize=10)
    return _png(fig)


def _free_vs_paid(result: AnalysisResult) -> bytes:
    fig, (plays, users) = plt.subplots(1, 2, figsize=(7, 3.2), dpi=100)
    levels = [r[0] for r in result.rows]
    plays.bar(levels, [r[1] for r in result.rows], color="#3b6ea5")
    plays.set_title("plays by level", fontsize=10)
    users.bar(levels, [r[2] for r in result.rows], color="#d98c3f")
    users.set_title("listening users by level", fontsize=10)
    return _png(fig)


def _png(fig: plt.Figure) -> bytes:
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def render_html(results: list[AnalysisResult], start: datetime, end: datetime) -> str:
    """The whole report: charts first, then every analysis as a table."""
    by_name = {r.name: r for r in results}
    charts = "\n".join(
        f'<figure><img alt="{html.escape(name)}" src="{data_uri(chart_png(by_name[name]))}" '
        "onload=\"this.dataset.rendered = this.naturalWidth > 0 ? 'yes' : 'no'\"></figure>"
        for name in CHARTED
        if name in by_name
    )
    tables = "\n".join(_table(r) for r in results)
    period = period_label(start, end)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sparkify song plays, {period}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; }}
figure {{ display: inline-block; margin: 0 1rem 1rem 0; }}
table {{ border-collapse: collapse; margin-bottom: 1.5rem; }}
td, th {{ border: 1px solid #ccc; padding: .25rem .6rem; text-align: left; }}
h2 {{ font-size: 1.05rem; margin-bottom: .3rem; }}
</style></head>
<body>
<h1>Sparkify song plays</h1>
<p>{period}</p>
{charts}
{tables}
</body></html>
"""


def markdown(results: list[AnalysisResult], start: datetime, end: datetime) -> str:
    """The charts and headline numbers as markdown, for a Prefect artifact."""
    by_name = {r.name: r for r in results}
    lines = [f"# Sparkify song plays, {period_label(start, end)}", ""]
    for name in CHARTED:
        if name in by_name:
            lines += [f"![{name}]({data_uri(chart_png(by_name[name]))})", ""]
    for name in ("matched_share", "sessions"):
        if name in by_name and by_name[name].rows:
            result = by_name[name]
            pairs = ", ".join(
                f"{c}: {_cell(v, c)}" for c, v in zip(result.columns, result.rows[0], strict=True)
            )
            lines.append(f"- {result.question} {pairs}")
    return "\n".join(lines)


def _table(result: AnalysisResult) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in result.columns)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(_cell(v, c))}</td>" for c, v in zip(result.columns, row, strict=True)
        )
        + "</tr>"
        for row in result.rows
    )
    return f"<h2>{html.escape(result.question)}</h2><table><tr>{head}</tr>{body}</table>"


def period_label(start: datetime, end: datetime) -> str:
    """`2018-11-01 00:00 to 2018-12-01 00:00 UTC (end excluded)`: the report covers
    [start, end), and an end that is a play's instant plus 1 ms keeps its milliseconds."""
    return f"{_instant(start)} to {_instant(end)} UTC (end excluded)"


def _instant(moment: datetime) -> str:
    if moment.microsecond:
        return f"{moment:%Y-%m-%d %H:%M:%S}.{moment.microsecond // 1000:03d}"
    if moment.second:
        return f"{moment:%Y-%m-%d %H:%M:%S}"
    return f"{moment:%Y-%m-%d %H:%M}"


def _cell(value: object, column: str = "") -> str:
    if isinstance(value, float | Decimal) and column == "share":
        return f"{float(value):.2%}"
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float):
        return f"{value:,.3f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "" if value is None else str(value)
