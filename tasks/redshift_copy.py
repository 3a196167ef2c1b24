"""What Redshift's COPY needs: manifests, the JSONPaths file, compacted song files, and
statements whose S3 URIs, role and region are literals (COPY takes no bind parameters).

Every literal is validated against what it may look like before it is quoted into a
statement, so no S3 key, prefix or setting can inject SQL. Redshift reads a backslash in a
string literal as an escape (`\\'` is a quote), so doubling quotes is not enough: a literal
holding a quote, a backslash or a control character is refused outright, and the patterns
must match the whole value (`fullmatch`, ASCII classes: no trailing newline, no Unicode
digits in an account id).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

from tasks.errors import EtlError
from tasks.lake import Lake, LakeFile, read_batches
from tasks.sql_files import render

# The JSONPaths file maps each event field, in order, onto events_copy's columns.
EVENT_FIELDS = (
    "artist", "auth", "firstName", "gender", "itemInSession", "lastName", "length", "level",
    "location", "method", "page", "registration", "sessionId", "song", "status", "ts",
    "userAgent", "userId",
)  # fmt: skip
EVENT_JSONPATHS = {"jsonpaths": [f"$['{field}']" for field in EVENT_FIELDS]}
SONG_PART_BYTES = 64 * 1024 * 1024
AVERAGE_EVENT_BYTES = 300
MAXERROR_LIMIT = 100_000  # Redshift's ceiling for MAXERROR

_S3_URI = re.compile(
    r"s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/[^'\\\x00-\x1f\x7f]{0,1024})?", re.ASCII
)
_ROLE_ARN = re.compile(r"arn:aws[a-z\-]*:iam::\d{12}:role/[\w+=,.@/\-]{1,512}", re.ASCII)
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d", re.ASCII)
_VALIDATORS = {"uri": _S3_URI, "role": _ROLE_ARN, "region": _REGION}
_NEVER_QUOTED = re.compile(r"['\\\x00-\x1f\x7f]")


class UnsafeLiteral(EtlError):
    """A value that would be quoted into COPY does not look like what it claims to be."""


def safe_literal(name: str, value: object, kind: str) -> str:
    """`value` as a quoted SQL literal, if it is a well-formed `kind` (`uri`, `role`, `region`);
    else `UnsafeLiteral`, one line naming the setting (repr keeps newlines on one line)."""
    if not isinstance(value, str):
        raise UnsafeLiteral(f"{name} must be a string, not {type(value).__name__}")
    if _NEVER_QUOTED.search(value) or not _VALIDATORS[kind].fullmatch(value):
        raise UnsafeLiteral(f"{name} {_shown(value)} is not a valid {kind}")
    return f"'{value}'"


def check_copy_settings(iam_role: str, region: str, staging_uri: str) -> None:
    """Refuse the block's COPY settings before the run writes anything to S3."""
    safe_literal("copy_iam_role", iam_role, "role")
    safe_literal("region", region, "region")
    safe_literal("staging_uri", staging_uri, "uri")


def copy_statement(name: str, values: dict[str, Any], kinds: dict[str, str]) -> str:
    """The COPY in `sql/<name>.sql` with `:placeholders` replaced by validated literals.

    `kinds` says what each string value is (`uri`, `role`, `region`); integers are written as
    numbers. A value that fails validation raises `UnsafeLiteral`.
    """
    text = render(name, "redshift")

    def literal(match: re.Match[str]) -> str:
        key = match.group(1)
        value = values[key]
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise UnsafeLiteral(f"{key} must be a string or an integer, not {type(value).__name__}")
        if isinstance(value, int):
            return str(value)
        if key not in kinds:
            raise UnsafeLiteral(f"{key} must be an integer, not {_shown(value)}")
        return safe_literal(key, value, kinds[key])

    return re.sub(r"(?<![:\w]):([a-z_]+)\b", literal, text)


def _shown(value: str, limit: int = 120) -> str:
    return repr(value if len(value) <= limit else value[:limit] + "…")


def check_threshold(threshold: object) -> float:
    """The rejected-share threshold, if it is a number from 0 to 1 (NaN would make MAXERROR
    fail obscurely, and a share above 1 means nothing)."""
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise EtlError(f"max_rejected_share must be a number, not {type(threshold).__name__}")
    if not (math.isfinite(threshold) and 0 <= threshold <= 1):
        raise EtlError(f"max_rejected_share must be from 0 to 1, not {threshold!r}")
    return float(threshold)


def max_errors(threshold: float, files: list[LakeFile]) -> int:
    """MAXERROR for a COPY: the threshold's share of the records the files likely hold."""
    threshold = check_threshold(threshold)
    estimate = sum(f.size for f in files) / AVERAGE_EVENT_BYTES
    return max(1, min(MAXERROR_LIMIT, math.ceil(threshold * estimate)))


def manifest(bucket: str, lake_prefix: str, files: list[LakeFile]) -> dict[str, Any]:
    """A COPY manifest naming exactly these objects (mandatory: a missing one fails the COPY)."""
    root = f"{lake_prefix}/" if lake_prefix else ""
    return {
        "entries": [
            {"url": f"s3://{bucket}/{root}{f.key}", "mandatory": True,
             "meta": {"content_length": f.size}}
            for f in files
        ]
    }  # fmt: skip


def compact_songs(
    lake: Lake, files: list[LakeFile], upload: Callable[[bytes], None]
) -> list[dict[str, Any]]:
    """Write the song objects as a few large NDJSON parts through `upload` (each object with
    its `source_file` first, so a COPY error's raw line names the file); return the files that
    are not one JSON object, as quarantine records.

    Thousands of tiny objects are COPY's slowest case: each costs a request and a slice's
    scheduling, while a few large parts load in parallel at full speed. Parts are uploaded as
    they fill, so memory holds one part at most.
    """
    rejects: list[dict[str, Any]] = []
    current: list[bytes] = []
    size = 0
    for batch in read_batches(lake, files):
        for row in batch.to_pylist():
            record, reason = _song_record(row)
            if reason:
                rejects.append(reject("songs", row["source_file"], reason, row["content"]))
                continue
            line = json.dumps(record, ensure_ascii=False).encode()
            current.append(line)
            size += len(line) + 1
            if size >= SONG_PART_BYTES:
                upload(b"\n".join(current) + b"\n")
                current, size = [], 0
    if current:
        upload(b"\n".join(current) + b"\n")
    return rejects


def reject(kind: str, source_file: str, reason: str, raw: str | None) -> dict[str, Any]:
    """A quarantine record sized for Redshift's columns (VARCHAR lengths count bytes)."""
    return {
        "kind": kind,
        "source_file": source_file,
        "line_number": None,
        "reason": _truncate_bytes(reason, 512),
        "raw_text": _truncate_bytes(raw or "", 65535) or None,
    }


def _truncate_bytes(text: str, limit: int) -> str:
    return text.encode("utf-8")[:limit].decode("utf-8", "ignore")


def _song_record(row: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    if row["read_error"]:
        return None, row["read_error"]
    text = (row["content"] or "").strip()
    if not text:
        return None, "empty file"
    try:
        record = json.loads(text)
    except json.JSONDecodeError:
        return None, "malformed JSON"
    if not isinstance(record, dict):
        return None, "not a JSON object"
    fields = {key: value for key, value in record.items() if key != "source_file"}
    return {"source_file": row["source_file"], **fields}, None
