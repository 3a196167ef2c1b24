"""Stage on Redshift: validate once on the worker, load the cluster from Parquet.

The worker stages the lake exactly as it does for DuckDB (one definition of a record: parsing,
conversions, text repair, quarantine, file and line provenance) into a scratch DuckDB file,
then writes each staged table as compressed Parquet parts under the block's `staging_uri`,
with a manifest, and the cluster loads them with one `COPY … FORMAT AS PARQUET` per table in
the staging task's transaction. So both warehouses hold the same staged rows, and Redshift
never parses JSON: no JSONPaths file, no MAXERROR arithmetic, no load-error tables, no UDF.
This is how dlt and other loaders feed Redshift.

AWS: "COPY from columnar data formats"
https://docs.aws.amazon.com/redshift/latest/dg/copy-usage_notes-copy-from-columnar.html
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import BotoCoreError, ClientError

from tasks.common.errors import EtlError, first_line
from tasks.common.run_log import run_logger
from tasks.common.run_spec import RunSpec
from tasks.lake.s3 import s3_client, s3_errors
from tasks.model.ddl import ddl_for
from tasks.records.fields import COMPRESSION_RATIO, TYPICAL_RECORD_BYTES
from tasks.warehouse.base import Session, quote_table
from tasks.warehouse.duckdb.session import DuckDBSession, open_session
from tasks.warehouse.redshift.block import load_settings
from tasks.warehouse.redshift.copy_sql import (
    STAGED_TABLES,
    check_copy_settings,
    copy_statement,
    manifest,
)
from tasks.warehouse.redshift.session import driver_message
from tasks.warehouse.target import WarehouseTarget

# The scratch warehouse needs the tables a run stages, and what they are created from.
SCRATCH_TABLES = tuple(f"sparkify_staging.{table}" for table in STAGED_TABLES)
# AWS ("Loading data files"): files of about equal size, 1 MB to 1 GB after compression, their
# number a multiple of the cluster's slices, so every slice loads its share in parallel.
# https://docs.aws.amazon.com/redshift/latest/dg/c_best-practices-use-multiple-files.html
PART_BYTES = 128 * 1024 * 1024
MIN_PART_BYTES = 1024 * 1024
BATCH_ROWS = 100_000
CODEC = "snappy"  # the codec every Parquet reader (and COPY) takes; see docs/redshift.md


class CopyFailed(EtlError):
    """Redshift refused a COPY of the staged parts (the role cannot read them, the bucket is in
    another region, a part does not fit the table): one line, not retried; the load's
    transaction rolls back, so nothing of the run is staged."""


@dataclass(frozen=True)
class CopySettings:
    """What the load needs from the warehouse block: the role COPY assumes, where the parts go,
    and how many slices share the load (None: asked of the cluster)."""

    iam_role: str
    staging_uri: str
    slices: int | None


def copy_settings(target: WarehouseTarget) -> CopySettings:
    """The block's COPY settings, refused before anything is read if one is missing or unsafe."""
    settings = load_settings(target)
    if not (settings.copy_iam_role and settings.staging_uri):
        raise EtlError("the Redshift warehouse block needs copy_iam_role and staging_uri for COPY")
    # COPY takes no bind parameters: refuse a malformed setting before anything is written
    check_copy_settings(settings.copy_iam_role, settings.staging_uri)
    return CopySettings(settings.copy_iam_role, settings.staging_uri, settings.copy_slices)


@contextmanager
def scratch_warehouse() -> Iterator[DuckDBSession]:
    """A DuckDB file in a temporary directory with the staging tables: the worker's staging
    area for a Redshift run (bounded memory, spilling to disk), deleted when the task ends."""
    with tempfile.TemporaryDirectory(prefix="sparkify-staging-") as directory:
        target = WarehouseTarget(path=str(Path(directory) / "staging.duckdb"))
        with open_session(target) as scratch:
            with scratch.transaction():
                for statement in ddl_for(SCRATCH_TABLES):
                    scratch.run(statement.name, None, **statement.variables)
            yield scratch


class StagingArea:
    """The run's folder under the staging URI: `<prefix>/runs/<run_id>/<kind>/`."""

    def __init__(self, client: Any, staging_uri: str, run_id: str, kind: str) -> None:
        bucket, _, prefix = staging_uri.removeprefix("s3://").partition("/")
        self.client, self.bucket = client, bucket
        self.prefix = "/".join(p for p in (prefix.strip("/"), "runs", run_id, kind) if p)

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}/"

    def upload(self, name: str, path: Path) -> tuple[str, int]:
        """Upload a local file (multipart when large); its URL and size in bytes."""
        key = f"{self.prefix}/{name}"
        with s3_errors(self.client, self.bucket, key):
            try:
                self.client.upload_file(str(path), self.bucket, key)
            except S3UploadFailedError as exc:  # boto3's transfer wraps the request's error
                cause = exc.__cause__ or exc.__context__
                if isinstance(cause, ClientError | BotoCoreError):
                    raise cause from None
                raise
        return f"s3://{self.bucket}/{key}", path.stat().st_size

    def put_json(self, name: str, value: Any) -> str:
        key = f"{self.prefix}/{name}"
        with s3_errors(self.client, self.bucket, key):
            self.client.put_object(Bucket=self.bucket, Key=key, Body=json.dumps(value).encode())
        return f"s3://{self.bucket}/{key}"

    def clear(self) -> None:
        """Delete the folder's objects (best effort: a lifecycle rule on the staging prefix
        removes whatever a failed run leaves)."""
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=f"{self.prefix}/"):
            keys = [{"Key": obj["Key"]} for obj in page.get("Contents", [])]
            if keys:
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys})


def load_into_redshift(
    wh: Session,
    scratch: DuckDBSession,
    kind: str,
    run: RunSpec,
    settings: CopySettings,
    clear: Callable[[Session], None],
) -> None:
    """Write the scratch warehouse's staged tables as Parquet parts, then, in one transaction,
    `clear` the cluster's incoming rows of this kind and COPY every table's parts."""
    area = StagingArea(s3_client(run.lake), settings.staging_uri, run.run_id, kind)
    columns = staged_columns(wh)
    slices = settings.slices or cluster_slices(wh)
    manifests: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="sparkify-parts-") as directory:
        for table in STAGED_TABLES:
            rows = scratch.count(f"sparkify_staging.{table}")
            if rows == 0:
                continue
            count = part_count(rows * TYPICAL_RECORD_BYTES[kind] // COMPRESSION_RATIO, slices)
            parts = write_parts(scratch, table, columns[table], Path(directory), count)
            uploaded = []
            for path in parts:
                uploaded.append(area.upload(f"{table}/{path.name}", path))
                path.unlink()  # the disk holds one table's parts at most
            manifests[table] = area.put_json(f"{table}.manifest", manifest(uploaded))
    copy_manifests(wh, manifests, settings.iam_role, clear)
    run_logger().info("loaded %s into Redshift from %s", ", ".join(manifests) or "nothing", area)
    try:
        area.clear()
    except Exception as exc:  # the load committed; leftover parts only cost storage
        run_logger().warning("could not delete the staged parts: %s", first_line(exc))


def copy_manifests(
    wh: Session, manifests: dict[str, str], iam_role: str, clear: Callable[[Session], None]
) -> None:
    """In one transaction, `clear` the cluster's incoming rows of the kind and COPY each staged
    table from its manifest: the run's staging appears whole or not at all."""
    with wh.transaction():
        clear(wh)
        for table, manifest_uri in manifests.items():
            values = {"manifest_uri": manifest_uri, "iam_role": iam_role}
            try:
                wh.execute(copy_statement(table, values), label=f"copy {table}")
            except Exception as exc:
                if isinstance(exc, ConnectionError):  # a lost session: the task retries
                    raise
                reason = driver_message(exc)
                raise CopyFailed(
                    f"COPY into sparkify_staging.{table} from {manifest_uri} failed: {reason}"
                ) from exc


def staged_columns(wh: Session) -> dict[str, list[str]]:
    """Each staged table's columns in the cluster's order: COPY loads Parquet by position, so
    the parts must hold exactly these columns in this order (an older warehouse migrated with
    ADD COLUMN may order them differently from the DDL)."""
    columns: dict[str, list[str]] = {table: [] for table in STAGED_TABLES}
    for table, column in wh.rows("staging/staging_columns"):
        if table in columns:
            columns[table].append(column)
    return columns


def cluster_slices(wh: Session) -> int:
    """The cluster's slice count (STV_SLICES); Serverless has no fixed slices, so 1, which
    sizes parts by bytes alone. Set the block's `copy_slices` to skip the query."""
    try:
        return max(1, int(wh.scalar("select count(*) from stv_slices")))
    except Exception as exc:
        if isinstance(exc, ConnectionError):
            raise
        run_logger().info("no slice count from stv_slices (%s); parts sized by bytes", exc)
        return 1


def part_count(estimated_bytes: int, slices: int) -> int:
    """How many parts: about PART_BYTES each, a multiple of the slices, none under 1 MB."""
    by_size = max(1, math.ceil(estimated_bytes / PART_BYTES))
    rounded = slices * math.ceil(by_size / slices)
    return max(1, min(rounded, estimated_bytes // MIN_PART_BYTES))


def write_parts(
    scratch: DuckDBSession,
    table: str,
    columns: list[str],
    directory: Path,
    count: int,
    batch_rows: int = BATCH_ROWS,
) -> list[Path]:
    """Stream the table's rows, `columns` in order, into up to `count` Parquet files dealt
    batch by batch (so they come out about equal); memory holds one batch."""
    missing = set(columns) - set(scratch.column_names(f"sparkify_staging.{table}"))
    if missing or not columns:
        raise EtlError(
            f"sparkify_staging.{table} on Redshift has columns the worker does not stage: "
            f"{', '.join(sorted(missing)) or '(none found)'}"
        )
    select = ", ".join(f'"{column}"' for column in columns)
    reader = scratch.record_batches(
        f"select {select} from {quote_table(f'sparkify_staging.{table}')}", batch_rows
    )
    paths = [directory / f"part-{number:05d}.parquet" for number in range(count)]
    writers: list[pq.ParquetWriter | None] = [None] * count
    try:
        for index, batch in enumerate(reader):
            slot = index % count
            writer = writers[slot]
            if writer is None:
                writer = pq.ParquetWriter(paths[slot], batch.schema, compression=CODEC)
                writers[slot] = writer
            writer.write_batch(batch)
    except BaseException:
        for writer in writers:
            if writer is not None:
                with suppress(Exception):
                    writer.close()
        raise
    for writer in writers:
        if writer is not None:
            writer.close()  # writes the footer: a part is complete only after this
    return [path for path, writer in zip(paths, writers, strict=True) if writer is not None]
