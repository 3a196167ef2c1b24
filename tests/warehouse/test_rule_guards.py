"""Rules left out of a batch's query (tasks/records/guards.py) could not have changed it.

For each class of value a declared rule acts on, generated batches of typed records (clean
records with such values at random rows, several classes mixed) go through the fast path's
conversion query twice in one DuckDB session: with every rule, and with only the rules
`rules_to_keep` names. Every row, value and reason must be the same. The full query is the
reference; test_fast_path.py holds it to the per-record path. The other tests say which rule
each class needs, written out here by hand, and that a clean batch renders none of the
rules, so the guard cannot pass by keeping everything.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa
import pytest

from tasks.records import guards, typed
from tasks.records.fields import FIELDS
from tasks.records.sql import render_staging
from tasks.stage import MACROS
from tasks.warehouse.duckdb.session import DuckDBSession, open_session
from tests.factories import event, mojibake, prepared_run, song

Value = Callable[[random.Random], Any]

# Per class: the field, a value of its declared kind, and the rule it needs.
EVENT_CLASSES: list[tuple[str, Value, str]] = [
    ("firstName", lambda r: "An\u0000n" + " " * r.randint(0, 2), "nul"),
    ("gender", lambda r: "\u0000 ", "nul"),
    ("lastName", lambda r: "Smith" + " " * r.randint(1, 3), "rtrim"),
    ("level", lambda r: r.choice(["free ", "paid  "]), "rtrim"),
    ("artist", lambda r: mojibake("Beyoncé", r.randint(1, 2)), "repair"),
    ("location", lambda r: mojibake("Zürich, CH"), "repair"),
    ("song", lambda r: "Café", "repair"),
    ("userAgent", lambda r: r.choice(['"x"', '""', '" "', '"a\nb"', '"']), "unquote"),
    ("userId", lambda r: r.choice(["   ", "\t", " 8", "\n"]), "blank"),
    ("gender", lambda r: r.choice(["", " ", "\r"]), "blank"),
    ("artist", lambda r: "€" * r.randint(342, 400), "size"),
    ("auth", lambda r: "a" * 33, "size"),
    ("method", lambda r: "M" * r.randint(17, 20), "size"),
    ("page", lambda r: "p" * 65, "size"),
    ("userId", lambda r: "u" * 65, "size"),
    ("level", lambda r: r.choice(["premium", "FREE", ""]), "allowed"),
    ("userId", lambda r: None, "missing"),
    ("ts", lambda r: None, "missing"),
    ("song", lambda r: None, "missing"),  # a NextSong event without its song
    ("itemInSession", lambda r: r.choice([2**31, -(2**31) - 1]), "int32"),
    ("status", lambda r: 2**40, "int32"),
    ("itemInSession", lambda r: -r.randint(1, 9), "range"),
    ("ts", lambda r: r.choice([-1, 4_102_444_800_000]), "range"),
    ("length", lambda r: r.choice([-0.5, -300.0]), "range"),
    ("length", lambda r: r.choice([math.nan, math.inf, -math.inf]), "finite"),
    ("registration", lambda r: math.inf, "finite"),
]
SONG_CLASSES: list[tuple[str, Value, str]] = [
    ("artist_id", lambda r: r.choice(["", "   "]), "non_empty"),
    ("song_id", lambda r: "S" * 33, "size"),
    ("title", lambda r: "é" * 600, "size"),
    ("artist_name", lambda r: "", "non_empty"),
    ("artist_location", lambda r: "Paris ", "rtrim"),
    ("year", lambda r: r.choice([0, 999, 2101]), "range"),
    ("artist_latitude", lambda r: r.choice([90.5, -91.0]), "range"),
    ("artist_longitude", lambda r: 181.0, "range"),
    ("duration", lambda r: r.choice([0.0, -1.0]), "range"),
    ("duration", lambda r: math.nan, "finite"),
    ("num_songs", lambda r: 2**31, "int32"),
    ("song_id", lambda r: None, "missing"),
]
CLASSES = {"events": EVENT_CLASSES, "songs": SONG_CLASSES}
CLEAN: dict[str, Callable[[], dict[str, Any]]] = {
    "events": event,
    "songs": lambda: song(artist_location="Paris", artist_latitude=48.85, artist_longitude=2.35),
}


def _batch(kind: str, records: list[dict[str, Any]]) -> pa.Table:
    rows = [
        {"source_file": "lake/file.json", "first_line": 1, "line_number": n, **record}
        for n, record in enumerate(records, 1)
    ]
    return pa.Table.from_pylist(rows, schema=typed.typed_schema(kind))


def _records(kind: str, r: random.Random, classes: list[tuple[str, Value, str]], clean: int):
    records = [CLEAN[kind]() for _ in range(clean)]
    for field, value, _ in classes:
        for _ in range(r.randint(1, 3)):
            records[r.randrange(clean)][field] = value(r)
    return records


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> Iterator[DuckDBSession]:
    tmp = tmp_path_factory.mktemp("guards")
    run = prepared_run(tmp / "lake", tmp / "warehouse.duckdb")
    with open_session(run.warehouse) as wh:
        for macro in MACROS:
            wh.run(f"parse/{macro}")
        yield wh


def _parsed(wh: DuckDBSession, kind: str, batch: pa.Table, keep) -> list[tuple]:
    wh.register("typed_batch", batch)
    wh.execute(render_staging("parsed", kind, typed=True, create=True))
    wh.execute(render_staging("parsed", kind, typed=True, keep=keep))
    rows = wh.query("select * from parsed order by line_number")
    wh.unregister("typed_batch")
    return rows


def _same(a: list[tuple], b: list[tuple]) -> bool:
    """Rows equal, NaN equal to NaN."""

    def norm(row: tuple) -> tuple:
        return tuple("NaN" if isinstance(v, float) and math.isnan(v) else v for v in row)

    return [norm(x) for x in a] == [norm(x) for x in b]


@pytest.mark.parametrize("kind", sorted(CLASSES))
@pytest.mark.parametrize("seed", range(12))
def test_the_kept_rules_decide_every_record_as_all_rules_do(session, kind: str, seed: int) -> None:
    r = random.Random(seed)
    classes = r.sample(CLASSES[kind], r.randint(1, 4))
    batch = _batch(kind, _records(kind, r, classes, clean=r.randint(5, 40)))
    keep = guards.rules_to_keep(kind, batch.select([f.json for f in FIELDS[kind]]))
    full = _parsed(session, kind, batch, None)
    assert any(row[-1] for row in full) or all(rule != "missing" for *_, rule in classes)
    assert _same(_parsed(session, kind, batch, keep), full), (classes, keep)


@pytest.mark.parametrize(
    ("kind", "field", "value", "rule"),
    [(kind, *c) for kind, classes in sorted(CLASSES.items()) for c in classes],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_each_class_keeps_the_rule_it_needs(kind: str, field: str, value: Value, rule: str) -> None:
    r = random.Random(7)
    records = [CLEAN[kind]() for _ in range(5)]
    records[2][field] = value(r)
    keep = guards.rules_to_keep(kind, _batch(kind, records))
    assert f"{field}.{rule}" in keep


# What a clean batch still needs: the sample's userAgent comes quoted, and a song's
# artist_location is empty when the lake knows none (non_empty is not one of its rules).
CLEAN_NEEDS = {"events": {"userAgent.unquote"}, "songs": set()}


@pytest.mark.parametrize("kind", sorted(CLASSES))
def test_a_clean_batch_renders_almost_no_rules(session, kind: str) -> None:
    batch = _batch(kind, [CLEAN[kind]() for _ in range(50)])
    keep = guards.rules_to_keep(kind, batch)
    assert keep == CLEAN_NEEDS[kind]
    pruned = render_staging("parsed", kind, typed=True, rows="accepted", keep=keep)
    rules = pruned[pruned.index("converted as") :]
    for call in ("drop_nul(", "rtrim_blanks(", "repair_text(", "isfinite(", " between "):
        assert call not in rules
    assert not any(f"strlen({f.column})" in rules for f in FIELDS[kind])
    assert _same(_parsed(session, kind, batch, keep), _parsed(session, kind, batch, None))


def test_a_batch_keeps_what_any_of_its_pieces_needs() -> None:
    pieces = [
        typed.TypedPiece(pa.table({"a": [1]}), {}, 1, frozenset({"artist.repair"})),
        typed.TypedPiece(pa.table({"a": [1]}), {}, 1, frozenset({"ts.range"})),
    ]
    assert typed.rules(pieces) == {"artist.repair", "ts.range"}
    assert typed.rules([*pieces, typed.TypedPiece(pa.table({"a": [1]}), {})]) is None


def test_a_sliced_column_is_read_from_its_own_window() -> None:
    """Arrow hands out columns that are views into larger buffers: the bytes outside the view
    must not count (a trailing space before it, here)."""
    records = [event(lastName="Smith  ")] + [event() for _ in range(9)]
    batch = _batch("events", records).slice(1)
    assert "lastName.rtrim" not in guards.rules_to_keep("events", batch)
    assert "lastName.rtrim" in guards.rules_to_keep("events", _batch("events", records))


def test_a_piece_parsed_from_the_lake_carries_its_rules() -> None:
    lines = [event(), event(lastName="Smith "), event(artist=mojibake("Beyoncé"))]
    raw = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines).encode()
    piece = typed.parse_lines("events", "log.json", 1, raw)
    assert piece is not None
    assert piece.rules == {"lastName.rtrim", "artist.repair", "userAgent.unquote"}


def test_a_field_required_on_next_song_events_is_checked_only_where_it_is_missing_there() -> None:
    home = event(page="Home", song=None, artist=None, length=None)
    assert not {"song.missing", "artist.missing", "length.missing"} & guards.rules_to_keep(
        "events", _batch("events", [event(), home])
    )
    bare = event(song=None)
    assert "song.missing" in guards.rules_to_keep("events", _batch("events", [home, bare]))


def test_guards_can_be_turned_off(monkeypatch) -> None:
    piece = typed.TypedPiece(pa.table({"a": [1]}), {}, 1, frozenset({"ts.range"}))
    assert typed.rules([piece]) == {"ts.range"}
    monkeypatch.setenv("SPARKIFY_STAGING_RULE_GUARDS", "0")
    assert typed.rules([piece]) is None
