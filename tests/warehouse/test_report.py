"""Every analysis query against an independent computation over the reference model (the report
flow's HTML, opened in Chromium, is tests/flow/test_report_flow.py)."""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from datetime import datetime

import pytest

from tasks.analyse import ANALYSES, run_analysis
from tests.factories import published_run
from tests.reference import star_schema

START, END = datetime(2018, 11, 2), datetime(2018, 11, 4)


@pytest.fixture(scope="module")
def loaded(small_lake, tmp_path_factory):
    return published_run(small_lake, tmp_path_factory.mktemp("report") / "w.duckdb")


@pytest.fixture(scope="module")
def model(small_lake) -> dict:
    tables = star_schema(small_lake)
    plays = [p for p in tables["songplays"] if START <= p[1] < END]
    return {"plays": plays, "songs": {s[0]: s for s in tables["songs"]},
            "artists": {a[0]: a for a in tables["artists"]}}  # fmt: skip


def answer(run, name: str) -> list[tuple]:
    return run_analysis.fn(run.warehouse, name, START, END).rows


def test_the_window_holds_plays_and_matches(model) -> None:
    assert len(model["plays"]) > 100 and any(p[4] for p in model["plays"])


def test_top_songs(loaded, model) -> None:
    counts = Counter(p[4] for p in model["plays"] if p[4])
    rows = [(s, model["songs"][s][1], model["artists"][model["songs"][s][2]][1], n)
            for s, n in counts.items()]  # fmt: skip
    expected = sorted(rows, key=lambda r: (-r[3], r[1], r[2], r[0]))[:10]
    assert answer(loaded, "top_songs") == expected


def test_top_artists(loaded, model) -> None:
    counts = Counter(p[5] for p in model["plays"] if p[5])  # artists are ids: names can repeat
    rows = [(a, model["artists"][a][1], n) for a, n in counts.items()]
    expected = sorted(rows, key=lambda r: (-r[2], r[1], r[0]))[:10]
    assert answer(loaded, "top_artists") == expected


def test_plays_by_hour(loaded, model) -> None:
    hours = Counter(p[1].hour for p in model["plays"])
    assert answer(loaded, "plays_by_hour") == sorted(hours.items())


def test_plays_by_weekday(loaded, model) -> None:
    weekdays = Counter(p[1].isoweekday() % 7 for p in model["plays"])  # 0 = Sunday
    assert answer(loaded, "plays_by_weekday") == sorted(weekdays.items())


def test_free_vs_paid(loaded, model) -> None:
    plays, users = Counter(), defaultdict(set)
    for p in model["plays"]:
        plays[p[3]] += 1
        users[p[3]].add(p[2])
    assert answer(loaded, "free_vs_paid") == [
        (lv, plays[lv], len(users[lv])) for lv in sorted(plays)
    ]


def test_level_changes(loaded, model) -> None:
    by_user = defaultdict(list)
    for p in sorted(model["plays"], key=lambda p: (p[1], p[0])):
        by_user[p[2]].append(p[3])
    expected = []
    for user, levels in sorted(by_user.items()):
        pairs = list(itertools.pairwise(levels))
        up, down = pairs.count(("free", "paid")), pairs.count(("paid", "free"))
        if up or down:
            expected.append((user, up, down))
    assert [(u, int(a), int(b)) for u, a, b in answer(loaded, "level_changes")] == expected
    assert expected, "the generated lake has users whose level changes"


def test_daily_active_users(loaded, model) -> None:
    users = defaultdict(set)
    for p in model["plays"]:
        users[p[1].date()].add(p[2])
    assert answer(loaded, "daily_active_users") == sorted((d, len(u)) for d, u in users.items())


def test_sessions(loaded, model) -> None:
    sessions = defaultdict(list)
    for p in model["plays"]:
        sessions[(p[2], p[6])].append(p[1])
    lengths = [len(times) for times in sessions.values()]
    minutes = [(max(t) - min(t)).total_seconds() / 60 for t in sessions.values()]
    count, avg_plays, max_plays, avg_minutes, max_minutes = answer(loaded, "sessions")[0]
    assert (count, max_plays) == (len(sessions), max(lengths))
    assert avg_plays == pytest.approx(sum(lengths) / len(lengths))
    assert avg_minutes == pytest.approx(sum(minutes) / len(minutes))
    assert max_minutes == pytest.approx(max(minutes))


def test_plays_per_user(loaded, model) -> None:
    bounds = [(1, "1"), (10, "2-10"), (50, "11-50"), (100, "51-100"), (500, "101-500")]
    buckets = Counter()
    for n in Counter(p[2] for p in model["plays"]).values():
        label = next((i + 1, name) for i, (top, name) in enumerate(bounds) if n <= top) \
            if n <= 500 else (6, "501+")  # fmt: skip
        buckets[label] += 1
    assert answer(loaded, "plays_per_user") == [
        (b, name, n) for (b, name), n in sorted(buckets.items())
    ]


def test_matched_share(loaded, model) -> None:
    plays = len(model["plays"])
    matched = sum(1 for p in model["plays"] if p[4])
    assert answer(loaded, "matched_share") == [(plays, matched, pytest.approx(matched / plays))]


def test_plays_by_location(loaded, model) -> None:
    counts = Counter(p[7] or "unknown" for p in model["plays"])
    assert (
        answer(loaded, "plays_by_location")
        == sorted(counts.items(), key=lambda r: (-r[1], r[0]))[:10]
    )


def _family(agent: str | None) -> str:
    if agent is None:
        return "unknown"
    for marker, family in (("Edge/", "Edge"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"),
                           ("Safari/", "Safari"), ("MSIE ", "Internet Explorer"),
                           ("Trident/", "Internet Explorer")):  # fmt: skip
        if marker in agent:
            return family
    return "other"


def test_plays_by_user_agent(loaded, model) -> None:
    counts = Counter(_family(p[8]) for p in model["plays"])
    assert answer(loaded, "plays_by_user_agent") == sorted(
        counts.items(), key=lambda r: (-r[1], r[0])
    )


def test_every_analysis_is_tested_here() -> None:
    tested = {name.removeprefix("test_") for name in globals() if name.startswith("test_")}
    covered = {a for a in ANALYSES if any(a in t for t in tested)}
    assert covered == set(ANALYSES)
