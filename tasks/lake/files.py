"""The lake's value types: where it is (`LakeSource`), one object of it (`LakeFile`), and what
staging needs from any storage (`Lake`). A leaf: it imports nothing of ours but errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

SONG_PREFIX = "song_data"
LOG_PREFIX = "log_data"


@dataclass(frozen=True)
class LakeSource:
    """Where the lake is: a directory, or `s3://bucket/prefix` (optionally with Prefect blocks).

    `aws_credentials_block` names a prefect-aws AwsCredentials block (credentials, region,
    endpoint); `s3_bucket_block` an S3Bucket block, whose bucket and folder are used when `uri`
    is not an `s3://` URI. Without blocks, S3 access uses boto3's standard environment.
    """

    uri: str
    aws_credentials_block: str | None = None
    s3_bucket_block: str | None = None

    @property
    def is_s3(self) -> bool:
        return self.uri.startswith("s3://") or self.s3_bucket_block is not None


@dataclass(frozen=True)
class LakeFile:
    """One object of the lake: its key relative to the lake root, its size and version tag."""

    key: str
    size: int
    etag: str = ""
    problem: str = ""  # set for an object staging must quarantine without reading


class Lake(Protocol):
    """What staging needs from storage."""

    uri: str

    def list(self, prefix: str) -> list[LakeFile]:
        """Every object under `prefix` (relative to the lake root), in key order."""
        ...

    def read(self, key: str) -> bytes:
        """The object's bytes; raises OSError for an object that cannot be read."""
        ...
