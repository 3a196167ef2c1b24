"""The Redshift warehouse without a server: its COPY statements (pinned, AWS's Parquet options
only, no hostile literal), manifests, the Parquet parts written from the worker's DuckDB staging,
the block's driver arguments, and the one-line errors of an unreachable endpoint and a refused
COPY. Its code path through the real driver, on the PostgreSQL rig, is
tests/rigs/test_redshift_warehouse.py."""

from __future__ import annotations

import re

import pyarrow.parquet as pq
import pytest
import redshift_connector
import sqlglot

from tasks.common.errors import EtlError
from tasks.common.retry import is_transient
from tasks.stage import stage_events
from tasks.warehouse.base import Session
from tasks.warehouse.connect import connect
from tasks.warehouse.redshift.block import RedshiftWarehouse
from tasks.warehouse.redshift.copy_sql import STAGED_TABLES, UnsafeLiteral, copy_statement, manifest
from tasks.warehouse.redshift.parquet import CopyFailed, copy_manifests, part_count, write_parts
from tasks.warehouse.redshift.session import WarehouseUnavailable
from tasks.warehouse.target import WarehouseTarget
from tests.factories import prepared_run
from tests.parquet_copy import statement_body
from tests.redshift_rig import RIG_ADAPTER
from tests.s3_server import free_port

ROLE = "arn:aws:iam::123456789012:role/sparkify-copy"
COPY_VALUES = {
    "manifest_uri": "s3://sparkify-staging/etl/runs/r1/events/events_incoming.manifest",
    "iam_role": ROLE,
}
# AWS, "COPY from columnar data formats": the only parameters COPY takes with Parquet.
# https://docs.aws.amazon.com/redshift/latest/dg/copy-usage_notes-copy-from-columnar.html
COLUMNAR_ALLOWED = {"from", "iam_role", "credentials", "format", "as", "parquet", "manifest",
                    "acceptinvchars", "fillrecord", "statupdate", "explicit_ids"}  # fmt: skip


def test_the_copy_is_pinned_and_parses_as_redshift() -> None:
    text = copy_statement("events_incoming", COPY_VALUES)
    assert statement_body(text).splitlines() == [
        "copy sparkify_staging.events_incoming",
        "from 's3://sparkify-staging/etl/runs/r1/events/events_incoming.manifest'",
        "iam_role 'arn:aws:iam::123456789012:role/sparkify-copy'",
        "format as parquet",
        "manifest",
    ]
    assert sqlglot.parse_one(text, read="redshift") is not None


@pytest.mark.parametrize("table", STAGED_TABLES)
def test_every_copy_uses_only_options_aws_allows_for_parquet(table) -> None:
    body = statement_body(copy_statement(table, COPY_VALUES))
    words = re.sub(r"'[^']*'", "", body).split()
    assert words[:2] == ["copy", f"sparkify_staging.{table}"]
    assert set(words[2:]) <= COLUMNAR_ALLOWED, set(words[2:]) - COLUMNAR_ALLOWED
    assert "maxerror" not in body and "region" not in body


@pytest.mark.parametrize(
    ("key", "hostile"),
    [
        ("manifest_uri", "s3://bucket/x'; drop table users; --"),
        ("manifest_uri", "https://evil.example/manifest"),
        ("iam_role", "arn:aws:iam::123456789012:role/x' credentials 'aws_access_key_id=AKIA"),
        ("iam_role", 12),
    ],
)
def test_hostile_values_never_reach_a_copy_statement(key, hostile) -> None:
    with pytest.raises(UnsafeLiteral):
        copy_statement("events_incoming", {**COPY_VALUES, key: hostile})


def test_only_staged_tables_are_copied() -> None:
    with pytest.raises(UnsafeLiteral):
        copy_statement("users; drop table songs", COPY_VALUES)


def test_manifests_name_exact_parts_with_their_sizes() -> None:
    assert manifest([("s3://b/p/part-00000.parquet", 1234)]) == {
        "entries": [{"url": "s3://b/p/part-00000.parquet", "mandatory": True,
                     "meta": {"content_length": 1234}}]
    }  # fmt: skip


MB = 1024 * 1024


@pytest.mark.parametrize(
    ("estimated", "slices", "expected"),
    [
        (0, 4, 1),  # a handful of rows: one part
        (3 * MB, 4, 3),  # never a part under 1 MB
        (10 * MB, 4, 4),  # a multiple of the slices once every slice can get 1 MB
        (130 * MB, 1, 2),  # about 128 MB each
        (1000 * MB, 16, 16),
        (5000 * MB, 16, 48),  # 40 parts by size, rounded up to a multiple of 16
    ],
)
def test_parts_are_sized_and_counted_for_the_slices(estimated, slices, expected) -> None:
    assert part_count(estimated, slices) == expected


def test_parts_hold_every_staged_row_in_the_requested_column_order(small_lake, tmp_path) -> None:
    run = prepared_run(small_lake, tmp_path / "w.duckdb")
    stage_events.fn(run)
    with connect(run.warehouse) as wh:
        table = "sparkify_staging.events_incoming"
        columns = list(reversed(wh.column_names(table)))  # any order the cluster has
        expected = sorted(wh.query(f"select {', '.join(columns)} from {table}"), key=repr)
        parts = write_parts(wh, "events_incoming", columns, tmp_path, 3, batch_rows=500)
    tables = [pq.read_table(path) for path in parts]
    assert len(parts) == 3 and all(t.column_names == columns for t in tables)
    counts = [t.num_rows for t in tables]
    assert max(counts) - min(counts) <= 2048  # dealt batch by batch (DuckDB's vector size)
    rows = [tuple(r.values()) for t in tables for r in t.to_pylist()]
    assert sorted(rows, key=repr) == expected


def test_a_column_the_worker_does_not_stage_is_a_one_line_error(small_lake, tmp_path) -> None:
    run = prepared_run(small_lake, tmp_path / "w.duckdb")
    with connect(run.warehouse) as wh, pytest.raises(EtlError, match="does not stage: added"):
        write_parts(wh, "events_incoming", ["artist", "added"], tmp_path, 1)


def test_block_settings_build_driver_arguments_without_leaking_the_password() -> None:
    block = RedshiftWarehouse(host="h", user="u", password="s3cret", ssl=False)
    assert block.connect_kwargs()["password"] == "s3cret"
    assert "s3cret" not in repr(block) and "s3cret" not in str(block.model_dump())


def test_an_unreachable_warehouse_is_transient(monkeypatch) -> None:
    monkeypatch.setenv("SPARKIFY_REDSHIFT_HOST", "127.0.0.1")
    monkeypatch.setenv("SPARKIFY_REDSHIFT_PORT", str(free_port()))
    monkeypatch.setenv("SPARKIFY_REDSHIFT_SSL", "false")
    target = WarehouseTarget(adapter=RIG_ADAPTER, block="env")
    expected = r"^cannot reach Redshift at 127\.0\.0\.1:"
    with pytest.raises(WarehouseUnavailable, match=expected), connect(target):
        pass


class RefusingSession(Session):
    """A session whose COPY Redshift refuses, as a cluster whose role cannot read the parts."""

    def __init__(self) -> None:
        super().__init__(conn=None, dialect="redshift")
        self.sent: list[str] = []

    def _execute(self, sql, params) -> None:
        self.sent.append(statement_body(sql).splitlines()[0])
        if sql.lstrip().startswith("--") and "\ncopy " in sql:
            raise redshift_connector.ProgrammingError(
                {
                    "S": "ERROR",
                    "C": "XX000",
                    "M": "S3ServiceException:Access Denied,Status 403",
                    "D": "error: S3ServiceException:Access Denied",
                }
            )


def test_a_refused_copy_is_one_line_naming_table_and_manifest_and_rolls_back() -> None:
    session = RefusingSession()
    manifests = {"events_incoming": COPY_VALUES["manifest_uri"]}
    with pytest.raises(CopyFailed) as raised:
        copy_manifests(session, manifests, ROLE, lambda wh: wh.execute("delete from x"))
    message = str(raised.value)
    assert message == (
        "COPY into sparkify_staging.events_incoming from "
        f"{COPY_VALUES['manifest_uri']} failed: S3ServiceException:Access Denied,Status 403"
    )
    assert not is_transient(raised.value)
    assert session.sent[-1] == "rollback"  # the clear is undone with it
