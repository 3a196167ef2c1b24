"""What a daily run changes, so it rebuilds only those rows: its cost follows the new data.

A full load rebuilds every table from all of staging. A daily run stages one day's log files
(and the song files that are new or changed), then `scope_changes` records the keys those
staged rows touch (`sql/scope/`): users with a changed event, instants of changed plays (and of
plays a changed song may match), changed songs and artists.

The rest is said in SQL, where a reader of the model sees it: each mart's import CTE (and
sql/intermediate/next_songs.sql's) restricts its staging source to those keys under
`{% if is_incremental %}`; the checks look other tables up in their next state and publishing
deletes exactly those keys' rows (`sql/macros/incremental.sql.j2`,
`sql/publish/mart_replaced.sql`).

Restricting the source is exact, not an approximation: every mart's window functions and
grouping partition by its key (users by user_id, songs by song_id, artists by artist_id, read
from the songs of the changed artists), so a rebuilt key still sees all of its rows. Time and
songplays are rebuilt by instant: a play's id hashes its instant, so the events at the changed
instants hold every copy of each of their plays, and each such play is matched against every
song.
"""

from __future__ import annotations

import time

from prefect import task

from tasks.common.retry import WAREHOUSE_TASK
from tasks.common.run_spec import RunSpec
from tasks.warehouse.base import quote_table
from tasks.warehouse.connect import connect

SCOPE_STEPS = ("changed_users", "changed_play_times", "changed_songs", "changed_artists")


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
