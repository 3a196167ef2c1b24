"""The staging macros json_kind and json_text read a JSON value's type and text from its
serialised form instead of parsing it again; they must say exactly what DuckDB's json_type and
`->> '$'` say, for every kind of value a lake can hold (generated below, edge cases included)."""

from __future__ import annotations

import json
import random

import duckdb
import pytest

from tasks.common.sql_files import render

EDGE_VALUES = [
    "0", "-0", "7", "-7", "1.0", "1.50", "1e3", "1E3", "-1e-3", "2.5E+10",
    "123456789012345678", "-123456789012345678", "1234567890123456789", "-1234567890123456789",
    "18446744073709551615", "18446744073709551616", "-9223372036854775808",
    "-9223372036854775809", "99999999999999999999999",
    "true", "false", "null", "{}", "[]", '{"a": [1, "x"]}', "[null]",
    '""', '" "', '"plain"', '"with \\"quote\\""', '"back\\\\slash"', '"tab\\there"',
    '"\\u00e9t\\u00e9"', '"été"', '"日本"', '"👍🏽"', '"\\ud83d\\udc4d"', '"e\\u0301"',
    '"Des\'ree"', '"\\"Mozilla/5.0\\""', '"line\\nbreak"', '"\\/"', '"123"', '"null"',
]  # fmt: skip


def _generated_values(count: int, seed: int = 11) -> list[str]:
    """Random JSON values: integers and doubles of every size, strings with escapes."""
    rng = random.Random(seed)
    alphabet = "aZ09 \"\\/\t\n'é日👍{}[],:"
    values = []
    for _ in range(count):
        kind = rng.randrange(4)
        if kind == 0:
            values.append(
                str(rng.randint(-(10 ** rng.randrange(1, 25)), 10 ** rng.randrange(1, 25)))
            )
        elif kind == 1:
            values.append(repr(rng.uniform(-1e6, 1e6) * 10 ** rng.randrange(-20, 20)))
        elif kind == 2:
            text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12)))
            values.append(json.dumps(text, ensure_ascii=rng.random() < 0.5))
        else:
            values.append(rng.choice(EDGE_VALUES))
    return values


@pytest.fixture(scope="module")
def conn() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    for macro in ("json_kind", "json_text"):
        connection.execute(render(f"parse/{macro}", "duckdb"))
    return connection


def _disagreements(conn: duckdb.DuckDBPyConnection, values: list[str]) -> list[tuple]:
    documents = [f'{{"x": {value}}}' for value in values]
    conn.execute("create or replace temp table docs (doc varchar)")
    conn.executemany("insert into docs values (?)", [[doc] for doc in documents])
    return conn.execute(
        """
        with extracted as (
            select doc, json_extract(doc, ['$."x"', '$."absent"']) as v from docs
        )
        select doc, json_kind(v[1]), json_type(v[1]), json_text(v[1]), v[1] ->> '$'
        from extracted
        where json_kind(v[1]) is distinct from json_type(v[1])
            or json_text(v[1]) is distinct from (v[1] ->> '$')
            or json_kind(v[2]) is not null or json_text(v[2]) is not null
        """
    ).fetchall()


def test_the_macros_agree_with_duckdb_on_edge_values(conn) -> None:
    assert _disagreements(conn, EDGE_VALUES) == []


def test_the_macros_agree_with_duckdb_on_generated_values(conn) -> None:
    assert _disagreements(conn, _generated_values(3000)) == []


def test_the_comparison_catches_a_wrong_kind(conn) -> None:
    """The check above can fail: a macro that calls every number an integer is caught."""
    conn.execute(
        "create or replace temp macro json_kind(value) as "
        "case when ascii(value) = 34 then 'VARCHAR' when value is not null then 'UBIGINT' end"
    )
    try:
        assert _disagreements(conn, ["1.5", "true"]) != []
    finally:
        conn.execute(render("parse/json_kind", "duckdb"))
