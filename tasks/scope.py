"""What a daily run changes, so it rebuilds only those rows: its cost follows the new data.

A full load rebuilds every table from all of staging. A daily run stages one day's log files
(and the song files that are new or changed), then `scope_changes` records the keys those
staged rows touch: users with a changed event, instants of changed plays (and of plays a
changed song may match), changed songs and artists. Each mart is then built from its staging
source restricted to those keys, and publishing replaces exactly those keys' rows.

Restricting the source is exact, not an approximation: every mart's window functions and
grouping partition by its key (users by user_id, songs by song_id, artists by artist_id; a
play's id hashes its instant), so a rebuilt key still sees all of its rows.
"""

from __future__ import annotations

import time

import sqlglot
from prefect import task
from sqlglot import exp

from tasks.common.retry import WAREHOUSE_TASK
from tasks.common.run_spec import RunSpec
from tasks.common.sql_files import render
from tasks.warehouse.base import Session, quote_table
from tasks.warehouse.connect import connect

# table: (its key, the staging table that holds this run's changed keys)
CHANGED_KEYS = {
    "users": ("user_id", "sparkify_staging.changed_users"),
    "songs": ("song_id", "sparkify_staging.changed_songs"),
    "artists": ("artist_id", "sparkify_staging.changed_artists"),
    "time": ("start_time", "sparkify_staging.changed_play_times"),
    "songplays": ("start_time", "sparkify_staging.changed_play_times"),
}
SCOPE_STEPS = ("changed_users", "changed_play_times", "changed_songs", "changed_artists")

PLAYS_AT_CHANGED_TIMES = "sparkify_staging.plays_next_at_changed_times"
# mart: {the staging relation it reads: the same relation restricted to the changed keys}
SCOPED_SOURCES = {
    "users": {"sparkify_staging.events_next": "sparkify_staging.events_next_of_changed_users"},
    "songs": {"sparkify_staging.songs_next": "sparkify_staging.songs_next_of_changed_songs"},
    "artists": {"sparkify_staging.songs_next": "sparkify_staging.songs_next_of_changed_artists"},
    "time": {"sparkify_staging.plays_next": PLAYS_AT_CHANGED_TIMES},
    "songplays": {"sparkify_staging.plays_next": PLAYS_AT_CHANGED_TIMES},
}


@task(
    name="scope changes",
    task_run_name="scope changes {run.partition_label}",
    **WAREHOUSE_TASK,
)
def scope_changes(run: RunSpec) -> dict[str, int]:
    """Record the keys this run's staged rows touch; returns how many of each."""
    started = time.perf_counter()
    with connect(run.warehouse) as wh:
        with wh.transaction():
            for step in SCOPE_STEPS:
                wh.execute(f"delete from {quote_table(f'sparkify_staging.{step}')}", label=step)
                wh.run(f"scope/{step}")
        counts = {step: wh.count(f"sparkify_staging.{step}") for step in SCOPE_STEPS}
    counts["seconds"] = round(time.perf_counter() - started, 3)  # type: ignore[assignment]
    return counts


def plays_at_changed_times_view(dialect: str) -> str:
    """plays_next's definition over the events at changed instants (one definition of a play)."""
    return replace_relations(
        render("intermediate/plays_next", dialect),
        dialect,
        {
            "sparkify_staging.plays_next": PLAYS_AT_CHANGED_TIMES,
            "sparkify_staging.events_next": "sparkify_staging.events_next_at_changed_times",
        },
    )


def scoped_mart(table: str, dialect: str) -> str:
    """The mart's SELECT reading only the changed keys' rows."""
    return replace_relations(render(f"marts/{table}", dialect), dialect, SCOPED_SOURCES[table])


def next_state(table: str) -> str:
    """A query for the table as it will be once this run publishes: the published rows of
    unchanged keys plus the rebuilt ones (for checks that look rows up in another table)."""
    key, changed = CHANGED_KEYS[table]
    published, build = quote_table(table), quote_table(f"sparkify_build.{table}")
    return (
        f"select * from {published} where {key} not in "
        f"(select {key} from {quote_table(changed)}) union all select * from {build}"
    )


def delete_changed(wh: Session, table: str) -> None:
    """Delete the published rows of the keys this run rebuilt (publishing inserts them back)."""
    key, changed = CHANGED_KEYS[table]
    wh.execute(
        f"delete from {quote_table(table)} where {key} in "
        f"(select {key} from {quote_table(changed)})",
        label=f"publish {table}: delete changed",
    )


def replace_relations(sql: str, dialect: str, replacements: dict[str, str]) -> str:
    """`sql` with each named table swapped for another table, or for a query (a subquery that
    keeps the original name as its alias, so column references still resolve)."""
    tree = sqlglot.parse_one(sql, read=dialect)

    def swap(node: exp.Expression) -> exp.Expression:
        if not isinstance(node, exp.Table):
            return node
        name = ".".join(part for part in (node.db, node.name) if part)
        if name not in replacements:
            return node
        target = replacements[name]
        alias = node.alias or node.name
        if target.lstrip().lower().startswith("select"):
            return exp.Subquery(
                this=sqlglot.parse_one(target, read=dialect), alias=exp.TableAlias(this=alias)
            )
        schema, _, table = target.rpartition(".")
        swapped = exp.table_(table, db=schema or None)
        if node.alias:
            swapped.set("alias", exp.TableAlias(this=exp.to_identifier(node.alias)))
        return swapped

    return tree.transform(swap).sql(dialect=dialect, pretty=True)
