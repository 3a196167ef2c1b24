"""A daily run's SQL says what it reads: each mart renders for a daily run exactly as for a full
load plus one WHERE, a semi-join of the staging source it restricts on the changed-key table, and
publishing deletes exactly the keys rebuilt. The expectations are stated here, from what each
table is keyed by, not read from the code under test."""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp

from tasks.build import build_statements
from tasks.common.sql_files import UnknownIdentifier, render
from tasks.model.tables import MARTS
from tasks.warehouse.redshift.adapter import RedshiftAdapter

DIALECTS = ("redshift", "duckdb", "postgres")

# mart: (the staging relation its daily run restricts, the column, the changed-key table). Time
# and songplays are rebuilt by instant: their plays come from the events at changed instants.
# Songplays reads those events twice (its plays, and the tracks it matches), restricted alike.
RESTRICTED = {
    "users": ("sparkify_staging.events_next", "user_id", "sparkify_staging.changed_users"),
    "songs": ("sparkify_staging.songs_next", "song_id", "sparkify_staging.changed_songs"),
    "artists": ("sparkify_staging.songs_next", "artist_id", "sparkify_staging.changed_artists"),
    "time": ("sparkify_staging.events_next", "ts", "sparkify_staging.changed_play_times"),
    "songplays": ("sparkify_staging.events_next", "ts", "sparkify_staging.changed_play_times"),
}
# table: (the key publishing replaces, the changed-key table that lists this run's keys)
REPLACED = {
    "users": ("user_id", "sparkify_staging.changed_users"),
    "songs": ("song_id", "sparkify_staging.changed_songs"),
    "artists": ("artist_id", "sparkify_staging.changed_artists"),
    "time": ("start_time", "sparkify_staging.changed_play_times"),
    "songplays": ("start_time", "sparkify_staging.changed_play_times"),
}


def _name(table: exp.Table) -> str:
    return ".".join(part for part in (table.db, table.name) if part)


def _semi_joins(tree: exp.Expression) -> list[exp.In]:
    """Every `x IN (SELECT …)` whose subquery reads a table of sparkify_staging.changed_*."""
    return [
        node
        for node in tree.find_all(exp.In)
        if node.args.get("query") is not None
        and any(
            _name(t).startswith("sparkify_staging.changed_")
            for t in node.args["query"].find_all(exp.Table)
        )
    ]


def _reads(semi_join: exp.In) -> tuple[str, str, str]:
    """(the relation the filtered SELECT reads, the column tested, the changed-key table) of a
    semi-join that is the whole WHERE of a one-table SELECT selecting that same column."""
    where = semi_join.parent
    assert isinstance(where, exp.Where), f"not a whole WHERE: {where.sql()}"
    select = where.parent
    assert isinstance(select, exp.Select) and not select.args.get("joins")
    source = select.args["from_"].this
    assert isinstance(source, exp.Table), source.sql()
    subquery = semi_join.args["query"]
    inner = subquery.this if isinstance(subquery, exp.Subquery) else subquery
    (selected,) = inner.expressions
    (changed,) = [_name(t) for t in inner.find_all(exp.Table)]
    assert isinstance(semi_join.this, exp.Column) and isinstance(selected, exp.Column)
    assert semi_join.this.name == selected.name, semi_join.sql()
    return _name(source), semi_join.this.name, changed


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("table", MARTS)
def test_a_daily_mart_is_the_full_one_plus_a_semi_join_on_the_changed_keys(table, dialect):
    full_sql = render(f"marts/{table}", dialect, is_incremental=False)
    daily_sql = render(f"marts/{table}", dialect, is_incremental=True)
    assert daily_sql != full_sql
    full, daily = (sqlglot.parse_one(sql, read=dialect) for sql in (full_sql, daily_sql))

    assert _semi_joins(full) == []
    restrictions = _semi_joins(daily)
    reads = 2 if table == "songplays" else 1
    assert [_reads(semi_join) for semi_join in restrictions] == [RESTRICTED[table]] * reads
    for semi_join in restrictions:
        semi_join.parent.pop()  # the WHERE it is the whole of
    assert daily == full, "the daily render differs by more than its semi-join"


@pytest.mark.parametrize("table", MARTS)
def test_a_daily_build_inserts_the_daily_mart(table) -> None:
    (*_, (_, daily)), (*_, (_, full)) = (
        build_statements(table, RedshiftAdapter(), incremental) for incremental in (True, False)
    )
    assert daily.endswith(render(f"marts/{table}", "redshift", is_incremental=True))
    assert full.endswith(render(f"marts/{table}", "redshift", is_incremental=False))


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("table", MARTS)
def test_publishing_deletes_every_row_or_exactly_the_changed_keys(table, dialect) -> None:
    full = sqlglot.parse_one(
        render("publish/mart_replaced", dialect, table=table, is_incremental=False), read=dialect
    )
    daily = sqlglot.parse_one(
        render("publish/mart_replaced", dialect, table=table, is_incremental=True), read=dialect
    )
    for delete in (full, daily):
        assert isinstance(delete, exp.Delete) and _name(delete.this) == table
    assert full.args.get("where") is None
    (semi_join,) = _semi_joins(daily)
    assert semi_join.parent is daily.args["where"]
    subquery = semi_join.args["query"]
    inner = subquery.this if isinstance(subquery, exp.Subquery) else subquery
    (selected,) = inner.expressions
    (changed,) = [_name(t) for t in inner.find_all(exp.Table)]
    assert (semi_join.this.name, selected.name, changed) == (REPLACED[table][0], *REPLACED[table])


def test_a_table_outside_the_changed_keys_renders_no_delete() -> None:
    with pytest.raises(UnknownIdentifier):  # only a mart is one of the template's tables
        render("publish/mart_replaced", "redshift", table="quarantine", is_incremental=True)
