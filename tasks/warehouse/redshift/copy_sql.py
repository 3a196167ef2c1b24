"""What Redshift's COPY of the staged Parquet parts needs: manifests, and statements whose S3
URI and role are literals (COPY takes no bind parameters).

Every literal is validated against what it may look like before it is quoted into a
statement, so no S3 key, prefix or setting can inject SQL. Redshift reads a backslash in a
string literal as an escape (`\\'` is a quote), so doubling quotes is not enough: a literal
holding a quote, a backslash or a control character is refused outright, and the patterns
must match the whole value (`fullmatch`, ASCII classes: no trailing newline, no Unicode
digits in an account id).
"""

from __future__ import annotations

import re
from typing import Any

import jinja2

from tasks.common.errors import EtlError
from tasks.common.sql_files import SQL_ROOT

# The tables a run stages; COPY loads each from its own manifest of Parquet parts.
STAGED_TABLES = ("events_incoming", "songs_incoming", "quarantine_incoming", "incoming_files")
URI_KINDS = {"manifest_uri": "uri", "iam_role": "role"}

_S3_URI = re.compile(
    r"s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/[^'\\\x00-\x1f\x7f]{0,1024})?", re.ASCII
)
_ROLE_ARN = re.compile(r"arn:aws[a-z\-]*:iam::\d{12}:role/[\w+=,.@/\-]{1,512}", re.ASCII)
_VALIDATORS = {"uri": _S3_URI, "role": _ROLE_ARN}
_NEVER_QUOTED = re.compile(r"['\\\x00-\x1f\x7f]")


class UnsafeLiteral(EtlError):
    """A value that would be quoted into COPY does not look like what it claims to be."""


def safe_literal(name: str, value: object, kind: str) -> str:
    """`value` as a quoted SQL literal, if it is a well-formed `kind` (`uri` or `role`);
    else `UnsafeLiteral`, one line naming the setting (repr keeps newlines on one line)."""
    if not isinstance(value, str):
        raise UnsafeLiteral(f"{name} must be a string, not {type(value).__name__}")
    if _NEVER_QUOTED.search(value) or not _VALIDATORS[kind].fullmatch(value):
        raise UnsafeLiteral(f"{name} {_shown(value)} is not a valid {kind}")
    return f"'{value}'"


def check_copy_settings(iam_role: str, staging_uri: str) -> None:
    """Refuse the block's COPY settings before the run writes anything to S3."""
    safe_literal("copy_iam_role", iam_role, "role")
    safe_literal("staging_uri", staging_uri, "uri")


def copy_statement(table: str, values: dict[str, Any]) -> str:
    """The COPY of one staged table (`sql/staging/copy_parquet.sql.j2`), with `:placeholders`
    replaced by validated literals (`URI_KINDS` says what each one is). A table outside
    `STAGED_TABLES` or a value that fails validation raises `UnsafeLiteral`."""
    if table not in STAGED_TABLES:
        raise UnsafeLiteral(f"{table!r} is not a staged table")
    text = _TEMPLATES.get_template("staging/copy_parquet.sql.j2").render(table=table)

    def literal(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in URI_KINDS:
            raise UnsafeLiteral(f"{key} is not a COPY setting")
        return safe_literal(key, values[key], URI_KINDS[key])

    return re.sub(r"(?<![:\w]):([a-z_]+)\b", literal, text)


_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(SQL_ROOT), undefined=jinja2.StrictUndefined, autoescape=False
)


def _shown(value: str, limit: int = 120) -> str:
    return repr(value if len(value) <= limit else value[:limit] + "…")


def manifest(parts: list[tuple[str, int]]) -> dict[str, Any]:
    """A COPY manifest naming exactly these parts (url, bytes). Every entry is mandatory (a
    missing part fails the COPY instead of loading less), and a Parquet manifest must give each
    part's `content_length` (AWS: https://docs.aws.amazon.com/redshift/latest/dg/loading-data-files-using-manifest.html)."""
    return {
        "entries": [
            {"url": url, "mandatory": True, "meta": {"content_length": size}} for url, size in parts
        ]
    }
