"""Helpers for the azure driver's tests: an intercepting proxy, hidden-object checks."""

from __future__ import annotations

import hashlib
import http.client
import json
import random
import re
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from azure.storage.blob import ContainerClient

from regstore import StorageDriver

DriverFactory = Callable[..., StorageDriver]


def hidden_objects(container: ContainerClient) -> list[str]:
    """Everything in the container outside the path namespace: staging blobs, stray blocks."""
    committed = {blob.name for blob in container.list_blobs()}
    found: list[str] = []
    for blob in container.list_blobs(include=["uncommittedblobs"]):
        if "~regstore/" in blob.name:
            found.append(blob.name)
        elif blob.name not in committed:
            found.append(f"{blob.name} (uncommitted blocks only)")
        else:
            _, uncommitted = container.get_blob_client(blob.name).get_block_list("uncommitted")
            if uncommitted:
                found.append(f"{blob.name} ({len(uncommitted)} uncommitted blocks)")
    return found


Answer = tuple[int, dict[str, str], bytes]


class Interceptor:
    """A loopback HTTP proxy in front of Azurite that logs requests and can change answers.

    ``observe(method, target, headers)`` sees each request's headers first;
    ``answer(method, target)`` may return a canned ``(status, headers, body)``
    instead of forwarding; ``rewrite(method, target, headers)`` may edit the
    headers of a forwarded answer. Request signatures cover the path, not the
    host, so requests pass through unchanged.
    """

    def __init__(self, endpoint: str) -> None:
        parts = urllib.parse.urlsplit(endpoint)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.account_path = parts.path
        self.log: list[tuple[str, str]] = []
        self.observe: Callable[[str, str, dict[str, str]], None] = lambda m, t, h: None
        self.answer: Callable[[str, str], Answer | None] = lambda method, target: None
        self.rewrite: Callable[[str, str, dict[str, str]], None] = lambda m, t, h: None
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """The service URL (account included) to give the driver as ``serviceurl``."""
        return f"http://127.0.0.1:{self._server.server_address[1]}{self.account_path}"

    def requests(self, method: str, pattern: str = "") -> list[str]:
        """Targets of logged requests with ``method`` whose target matches ``pattern``."""
        with self._lock:
            return [t for m, t in self.log if m == method and re.search(pattern, t)]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _forward(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Answer:
        with self._lock:
            self.log.append((method, target))
        self.observe(method, target, headers)
        canned = self.answer(method, target)
        if canned is not None:
            return canned
        connection = http.client.HTTPConnection(*self.upstream, timeout=120)
        try:
            connection.request(method, target, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            skip = {"transfer-encoding", "connection"}
            if method != "HEAD":  # a HEAD answer keeps the resource's length
                skip.add("content-length")
            answer_headers = {k: v for k, v in response.getheaders() if k.lower() not in skip}
            if method != "HEAD":
                answer_headers["Content-Length"] = str(len(data))
            self.rewrite(method, target, answer_headers)
            return response.status, answer_headers, data
        finally:
            connection.close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
                status, answer_headers, data = proxy._forward(
                    self.command, self.path, headers, body
                )
                self.send_response(status)
                for key, value in answer_headers.items():
                    self.send_header(key, value)
                if not any(key.lower() == "content-length" for key in answer_headers):
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_HEAD = do_DELETE = do_POST = _serve

        return Handler


MiB = 1 << 20
#: The ``driver`` fixture's rootdirectory, as blob names start.
ROOT = "registry/root"
WRITER_PROCESS = Path(__file__).with_name("azure_writer_process.py")


def stream_bytes(seed: int, start: int, end: int) -> Iterator[bytes]:
    """Bytes ``start`` to ``end`` of a reproducible stream, in pieces of at most 1 MiB.

    Each MiB of the stream differs (its index is written into it), and any
    range can be produced without the bytes before it.
    """
    block = random.Random(seed).randbytes(MiB)
    position = start
    while position < end:
        index, offset = divmod(position, MiB)
        piece = index.to_bytes(8, "big") + block[8:]
        take = min(MiB - offset, end - position)
        yield piece[offset : offset + take]
        position += take


def stream_digest(seed: int, size: int) -> str:
    """The SHA-256 of the first ``size`` bytes of the stream."""
    digest = hashlib.sha256()
    for piece in stream_bytes(seed, 0, size):
        digest.update(piece)
    return digest.hexdigest()


def run_writer(parameters: dict[str, Any], **job: Any) -> dict[str, int]:
    """One writer step in a separate Python process; its size and peak RSS."""
    result = subprocess.run(
        [sys.executable, str(WRITER_PROCESS), json.dumps({"parameters": parameters, **job})],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    answer: dict[str, int] = json.loads(result.stdout.strip().splitlines()[-1])
    return answer
