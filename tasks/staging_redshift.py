"""Stage on Redshift: the warehouse COPYs the lake from S3 itself, driven by files this run
writes under the block's `staging_uri` (manifests, the JSONPaths file, compacted songs).

    events  one COPY per log file (FORMAT AS JSON with the JSONPaths file), so every row keeps
            its source file; then text repair and the file name in one INSERT … SELECT
    songs   compacted into a few large NDJSON parts, one COPY (JSON 'auto') from their manifest
    errors  after each COPY, sys_load_error_detail's rows become quarantine records
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from tasks.errors import EtlError
from tasks.lake import Lake, LakeFile
from tasks.lake_s3 import s3_errors
from tasks.redshift import load_settings
from tasks.redshift_copy import (
    EVENT_JSONPATHS,
    check_copy_settings,
    check_threshold,
    compact_songs,
    copy_statement,
    manifest,
    max_errors,
    reject,
)
from tasks.run_spec import RunSpec
from tasks.warehouse import Session

URI_KINDS = {
    "manifest_uri": "uri",
    "jsonpaths_uri": "uri",
    "files_uri": "uri",
    "rejects_uri": "uri",
    "iam_role": "role",
    "region": "region",
}


class StagingArea:
    """The run's folder under the staging URI, written with the lake's S3 client."""

    def __init__(self, lake: Any, staging_uri: str, run_id: str) -> None:
        bucket, _, prefix = staging_uri.removeprefix("s3://").partition("/")
        self.client, self.bucket = lake.client, bucket
        self.prefix = "/".join(p for p in (prefix.strip("/"), "runs", run_id) if p)

    def put(self, name: str, body: bytes) -> str:
        key = f"{self.prefix}/{name}"
        with s3_errors(self.client, self.bucket, key):
            self.client.put_object(Bucket=self.bucket, Key=key, Body=body)
        return f"s3://{self.bucket}/{key}"

    def put_json(self, name: str, value: Any) -> str:
        return self.put(name, json.dumps(value, ensure_ascii=False).encode())


def stage_with_copy(
    wh: Session,
    kind: str,
    run: RunSpec,
    lake: Lake,
    files: list[LakeFile],
    run_id: str,
    gone: tuple[str, ...] = (),
) -> None:
    """COPY the run's files into the incoming tables (inside the caller's transaction).

    Objects the listing flagged are quarantined, never COPYed; `gone` names staged files
    this run replaces with nothing (deleted from the lake, or a day delivered again).
    """
    if not hasattr(lake, "bucket"):
        raise EtlError("Redshift loads the lake with COPY from S3: --source must be s3://…")
    settings = load_settings(run.warehouse)
    if not (settings.copy_iam_role and settings.staging_uri and settings.region):
        raise EtlError(
            "the Redshift warehouse block needs copy_iam_role, region and staging_uri for COPY"
        )
    # COPY takes no bind parameters: refuse a malformed setting before anything is written
    check_copy_settings(settings.copy_iam_role, settings.region, settings.staging_uri)
    check_threshold(run.max_rejected_share)
    area = StagingArea(lake, settings.staging_uri, run_id)
    base = {"iam_role": settings.copy_iam_role, "region": settings.region}
    errors = "staging/copy_errors_serverless" if settings.serverless else "staging/copy_errors"
    files_csv = io.StringIO()
    csv.writer(files_csv).writerows((kind, f.key, f.etag or None) for f in files)
    csv.writer(files_csv).writerows((kind, key, None) for key in gone)
    files_uri = area.put(f"{kind}-files.csv", files_csv.getvalue().encode())
    _copy(wh, "staging/copy_incoming_files", {**base, "files_uri": files_uri})
    flagged = [reject(kind, f.key, f.problem, None) for f in files if f.problem]
    loadable = [f for f in files if not f.problem]
    if kind == "events":
        _copy_rejects(wh, area, base, kind, flagged)
        _copy_events(wh, area, base, errors, run, lake, loadable)
    else:
        _copy_songs(wh, area, base, errors, run, lake, loadable, flagged)


def _copy_events(wh, area, base, errors, run: RunSpec, lake: Any, files: list[LakeFile]) -> None:
    jsonpaths_uri = area.put_json("log_json_path.json", EVENT_JSONPATHS)
    for number, f in enumerate(files):
        manifest_uri = area.put_json(
            f"events-{number:05d}.manifest", manifest(lake.bucket, lake.prefix, [f])
        )
        values = {**base, "manifest_uri": manifest_uri, "jsonpaths_uri": jsonpaths_uri,
                  "max_errors": max_errors(run.max_rejected_share, [f])}  # fmt: skip
        _copy(wh, "staging/copy_events", values)
        wh.run(errors, {"kind": "events", "source_file": f.key})
        wh.run("staging/events_copy_rejected", {"source_file": f.key})
        wh.run("staging/events_from_copy", {"source_file": f.key})
        wh.run("staging/clear_events_copy")


def _copy_songs(wh, area, base, errors, run, lake, files, flagged) -> None:
    entries: list[dict[str, Any]] = []

    def upload(part: bytes) -> None:
        entries.append({"url": area.put(f"songs-{len(entries):05d}.json", part), "mandatory": True})

    rejects = compact_songs(lake, files, upload)
    _copy_rejects(wh, area, base, "songs", flagged + rejects)
    if not entries:
        return
    manifest_uri = area.put_json("songs.manifest", {"entries": entries})
    values = {**base, "manifest_uri": manifest_uri,
              "max_errors": max(1, int(run.max_rejected_share * len(files)))}  # fmt: skip
    _copy(wh, "staging/copy_songs", values)
    wh.run(errors, {"kind": "songs", "source_file": None})


def _copy_rejects(wh, area, base, kind: str, rejects: list[dict[str, Any]]) -> None:
    """Quarantine records found before COPY (flagged objects, unparseable song files)."""
    if rejects:
        lines = "\n".join(json.dumps(r, ensure_ascii=False) for r in rejects).encode()
        uri = area.put(f"{kind}-rejects.json", lines)
        _copy(wh, "staging/copy_quarantine", {**base, "rejects_uri": uri})


def _copy(wh: Session, name: str, values: dict[str, Any]) -> None:
    wh.execute(copy_statement(name, values, URI_KINDS), label=name)
