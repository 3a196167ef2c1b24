"""A real S3 API on 127.0.0.1 (moto's standalone server) and helpers to fill it with a lake."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "sparkify-test-key",
    "AWS_SECRET_ACCESS_KEY": "sparkify-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def moto_server() -> Iterator[str]:
    """Serve the S3 API on a free loopback port; yield its endpoint URL."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@contextmanager
def moto_server_with_auth() -> Iterator[str]:
    """A second server, in its own process, that checks credentials against its IAM backend."""
    port = free_port()
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "0"}
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def s3_client(endpoint: str):
    return boto3.client("s3", endpoint_url=endpoint, **_credentials())


def upload_lake(endpoint: str, lake: Path, bucket: str, prefix: str) -> int:
    """Create the bucket (if needed) and upload every file of `lake` under `prefix`."""
    client = s3_client(endpoint)
    with suppress(client.exceptions.BucketAlreadyOwnedByYou):
        client.create_bucket(Bucket=bucket)
    count = 0
    for path in sorted(lake.rglob("*")):
        if path.is_file():
            key = f"{prefix}/{path.relative_to(lake).as_posix()}".lstrip("/")
            client.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
            count += 1
    return count


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """The moto server, with the standard AWS variables pointing boto3 at it."""
    with moto_server() as endpoint:
        previous = {k: os.environ.get(k) for k in [*TEST_ENV, "AWS_ENDPOINT_URL_S3"]}
        os.environ.update({**TEST_ENV, "AWS_ENDPOINT_URL_S3": endpoint})
        try:
            yield endpoint
        finally:
            for key, value in previous.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def _credentials() -> dict[str, str]:
    return {
        "aws_access_key_id": TEST_ENV["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": TEST_ENV["AWS_SECRET_ACCESS_KEY"],
        "region_name": TEST_ENV["AWS_DEFAULT_REGION"],
    }
