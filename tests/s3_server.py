"""A real S3 API on 127.0.0.1 (moto's standalone server) and helpers to fill it with a lake."""

from __future__ import annotations

import http.client
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

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


@pytest.fixture(scope="session")
def s3_lake(s3_endpoint: str, small_lake: Path) -> str:
    """The small lake (tests/conftest.py) uploaded to the moto server, as an s3:// URI; tests
    only read it."""
    upload_lake(s3_endpoint, small_lake, "sparkify-lake", "udacity/2018")
    return "s3://sparkify-lake/udacity/2018"


def _credentials() -> dict[str, str]:
    return {
        "aws_access_key_id": TEST_ENV["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": TEST_ENV["AWS_SECRET_ACCESS_KEY"],
        "region_name": TEST_ENV["AWS_DEFAULT_REGION"],
    }


# --- a faulty network between the ETL and S3 ---------------------------------------------

FAULT_BODIES = {
    500: ("InternalError", "We encountered an internal error. Please try again."),
    503: ("SlowDown", "Please reduce your request rate."),
}


class FaultyS3Proxy:
    """An HTTP proxy on 127.0.0.1 in front of moto that fails chosen object GETs on purpose.

    `fail(key_part, *faults)` queues faults for the next GETs of any object whose key contains
    `key_part`, one per request: 500 (InternalError), 503 (SlowDown), "reset" (the connection
    is dropped before any answer) or "truncate" (headers and half the body, then dropped).
    `outage(after, seconds)` makes the endpoint die once `after` object GETs have passed: every
    request is dropped for `seconds`, then it comes back. `gets[key]` counts object GETs.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        self.gets: Counter[str] = Counter()
        self.dropped = 0
        self._faults: list[tuple[str, list[int | str]]] = []
        self._outage: tuple[int, float] | None = None
        self._down_until = 0.0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"

    def fail(self, key_part: str, *faults: int | str) -> None:
        with self._lock:
            self._faults.append((key_part, list(faults)))

    def outage(self, after: int, seconds: float) -> None:
        with self._lock:
            self._outage = (after, seconds)

    def __enter__(self) -> FaultyS3Proxy:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _fault_for(self, method: str, path: str) -> int | str | None:
        """The fault this request gets (None: forward it), counting object GETs."""
        bucket_and_key = unquote(urlsplit(path).path).lstrip("/")
        is_object_get = method == "GET" and "/" in bucket_and_key
        with self._lock:
            if time.monotonic() < self._down_until:
                self.dropped += 1
                return "reset"
            if not is_object_get:
                return None
            key = bucket_and_key.split("/", 1)[1]
            self.gets[key] += 1
            if self._outage and sum(self.gets.values()) > self._outage[0]:
                self._down_until = time.monotonic() + self._outage[1]
                self._outage = None
                self.dropped += 1
                return "reset"
            for part, queued in self._faults:
                if part in key and queued:
                    return queued.pop(0)
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self._relay()

            do_PUT = do_POST = do_HEAD = do_DELETE = do_GET

            def _relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                fault = proxy._fault_for(self.command, self.path)
                if fault == "reset":
                    return self._drop()
                if fault in FAULT_BODIES:
                    return self._error(int(fault))
                status, headers, payload = self._forward(body)
                self.send_response(status)
                for name, value in headers:
                    if name.lower() not in {"content-length", "transfer-encoding", "connection"}:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if fault == "truncate":
                    self.wfile.write(payload[: len(payload) // 2])
                    return self._drop()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            def _forward(self, body: bytes | None) -> tuple[int, list[tuple[str, str]], bytes]:
                conn = http.client.HTTPConnection(
                    proxy.upstream.hostname, proxy.upstream.port, timeout=30
                )
                try:
                    conn.request(self.command, self.path, body=body, headers=dict(self.headers))
                    response = conn.getresponse()
                    return response.status, response.getheaders(), response.read()
                finally:
                    conn.close()

            def _error(self, status: int) -> None:
                code, message = FAULT_BODIES[status]
                payload = (
                    f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
                    f"<Message>{message}</Message></Error>"
                ).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _drop(self) -> None:
                """Close with a TCP reset, as a crashed server or a dead load balancer would."""
                self.close_connection = True
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.connection.close()

        return Handler
