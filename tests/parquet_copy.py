"""What the PostgreSQL rig cannot do itself: Redshift's `COPY … FORMAT AS PARQUET MANIFEST`.

`emulate_parquet_copy` makes the rig's sessions carry out each COPY the ETL sends as AWS
documents it, reading the real manifest and parts from the S3 server the run wrote them to:

- the statement is exactly FROM, IAM_ROLE, FORMAT AS PARQUET, MANIFEST (options outside AWS's
  allow-list for columnar formats fail here, as on Redshift);
- every manifest entry is mandatory and its `meta.content_length` is the object's size (AWS:
  required for Parquet manifests);
- columns load by position, and the part must have exactly the table's column count;
- each Parquet type must map to the column's type (INT32 -> INTEGER, INT64 -> BIGINT,
  DOUBLE -> DOUBLE PRECISION, UTF8 string -> VARCHAR); an over-long string fails on the rig's
  byte-checked VARCHAR as on Redshift.

Only the loading itself is stood in for (a multi-row INSERT in the COPY's transaction).
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tasks.warehouse.redshift.session import RedshiftSession

COPY = re.compile(
    r"copy (?P<table>sparkify_staging\.[a-z_]+)\n"
    r"from '(?P<manifest>s3://[^']+)'\n"
    r"iam_role '(?P<role>arn:aws:iam::\d{12}:role/[^']+)'\n"
    r"format as parquet\n"
    r"manifest\n?"
)
# Parquet (as Arrow reads it) -> the Redshift column type it loads into.
TYPE_MAP = {
    pa.int32(): "integer",
    pa.int64(): "bigint",
    pa.float64(): "double precision",
    pa.string(): "character varying",
}
ROWS_PER_INSERT = 500


class CopyRefused(AssertionError):
    """The COPY would fail on Redshift: a bad option, manifest, column count or type."""


def statement_body(sql: str) -> str:
    """The statement without its leading comment lines."""
    lines = sql.splitlines()
    while lines and lines[0].lstrip().startswith("--"):
        lines.pop(0)
    return "\n".join(lines)


def _column_types(session: RedshiftSession, table: str) -> list[tuple[str, str]]:
    schema, name = table.split(".")
    return [
        (column, kind)
        for column, kind in session.query(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = %(schema)s and table_name = %(name)s order by ordinal_position",
            {"schema": schema, "name": name},
        )
    ]


def _parts(client: Any, manifest_uri: str) -> Iterator[pa.Table]:
    bucket, _, key = manifest_uri.removeprefix("s3://").partition("/")
    entries = json.loads(client.get_object(Bucket=bucket, Key=key)["Body"].read())["entries"]
    if not entries:
        raise CopyRefused(f"{manifest_uri} names no files")
    for entry in entries:
        part_bucket, _, part_key = entry["url"].removeprefix("s3://").partition("/")
        body = client.get_object(Bucket=part_bucket, Key=part_key)["Body"].read()
        if entry.get("mandatory") is not True:
            raise CopyRefused(f"{entry['url']} is not mandatory")
        if entry.get("meta", {}).get("content_length") != len(body):
            raise CopyRefused(f"{entry['url']}: content_length is not the object's size")
        yield pq.read_table(io.BytesIO(body))


def carry_out(session: RedshiftSession, sql: str, client: Any) -> None:
    """Load the parts a Parquet COPY names into its table, by position, as Redshift would."""
    match = COPY.fullmatch(statement_body(sql))
    if match is None:
        raise CopyRefused(f"not a COPY Redshift accepts for Parquet:\n{sql}")
    table = match["table"]
    columns = _column_types(session, table)
    for part in _parts(client, match["manifest"]):
        if part.num_columns != len(columns):
            raise CopyRefused(
                f"{table}: {part.num_columns} columns in a part, table has {len(columns)}"
            )
        for field, (column, kind) in zip(part.schema, columns, strict=True):
            if TYPE_MAP.get(field.type) != kind:
                raise CopyRefused(
                    f"{table}.{column} is {kind}; the part's {field.name} is {field.type}"
                )
        rows = [tuple(row.values()) for row in part.to_pylist()]
        for start in range(0, len(rows), ROWS_PER_INSERT):
            chunk = rows[start : start + ROWS_PER_INSERT]
            marks = ", ".join(["(" + ", ".join(["%s"] * len(columns)) + ")"] * len(chunk))
            cursor = session._conn.cursor()
            cursor.paramstyle = "format"
            try:
                cursor.execute(f"insert into {table} values {marks}", [v for r in chunk for v in r])
            finally:
                cursor.close()


@contextmanager
def emulated_parquet_copy(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Rig sessions carry out Parquet COPYs from the S3 server in AWS_ENDPOINT_URL_S3; yields
    the COPY statements sent, as sent."""
    client = boto3.client("s3")
    sent: list[str] = []
    original = RedshiftSession._execute

    def execute(self: RedshiftSession, sql: str, params: Any) -> None:
        if statement_body(sql).startswith("copy "):
            sent.append(sql)
            carry_out(self, sql, client)
            return
        original(self, sql, params)

    monkeypatch.setattr(RedshiftSession, "_execute", execute)
    yield sent
