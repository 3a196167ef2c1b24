"""The staging macros that spare a value the expensive call must change nothing: `unquote`
equals the regular expression it replaced, and `repair_text` equals calling the Python repair
on every value (its prefilter only skips values the repair would leave as they are). Values
are generated: quotes, line ends, accents, mojibake of one to three layers, random Unicode."""

from __future__ import annotations

import random

import duckdb
import pytest

from tasks.common.sql_files import render
from tasks.records.text_repair import repair_mojibake
from tasks.warehouse.duckdb.session import _register_functions
from tests.factories import mojibake


def _values(seed: int, count: int = 3000) -> list[str]:
    rng = random.Random(seed)
    pieces = ['"', "a", " ", "\n", "\r", "é", "Ã", "\u0083", "©", "日", "👍", "\\", "%", "_"]
    words = ["Beyoncé", "Sigur Rós", "Café", "Zürich", "naïve", "日本", "plain", "€100"]
    values = ['"', '""', '"a"', '"a\nb"', '"\n"', "", "a", "Ã", "Ã©", "\u00c2\u0080"]
    for _ in range(count):
        choice = rng.random()
        if choice < 0.4:
            values.append("".join(rng.choice(pieces) for _ in range(rng.randrange(0, 8))))
        elif choice < 0.8:
            values.append(mojibake(rng.choice(words), rng.randrange(0, 4)))
        else:
            values.append("".join(chr(rng.randrange(32, 0x3000)) for _ in range(rng.randrange(6))))
        if rng.random() < 0.2:
            values[-1] = f'"{values[-1]}"'  # as the logs quote user agents
    return values


@pytest.fixture(scope="module")
def conn() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    _register_functions(connection)
    for macro in ("unquote", "repair_text"):
        connection.execute(render(f"parse/{macro}", "duckdb"))
    return connection


def _table(conn: duckdb.DuckDBPyConnection, values: list[str]) -> None:
    conn.execute("create or replace temp table v (i integer, x varchar)")
    conn.executemany("insert into v values (?, ?)", list(enumerate(values)))


@pytest.mark.parametrize("seed", [1, 2])
def test_unquote_equals_the_regular_expression(conn, seed: int) -> None:
    _table(conn, _values(seed))
    differing = conn.execute(
        """select x, unquote(x), regexp_replace(x, '^"(.*)"$', '\\1') from v
        where unquote(x) is distinct from regexp_replace(x, '^"(.*)"$', '\\1')"""
    ).fetchall()
    assert differing == []
    assert conn.execute("select count(*) from v where unquote(x) <> x").fetchone()[0] > 10


@pytest.mark.parametrize("seed", [1, 2])
def test_repair_text_equals_the_repair_of_every_value(conn, seed: int) -> None:
    values = _values(seed)
    _table(conn, values)
    got = dict(conn.execute("select i, repair_text(x) from v").fetchall())
    expected = {i: repair_mojibake(x) for i, x in enumerate(values)}
    assert [(values[i], got[i], expected[i]) for i in got if got[i] != expected[i]] == []
    assert sum(expected[i] != x for i, x in enumerate(values)) > 100  # repairs happened
