"""A cancelled run's staging stops at its next batch, and what it staged can be discarded."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

import tasks.stage
from tasks.common.stopping import RunStopped, forget, request_stop
from tasks.stage import discard_incoming, stage_events, stage_songs
from tests.factories import prepared_run

INCOMING = (
    "sparkify_staging.events_incoming",
    "sparkify_staging.songs_incoming",
    "sparkify_staging.quarantine_incoming",
    "sparkify_staging.incoming_files",
)


def counts(warehouse: Path, tables: tuple[str, ...]) -> dict[str, int]:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return {t: conn.execute(f"select count(*) from {t}").fetchone()[0] for t in tables}


def test_staging_stops_at_the_next_batch_and_its_rows_can_be_discarded(
    small_lake, tmp_path, monkeypatch
) -> None:
    run = prepared_run(small_lake, tmp_path / "w.duckdb")
    monkeypatch.setattr("tasks.lake.reading.BATCH_FILES", 10)  # many batches of song files
    real, batches = tasks.stage._stage_batch, []

    def stage_batch(wh, kind, batch):  # the cancel arrives while the second batch is staged
        batches.append(kind)
        if len(batches) == 2:
            request_stop(run.run_id)
        return real(wh, kind, batch)

    monkeypatch.setattr(tasks.stage, "_stage_batch", stage_batch)
    try:
        with pytest.raises(RunStopped, match="staging songs stopped before its next batch"):
            stage_songs.fn(run)
    finally:
        forget(run.run_id)
    assert len(batches) == 2  # the batch in progress finished; no third began
    staged = counts(run.warehouse.path, INCOMING)
    # two batches of 10 song files each, accepted or quarantined
    songs = (
        staged["sparkify_staging.songs_incoming"] + staged["sparkify_staging.quarantine_incoming"]
    )
    assert 0 < songs <= 20
    discard_incoming(run)
    assert set(counts(run.warehouse.path, INCOMING).values()) == {0}
    stage_events.fn(run)  # a run that is not stopping stages as before
    assert counts(run.warehouse.path, INCOMING)["sparkify_staging.events_incoming"] > 0
