"""Stage the lake: parse every log line and song file in the warehouse, quarantine the rest.

Python only moves bytes (files read concurrently, streamed in Arrow batches). Clean pieces of
the lake are parsed on the fast path, by Arrow's typed JSON reader in the reading threads
(`tasks.records.typed`); the rest is cut into records and parsed by set-based SQL (the
per-record path). Typing, text repair and rejection are the same SQL for both
(`sql/parse/parsed.duckdb.sql.j2`), run in the worker's DuckDB (the warehouse itself, or a
scratch file loaded into Redshift). Staged rows land in the `*_incoming` tables and stay
invisible to analysts until the run publishes.
"""

from __future__ import annotations

import math
import time
from datetime import date
from functools import partial
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.common.errors import RejectedShareExceeded
from tasks.common.results import StageResult
from tasks.common.retry import WAREHOUSE_TASK
from tasks.common.run_log import run_logger
from tasks.common.run_spec import RunSpec
from tasks.common.stopping import raise_if_stopping
from tasks.lake import open_lake
from tasks.lake.files import Lake, LakeFile
from tasks.lake.json_stream import split_values
from tasks.lake.listing import (
    COMPRESSED_SUFFIXES,
    Listing,
    list_logs,
    list_songs,
    log_file_day,
    require_log_files,
)
from tasks.lake.reading import Batch, read_batches
from tasks.model.tables import BY_KIND_INCOMING, KINDS
from tasks.records import typed
from tasks.records.fields import COMPRESSION_RATIO, TYPICAL_RECORD_BYTES
from tasks.records.sql import render_staging
from tasks.reporting.progress import StagingProgress
from tasks.warehouse.base import Session
from tasks.warehouse.connect import adapter_for, connect
from tasks.warehouse.duckdb.session import DuckDBSession

SKIPPED_LISTED = 1000
# Macros the staging SQL calls, each after those it calls.
MACROS = (
    "json_kind",
    "json_text",
    "json_doc_type",
    "drop_nul",
    "rtrim_blanks",
    "field_text",
    "field_problem",
    "repair_text",
    "unquote",
)


@task(
    name="stage events",
    task_run_name="stage events {run.partition_label}",
    **WAREHOUSE_TASK,
)
def stage_events(run: RunSpec) -> StageResult:
    """Stage the run's log files (one day's partition, or all of them)."""
    lake = open_lake(run.lake)
    listing = list_logs(lake, run.day)
    require_log_files(lake, run.day, listing.files)
    gone = gone_files(_loaded_files(run, "events"), listing, run.day, "events")
    return _stage("events", run, lake, listing, listing.files, gone)


@task(name="stage songs", task_run_name="stage songs", **WAREHOUSE_TASK)
def stage_songs(run: RunSpec) -> StageResult:
    """Stage every song file; a daily run reads only the new or changed ones."""
    lake = open_lake(run.lake)
    listing = list_songs(lake)
    if not listing.files:
        run_logger().warning("lake %s has no song files under song_data/", lake.uri)
    if run.day is None:
        return _stage("songs", run, lake, listing, listing.files)
    loaded = _loaded_files(run, "songs")
    changed = [f for f in listing.files if loaded.get(f.key) != f.etag]
    run_logger().info("%d of %d song files are new or changed", len(changed), len(listing.files))
    return _stage(
        "songs", run, lake, listing, changed, gone_files(loaded, listing, run.day, "songs")
    )


def check_rejected_share(results: list[StageResult], threshold: float) -> None:
    """Fail the run, before anything is published, if too much of the lake would be rejected."""
    for result in results:
        if result.rejected_share > threshold:
            total = result.lake_accepted + result.lake_rejected
            raise RejectedShareExceeded(
                f"{result.rejected_share:.2%} of the lake's {result.kind} records would be "
                f"rejected ({result.lake_rejected:,} of {total:,}; this run rejected "
                f"{result.rejected:,}), over the {threshold:.2%} threshold; see "
                "sparkify_staging.quarantine_incoming"
            )


@task(name="check rejected share", task_run_name="check rejected share", cache_policy=NO_CACHE)
def enforce_rejected_share(results: list[StageResult], threshold: float) -> None:
    """`check_rejected_share` as a step of its own, so a run that fails on the threshold shows
    the red step, and its reason, in the run's graph."""
    check_rejected_share(results, threshold)


def _loaded_files(run: RunSpec, kind: str) -> dict[str, str]:
    """The staged files of one kind and their versions; only a daily run needs them (a full
    load replaces every staged file)."""
    if run.day is None:
        return {}
    with connect(run.warehouse) as wh:
        return dict(wh.rows("staging/loaded_files", {"kind": kind}))


def gone_files(
    loaded: dict[str, str], listing: Listing, day: date | None, kind: str
) -> tuple[str, ...]:
    """Staged files a daily run replaces with nothing, so it ends as a full load would: files
    deleted from the lake, and (events) the other files of its day, as when a day is delivered
    again under another name (`2018-11-15-events-v2.json` replacing `…-events.json`)."""
    if day is None:
        return ()  # a full load replaces every staged file
    present = listing.every_key
    read = {f.key for f in listing.files}
    return tuple(
        key
        for key in loaded
        if key not in present or (kind == "events" and key not in read and log_file_day(key) == day)
    )


def _stage(
    kind: str,
    run: RunSpec,
    lake: Lake,
    listing: Listing,
    files: list[LakeFile],
    gone: tuple[str, ...] = (),
) -> StageResult:
    started = time.perf_counter()
    replace_all = run.day is None
    if gone:
        run_logger().info("%d staged %s files are replaced with nothing", len(gone), kind)
    clear = partial(_clear_incoming, kind=kind, replace_all=replace_all)
    # the adapter decides where the parse lands (the warehouse itself, or a scratch file on
    # the worker that the warehouse then loads) and loads it when the block ends
    with adapter_for(run.warehouse).staging(run, kind, clear) as scratch:
        extra = _parse_in_duckdb(scratch, kind, lake, files, gone, run.run_id)
    with connect(run.warehouse) as wh:  # the counts are the warehouse's, after the load
        result = _count(wh, kind, files, extra)
    result.skipped = [f.key for f in listing.skipped[:SKIPPED_LISTED]]
    result.skipped_count = len(listing.skipped)
    result.seconds = round(time.perf_counter() - started, 3)
    run_logger().info(
        "staged %s: %d files, %d accepted, %d rejected, %d objects skipped (not lake files)",
        kind,
        result.files,
        result.accepted,
        result.rejected,
        result.skipped_count,
    )
    return result


def _clear_incoming(wh: Session, *, kind: str, replace_all: bool) -> None:
    wh.run("staging/clear_incoming", kind=kind)
    for table in BY_KIND_INCOMING:
        wh.run("staging/clear_kind", {"kind": kind}, table=table)
    if replace_all:
        wh.run("staging/incoming_files_all", {"kind": kind})


def _parse_in_duckdb(
    wh: DuckDBSession,
    kind: str,
    lake: Lake,
    files: list[LakeFile],
    gone: tuple[str, ...],
    run_id: str,
) -> int:
    """Stream the files into the embedded warehouse and parse them there, batch by batch;
    returns how many records, beyond one each, the malformed stretches stand for. A cancelled
    run stops between batches (`tasks.common.stopping`)."""
    for macro in MACROS:
        wh.run(f"parse/{macro}")
    listing = pa.table(
        {
            "source_file": [f.key for f in files] + list(gone),
            "etag": [f.etag or None for f in files] + [None] * len(gone),
        },
        schema=pa.schema([("source_file", pa.string()), ("etag", pa.string())]),
    )
    wh.register("lake_files", listing)
    wh.run("parse/incoming_files", {"kind": kind})
    wh.unregister("lake_files")
    # both paths' queries make the same table (tests/unit/test_sql_files.py); the fast
    # path's plans in 0.02 s, the per-record path's in ~0.2 s
    wh.register("typed_batch", typed.typed_schema(kind).empty_table())
    wh.execute(
        render_staging("parsed", kind, typed=True, create=True),
        label=f"parse/parsed create ({kind})",
    )
    wh.unregister("typed_batch")
    progress = StagingProgress(kind, len(files))
    extra = 0
    fast_kind = kind if typed.enabled() else None
    for batch in read_batches(lake, files, by_line=kind == "events", fast_kind=fast_kind):
        raise_if_stopping(run_id, f"staging {kind}")
        with wh.transaction():
            extra += _stage_batch(wh, kind, batch)
        progress.advance(_files_begun(batch))
    return extra


def _files_begun(batch: Batch) -> int:
    """Files whose first piece (or whole text, or file-level error) is in the batch."""
    content = batch.content
    opening = pc.and_(
        pc.is_null(content.column("line_number")),
        pc.equal(pc.fill_null(content.column("first_line"), 1), 1),
    )
    keys = set(content.filter(opening).column("source_file").to_pylist())
    keys.update(key for p in batch.typed if p.first_line == 1 for key in p.files)
    return len(keys)


def _stage_batch(wh: DuckDBSession, kind: str, batch: Batch) -> int:
    content = batch.content
    wh.run("parse/clear_parsed")
    pieces = []
    if content.num_rows:  # the per-record path's query costs ~0.3 s to plan: only if needed
        wh.register("lake_batch", content)
        wh.execute(render_staging("parsed", kind), label=f"parse/parsed ({kind})")
        wh.unregister("lake_batch")
        pieces = wh.rows("parse/records_to_resplit")
    if pieces:  # only pieces with a line that is not one JSON value pay for the stream cut
        wh.register("split_records", _split_pieces(kind, content, set(pieces)))
        wh.run("parse/records_resplit")
        wh.execute(render_staging("parsed", kind, split=True), label=f"parse/split ({kind})")
        wh.unregister("split_records")
    if batch.typed:
        records = typed.concat(kind, batch.typed)
        wh.register("typed_batch", records)
        # the accepted records go straight to the incoming table; only a batch with rejected
        # records runs the query again, for those, into `parsed` (then the quarantine). Both
        # render only the rules that some value of the batch can break (tasks.records.guards)
        keep = typed.rules(batch.typed)
        accepted_sql = render_staging("parsed", kind, typed=True, rows="accepted", keep=keep)
        ((accepted,),) = wh.query(accepted_sql)
        if accepted < records.num_rows:
            rejected_sql = render_staging("parsed", kind, typed=True, rows="rejected", keep=keep)
            wh.execute(rejected_sql, label=f"parse/typed rejected ({kind})")
            _fill_rejected_text(wh, batch.typed)
        wh.unregister("typed_batch")
    wh.execute(render_staging("accepted", kind), label=f"parse/accepted ({kind})")
    wh.run("parse/rejected", {"kind": kind})
    ((extra,),) = wh.rows("parse/malformed_estimate", {"typical_bytes": TYPICAL_RECORD_BYTES[kind]})
    return int(extra)


# Records as their raw text, by piece and line: the per-record path's split records and the
# fast path's rejected ones.
RECORD_TEXT = pa.schema(
    [
        ("source_file", pa.string()),
        ("first_line", pa.int64()),
        ("line_number", pa.int64()),
        ("raw_text", pa.string()),
    ]
)


def _fill_rejected_text(wh: DuckDBSession, pieces: list[typed.TypedPiece]) -> None:
    """The raw text of the fast path's rejected records, taken from their pieces' bytes: the
    quarantine shows what the lake held, whichever path read it."""
    rejected = wh.rows("parse/typed_rejected")
    if not rejected:
        return
    by_piece: dict[tuple[str, int], list[int | None]] = {}
    for source_file, first_line, line_number in rejected:
        by_piece.setdefault((source_file, first_line), []).append(line_number)
    columns: dict[str, list[Any]] = {name: [] for name in RECORD_TEXT.names}
    for piece in pieces:
        for key in piece.files:
            numbers = by_piece.get((key, piece.first_line))
            if not numbers:
                continue
            for number, text in zip(numbers, typed.record_texts(piece, key, numbers), strict=True):
                columns["source_file"].append(key)
                columns["first_line"].append(piece.first_line)
                columns["line_number"].append(number)
                columns["raw_text"].append(text)
    wh.register("rejected_text", pa.Table.from_pydict(columns, schema=RECORD_TEXT))
    wh.run("parse/typed_rejected_text")
    wh.unregister("rejected_text")


def _split_pieces(kind: str, batch: pa.Table, pieces: set[tuple[str, int]]) -> pa.Table:
    """The pieces whose lines are not each one JSON value, cut as streams of JSON values. A song
    file of one record keeps no line number (the file is the record), as when it parses whole."""
    keys = pa.array(sorted({key for key, _ in pieces}), type=pa.string())
    candidates = batch.filter(
        pc.and_(pc.is_in(batch.column("source_file"), keys), pc.is_null(batch.column("read_error")))
    )
    columns: dict[str, list[Any]] = {name: [] for name in RECORD_TEXT.names}
    for row in candidates.select(["source_file", "first_line", "content"]).to_pylist():
        first = row["first_line"] or 1
        if (row["source_file"], first) not in pieces:
            continue
        values = split_values(row["content"] or "", first)
        single_song = kind == "songs" and len(values) == 1
        for line, text in values:
            columns["source_file"].append(row["source_file"])
            columns["first_line"].append(first)
            columns["line_number"].append(None if single_song else line)
            columns["raw_text"].append(text)
    return pa.Table.from_pydict(columns, schema=RECORD_TEXT)


def _count(wh: Session, kind: str, files: list[LakeFile], extra: int = 0) -> StageResult:
    """Counts of the run's records; `extra` is what malformed stretches stand for beyond one
    record each, and an unreadable file counts as the records it holds, not as one."""
    accepted = wh.count(f"sparkify_staging.{kind}_incoming")
    reasons = wh.rows("staging/rejected_by_reason", {"kind": kind})
    by_reason = {reason: count for reason, count in reasons}
    unreadable = wh.rows("staging/unreadable_files", {"kind": kind})
    sizes = {f.key: f.size for f in files}
    extra += sum(estimated_records(kind, key, sizes.get(key, 0), r) - 1 for key, r in unreadable)
    ((lake_accepted, lake_rejected),) = wh.rows("staging/lake_records", {"kind": kind})
    return StageResult(
        kind=kind,
        files=len(files),
        accepted=accepted,
        rejected=sum(by_reason.values()) + extra,
        seconds=0.0,
        rejected_by_reason=by_reason,
        lake_accepted=int(lake_accepted),
        lake_rejected=int(lake_rejected) + extra,
    )


def estimated_records(kind: str, key: str, size: int, reason: str) -> int:
    """How many records an unreadable file holds, from its size and a typical record's."""
    compressed = "compressed" in reason or key.lower().endswith(COMPRESSED_SUFFIXES)
    raw_bytes = size * (COMPRESSION_RATIO if compressed else 1)
    return max(1, math.ceil(raw_bytes / TYPICAL_RECORD_BYTES[kind]))


def discard_incoming(run: RunSpec) -> None:
    """Delete every row the run staged and has not published (a cancelled run's): the
    incoming rows of both kinds, their quarantine and their files, in one transaction."""
    with connect(run.warehouse) as wh, wh.transaction():
        for kind in KINDS:
            _clear_incoming(wh, kind=kind, replace_all=False)
