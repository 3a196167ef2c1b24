"""A lake in S3 (or any S3-compatible endpoint), reached through prefect-aws.

Credentials, region and endpoint come from an AwsCredentials or S3Bucket block when one is
named, else from boto3's standard chain (`AWS_ACCESS_KEY_ID`, `AWS_ENDPOINT_URL_S3`, profiles,
instance roles). Errors become one line naming the bucket and key: a missing bucket or denied
access is a `LakeError` (retrying cannot help); an unreachable or overloaded endpoint is a
`LakeUnavailable`, which tasks retry with backoff.
"""

from __future__ import annotations

from typing import Any, Literal, cast

from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    IncompleteReadError,
    NoCredentialsError,
    PartialCredentialsError,
)
from botocore.exceptions import ConnectionError as EndpointUnreachable
from prefect_aws import AwsCredentials, S3Bucket

from tasks.common.errors import LakeError
from tasks.lake.files import LakeFile, LakeSource

# botocore retries throttling (503 SlowDown), 5xx and dropped connections itself, with
# jittered exponential backoff; `total_max_attempts` counts the first request too (botocore's
# `max_attempts` would count only the retries).
CLIENT_CONFIG = {
    "retries": {"mode": "standard", "total_max_attempts": 5},
    "connect_timeout": 5,
    "read_timeout": 60,
    "max_pool_connections": 32,
}
_DENIED = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled"}
_MISSING_BUCKET = {"NoSuchBucket"}
_MISSING_KEY = {"NoSuchKey", "404"}
_NETWORK_ERRORS = (EndpointUnreachable, HTTPClientError, IncompleteReadError)


class LakeUnavailable(ConnectionError):
    """The S3 endpoint cannot be reached or keeps failing: transient, so tasks retry."""


class S3Lake:
    """A lake under `s3://bucket/prefix`."""

    def __init__(self, bucket: str, prefix: str, client: Any, page_size: int = 1000) -> None:
        self.bucket = bucket
        self.page_size = page_size
        self.prefix = prefix.strip("/")
        self.client = client
        self.uri = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"

    @classmethod
    def from_source(cls, source: LakeSource) -> S3Lake:
        bucket, prefix, block = "", "", None
        if source.s3_bucket_block:
            block = cast(S3Bucket, S3Bucket.load(source.s3_bucket_block))  # sync in a flow
            bucket, prefix = block.bucket_name, block.bucket_folder or ""
        credentials = _credentials(source, block)
        if source.uri.startswith("s3://"):
            bucket, _, prefix = source.uri[len("s3://") :].partition("/")
        elif source.uri:
            prefix = f"{prefix.strip('/')}/{source.uri.strip('/')}".strip("/")
        if not bucket:
            raise LakeError(f"lake {source.uri!r} names no bucket")
        return cls(bucket, prefix, _client(credentials))

    def list(self, prefix: str) -> list[LakeFile]:
        root = f"{self.prefix}/" if self.prefix else ""
        files = []
        paginator = self.client.get_paginator("list_objects_v2")
        with self._errors(f"{root}{prefix}/"):
            pages = paginator.paginate(
                Bucket=self.bucket,
                Prefix=f"{root}{prefix}/",
                PaginationConfig={"PageSize": self.page_size},
            )
            for page in pages:
                for obj in page.get("Contents", []):
                    if obj["Key"].endswith("/"):
                        continue  # a "folder" marker some S3 tools create, not an object
                    key = obj["Key"][len(root) :]
                    files.append(LakeFile(key=key, size=obj["Size"], etag=obj["ETag"].strip('"')))
        return sorted(files, key=lambda f: f.key)

    def read(self, key: str) -> bytes:
        full_key = f"{self.prefix}/{key}" if self.prefix else key
        try:
            with self._errors(full_key):
                return self.client.get_object(Bucket=self.bucket, Key=full_key)["Body"].read()
        except _ObjectGone as gone:
            raise FileNotFoundError(str(gone)) from None

    def _errors(self, key: str) -> _S3Errors:
        return _S3Errors(self.client, self.bucket, key)


class _ObjectGone(Exception):
    pass


class _S3Errors:
    """Turn botocore's exceptions into the lake's one-line errors."""

    def __init__(self, client: Any, bucket: str, key: str) -> None:
        self.client, self.bucket, self.key = client, bucket, key

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type | None, exc: BaseException | None, tb: object) -> Literal[False]:
        if exc is None:
            return False
        where = f"s3://{self.bucket}/{self.key}"
        if isinstance(exc, ClientError):
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _MISSING_BUCKET:
                raise LakeError(f"bucket {self.bucket} does not exist ({where})") from None
            if code in _DENIED:
                raise LakeError(f"access denied to {where} ({code})") from None
            if code in _MISSING_KEY:
                raise _ObjectGone(f"{where} does not exist") from None
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if status >= 500 or code in {"SlowDown", "Throttling", "RequestTimeout"}:
                raise LakeUnavailable(f"S3 keeps failing for {where} ({code})") from None
            raise LakeError(f"S3 refused {where} ({code}: {exc.response['Error'].get('Message')})")
        if not isinstance(exc, BotoCoreError):
            return False
        message = str(exc).splitlines()[0]
        if isinstance(exc, _NETWORK_ERRORS):  # refused, reset, timed out, cut off mid-body
            endpoint = self.client.meta.endpoint_url
            raise LakeUnavailable(f"cannot reach S3 at {endpoint} for {where}: {message}") from None
        if isinstance(exc, NoCredentialsError | PartialCredentialsError):
            raise LakeError(f"no usable AWS credentials to read {where} ({message})") from None
        raise LakeError(f"cannot read {where}: {message}") from None


def s3_errors(client: Any, bucket: str, key: str) -> _S3Errors:
    """Map botocore's exceptions around one request to the lake's one-line errors."""
    return _S3Errors(client, bucket, key)


def s3_client(source: LakeSource) -> Any:
    """An S3 client with the credentials the lake's blocks name (else boto3's chain): the
    Redshift path writes its staged Parquet parts with it, whether the lake is in S3 or not."""
    return _client(_credentials(source))


def _credentials(source: LakeSource, bucket_block: S3Bucket | None = None) -> AwsCredentials:
    """An AwsCredentials block named outright wins over the S3Bucket block's own credentials."""
    if source.aws_credentials_block:
        return cast(AwsCredentials, AwsCredentials.load(source.aws_credentials_block))
    if source.s3_bucket_block:
        block = bucket_block or cast(S3Bucket, S3Bucket.load(source.s3_bucket_block))
        return cast(AwsCredentials, block.credentials)
    return AwsCredentials()


def _client(credentials: AwsCredentials) -> Any:
    params = credentials.aws_client_parameters.get_params_override()
    params.setdefault("config", Config(**CLIENT_CONFIG))
    return credentials.get_boto3_session().client("s3", **params)
