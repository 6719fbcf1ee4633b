"""A fault-injecting HTTP proxy that sits between a cloud driver and its emulator.

Standard library only, loopback only, one thread per client connection. The
driver's endpoint parameter points at ``proxy.url``; the proxy forwards each
request to the emulator unchanged (the ``Host`` header included, because S3
SigV4 signs it) and, for a seeded random share of requests, breaks it instead:

=====================  ==============================================================
kind                   what the client sees
=====================  ==============================================================
``500``                ``500 Internal Server Error``; the emulator never sees the request
``503``                ``503`` with ``Retry-After`` (a backend's "slow down")
``429``                ``429 Too Many Requests`` with ``Retry-After``
``reset-before-body``  the connection is reset after the request headers
``reset-after-body``   the connection is reset after the request body, which is dropped
``drop-response``      the request reaches the emulator (it takes effect), then the
                       connection is reset before any byte of the response
``cut-body``           the response is cut in the middle of its body, then reset
``slow``               the response comes ``slow_seconds`` late
=====================  ==============================================================

Error bodies follow the backend's format (``dialect``: ``s3``, ``azure``,
``gcs``) so that the SDKs classify them as they would a real service's. A
``Location`` header pointing at the emulator (GCS resumable sessions) is
rewritten to point at the proxy, so later requests go through it too; with
``rewrite_json``, so are the emulator's URLs in JSON bodies (GCS ``mediaLink``).
``host="upstream"`` sends the emulator its own address as ``Host`` (for
fake-gcs-server, which routes path-style requests by it); the default keeps
the client's, which SigV4 signs.

Usage::

    with FaultProxy("http://127.0.0.1:9000", FaultPlan(rate=0.1, seed=1), dialect="s3") as proxy:
        driver = create("s3", {..., "regionendpoint": proxy.url})
        ...
        print(proxy.stats())

``proxy.plan = FaultPlan(every="503")`` switches faults at run time (every
request fails: the "cannot be survived" case); ``FaultPlan()`` heals it.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import random
import re
import socket
import struct
import sys
import threading
import time
import urllib.parse
from contextlib import suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

__all__ = ["KINDS", "STATUS_KINDS", "FaultPlan", "FaultProxy", "FaultStats"]

STATUS_KINDS = ("500", "503", "429")
KINDS = (
    *STATUS_KINDS,
    "reset-before-body",
    "reset-after-body",
    "drop-response",
    "cut-body",
    "slow",
)
DIALECTS = ("plain", "s3", "azure", "gcs")

#: Headers that describe one connection, never forwarded as they are.
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade", "expect"}
)
_PIECE = 64 * 1024
_REASONS = {500: "Internal Server Error", 503: "Service Unavailable", 429: "Too Many Requests"}


@dataclass(frozen=True)
class FaultPlan:
    """What to break: a share of requests (``rate``), drawn from ``kinds``, or ``every`` one.

    ``match`` (a regular expression searched in ``"METHOD /path?query"``)
    limits faults to matching requests; ``spare`` exempts matching requests
    (for example presigned URLs that a plain client fetches without retries).
    ``after`` lets that many requests through untouched first (counted from the
    moment the plan is set), so a fault can be aimed at the n-th request of an
    operation; ``limit`` stops after that many faults. The random draws come
    from ``random.Random(seed)``, so a run is reproducible as far as the order
    of requests is.
    """

    rate: float = 0.0
    kinds: tuple[str, ...] = KINDS
    every: str | None = None
    retry_after: int = 1
    slow_seconds: float = 0.3
    match: str | None = None
    spare: str | None = None
    after: int = 0
    limit: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"rate is a share between 0 and 1, got {self.rate!r}")
        unknown = [kind for kind in (*self.kinds, self.every) if kind and kind not in KINDS]
        if unknown:
            raise ValueError(f"unknown fault kinds {unknown}; known: {', '.join(KINDS)}")
        if self.rate and not self.kinds:
            raise ValueError("a rate above 0 needs at least one kind")


@dataclass(frozen=True)
class FaultStats:
    """Requests the proxy saw, and the faults it injected, by kind."""

    requests: int
    faulted: int
    by_kind: dict[str, int] = field(default_factory=dict)
    upstream_errors: int = 0

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return {
            "requests": self.requests,
            "faulted": self.faulted,
            "by_kind": dict(sorted(self.by_kind.items())),
            "upstream_errors": self.upstream_errors,
        }


def _loopback(host: str) -> bool:
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(
        ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_loopback for info in infos
    )


def _error_body(dialect: str, status: int, request_id: str) -> tuple[bytes, dict[str, str]]:
    """A body and headers shaped like the backend's own answer for ``status``."""
    message = f"fault injected by the test proxy (request {request_id})"
    if dialect in ("s3", "azure"):
        codes = {
            "s3": {500: "InternalError", 503: "SlowDown", 429: "TooManyRequestsException"},
            "azure": {500: "InternalError", 503: "ServerBusy", 429: "ServerBusy"},
        }[dialect]
        code = codes[status]
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{message}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        ).encode()
        headers = {"Content-Type": "application/xml"}
        if dialect == "azure":
            headers["x-ms-error-code"] = code
            headers["x-ms-request-id"] = request_id
        else:
            headers["x-amz-request-id"] = request_id
        return body, headers
    if dialect == "gcs":
        reason = {500: "backendError", 503: "backendError", 429: "rateLimitExceeded"}[status]
        payload = {
            "error": {
                "code": status,
                "message": message,
                "errors": [{"reason": reason, "message": message}],
            }
        }
        return json.dumps(payload).encode(), {"Content-Type": "application/json; charset=UTF-8"}
    return message.encode(), {"Content-Type": "text/plain; charset=utf-8"}


class FaultProxy:
    """A threaded HTTP proxy on 127.0.0.1 that forwards to ``upstream`` and injects faults."""

    def __init__(
        self,
        upstream: str,
        plan: FaultPlan | None = None,
        *,
        dialect: str = "plain",
        rewrite_location: bool = True,
        rewrite_json: bool = False,
        host: str = "keep",
        timeout: float = 120.0,
    ) -> None:
        parsed = urllib.parse.urlsplit(upstream)
        if parsed.scheme != "http" or not parsed.hostname:
            raise ValueError(f"upstream must be a plain http:// URL, got {upstream!r}")
        if not _loopback(parsed.hostname):
            raise ValueError(f"the fault proxy forwards to loopback only, not {parsed.hostname!r}")
        if dialect not in DIALECTS:
            raise ValueError(f"dialect must be one of {', '.join(DIALECTS)}, got {dialect!r}")
        self.upstream_host = parsed.hostname
        self.upstream_port = parsed.port or 80
        if host not in ("keep", "upstream"):
            raise ValueError(f"host must be 'keep' or 'upstream', got {host!r}")
        self.dialect = dialect
        self.rewrite_location = rewrite_location
        self.rewrite_json = rewrite_json
        self.host = host
        self.timeout = timeout
        self._lock = threading.Lock()
        self._plan = plan or FaultPlan()
        self._rng = random.Random(self._plan.seed)
        self._match = re.compile(self._plan.match) if self._plan.match else None
        self._spare = re.compile(self._plan.spare) if self._plan.spare else None
        self._since_plan = 0
        self._planned = 0
        self._requests = 0
        self._upstream_errors = 0
        self._by_kind: dict[str, int] = {}
        self._connections: set[socket.socket] = set()
        self._server: _Server | None = None
        self._port: int | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle -------------------------------------------------------------

    def start(self) -> FaultProxy:
        """Listen on a free port of 127.0.0.1 and serve in a daemon thread."""
        if self._server is not None:
            return self
        server = _Server(("127.0.0.1", 0), _Handler)
        server.proxy = self
        self._server = server
        self._port = int(server.server_address[1])
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and cut every open client connection."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port the proxy listens on (from ``start`` on, also after ``stop``)."""
        if self._port is None:
            raise RuntimeError("the proxy is not started")
        return self._port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``: what the driver's endpoint parameter takes."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def upstream(self) -> str:
        """The emulator's base URL."""
        return f"http://{self.upstream_host}:{self.upstream_port}"

    # -- configuration and figures ---------------------------------------------

    @property
    def plan(self) -> FaultPlan:
        """The faults injected from now on."""
        return self._plan

    @plan.setter
    def plan(self, plan: FaultPlan) -> None:
        with self._lock:
            self._plan = plan
            self._rng = random.Random(plan.seed)
            self._match = re.compile(plan.match) if plan.match else None
            self._spare = re.compile(plan.spare) if plan.spare else None
            self._since_plan = 0
            self._planned = 0

    def stats(self) -> FaultStats:
        """A snapshot of the counters."""
        with self._lock:
            return FaultStats(
                requests=self._requests,
                faulted=sum(self._by_kind.values()),
                by_kind=dict(self._by_kind),
                upstream_errors=self._upstream_errors,
            )

    def reset_stats(self) -> None:
        """Zero the counters."""
        with self._lock:
            self._requests = 0
            self._upstream_errors = 0
            self._by_kind.clear()

    # -- used by the handler ----------------------------------------------------

    def _decide(self, method: str, target: str) -> tuple[str | None, FaultPlan, int]:
        """Count one request; the fault to inject (or None), the plan, and a request number."""
        with self._lock:
            self._requests += 1
            self._since_plan += 1
            number = self._requests
            plan = self._plan
            request = f"{method} {target}"
            if self._match is not None and not self._match.search(request):
                return None, plan, number
            if self._spare is not None and self._spare.search(request):
                return None, plan, number
            if self._since_plan <= plan.after:
                return None, plan, number
            if plan.limit is not None and self._planned >= plan.limit:
                return None, plan, number
            kind: str | None = None
            if plan.every is not None:
                kind = plan.every
            elif plan.rate and self._rng.random() < plan.rate:
                kind = self._rng.choice(plan.kinds)
            if kind is not None:
                self._planned += 1
            return kind, plan, number

    def _record(self, kind: str) -> None:
        with self._lock:
            self._by_kind[kind] = self._by_kind.get(kind, 0) + 1

    def _upstream_failed(self) -> None:
        with self._lock:
            self._upstream_errors += 1

    def _track(self, connection: socket.socket, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def _rewrite_body(self, body: bytes) -> bytes:
        """Point the emulator's own URLs in a JSON body at the proxy."""
        here = f"127.0.0.1:{self.port}".encode()
        for there in (
            f"{self.upstream_host}:{self.upstream_port}",
            f"localhost:{self.upstream_port}",
        ):
            body = body.replace(b"http://" + there.encode(), b"http://" + here)
        return body

    def _rewrite(self, location: str) -> str:
        """Point a URL at the emulator to the proxy instead."""
        if not self.rewrite_location:
            return location
        parts = urllib.parse.urlsplit(location)
        if parts.scheme != "http" or parts.port != self.upstream_port:
            return location
        if not parts.hostname or not _loopback(parts.hostname):
            return location
        return urllib.parse.urlunsplit(parts._replace(netloc=f"127.0.0.1:{self.port}"))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False
    proxy: FaultProxy

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            return  # a client or the emulator went away: part of the game
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """One client connection: parse each request, then forward it or break it."""

    protocol_version = "HTTP/1.1"
    server: _Server
    _expects_continue = False

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.proxy.timeout)
        self.server.proxy._track(self.connection, True)

    def finish(self) -> None:
        self.server.proxy._track(self.connection, False)
        with suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read the counters instead."""

    def parse_request(self) -> bool:
        self._expects_continue = False
        return super().parse_request()

    def handle_expect_100(self) -> bool:
        # Decide per request whether to invite the body (forward) or not (fault).
        self._expects_continue = True
        return True

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (ConnectionError, TimeoutError):
            self.close_connection = True

    # Every method goes through the same path.
    def do_GET(self) -> None:
        self._serve()

    do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = do_GET

    def _serve(self) -> None:
        proxy = self.server.proxy
        kind, plan, number = proxy._decide(self.command, self.path)
        if kind == "reset-before-body":
            proxy._record(kind)
            self._reset()
            return
        if kind in STATUS_KINDS:
            if self._expects_continue:
                self.close_connection = True  # the body may or may not follow: do not reuse
            else:
                self._read_body()
            proxy._record(kind)
            self._send_status(int(kind), plan, f"fault-{number}")
            return
        if self._expects_continue:
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = self._read_body()
        if kind == "reset-after-body":
            proxy._record(kind)
            self._reset()
            return
        try:
            connection, response = self._forward(body)
        except OSError:
            proxy._upstream_failed()
            self._send_status(502, plan, f"upstream-{number}")
            return
        try:
            if kind == "cut-body" and not self._has_body(response):
                kind = "drop-response"  # nothing to cut: lose the whole answer instead
            if kind == "drop-response":
                response.read()
                proxy._record(kind)
                self._reset()
                return
            if kind == "slow":
                proxy._record(kind)
                time.sleep(plan.slow_seconds)
            if kind == "cut-body":
                proxy._record(kind)
            self._relay(response, cut=kind == "cut-body")
        finally:
            connection.close()

    # -- pieces ---------------------------------------------------------------

    def _read_body(self) -> bytes:
        """The request body exactly as sent (raw chunks included)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        return self._read_exactly(length)

    def _read_exactly(self, length: int) -> bytes:
        parts: list[bytes] = []
        left = length
        while left > 0:
            piece = self.rfile.read(min(left, _PIECE))
            if not piece:
                raise ConnectionResetError("the client closed the connection mid-body")
            parts.append(piece)
            left -= len(piece)
        return b"".join(parts)

    def _read_chunked(self) -> bytes:
        raw: list[bytes] = []
        while True:
            line = self.rfile.readline(1024)
            raw.append(line)
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                break
            raw.append(self._read_exactly(size + 2))  # data and its CRLF
        while True:  # trailers, up to the empty line
            line = self.rfile.readline(8192)
            raw.append(line)
            if line in (b"\r\n", b"\n", b""):
                return b"".join(raw)

    def _forward(self, body: bytes) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        """Send the request to the emulator on a fresh connection; its response."""
        proxy = self.server.proxy
        connection = http.client.HTTPConnection(
            proxy.upstream_host, proxy.upstream_port, timeout=proxy.timeout
        )
        try:
            connection.putrequest(
                self.command, self.path, skip_host=True, skip_accept_encoding=True
            )
            for name, value in self.headers.items():
                lower = name.lower()
                if lower in _HOP_BY_HOP:
                    continue
                if lower == "host" and proxy.host == "upstream":
                    value = f"{proxy.upstream_host}:{proxy.upstream_port}"
                connection.putheader(name, value)
            connection.putheader("Connection", "close")
            connection.endheaders(body or None)
            return connection, connection.getresponse()
        except BaseException:
            connection.close()
            raise

    def _has_body(self, response: http.client.HTTPResponse) -> bool:
        if self.command == "HEAD" or response.status in (204, 304) or response.status < 200:
            return False
        length = response.getheader("Content-Length")
        return length is None or int(length) > 0

    def _relay(self, response: http.client.HTTPResponse, *, cut: bool) -> None:
        """Send the emulator's response on; ``cut`` stops halfway through the body."""
        proxy = self.server.proxy
        self.send_response_only(response.status, response.reason)
        length: int | None = None
        reframe = proxy.rewrite_json and "json" in (response.getheader("Content-Type") or "")
        for name, value in response.getheaders():
            lower = name.lower()
            if lower in _HOP_BY_HOP or lower == "transfer-encoding":
                continue
            if lower == "content-length":
                length = int(value)
                if reframe and self._has_body(response):
                    continue  # sent below, for the rewritten body
            if lower == "location":
                value = proxy._rewrite(value)
            self.send_header(name, value)
        has_body = self._has_body(response)
        buffered = b""
        json_body = "json" in (response.getheader("Content-Type") or "")
        if has_body and (length is None or (json_body and proxy.rewrite_json)):
            buffered = response.read()  # unknown length, or rewritten: frame it anew
            if json_body and proxy.rewrite_json:
                buffered = proxy._rewrite_body(buffered)
            length = len(buffered)
            self.send_header("Content-Length", str(length))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if not has_body:
            return
        assert length is not None
        limit = length // 2 if cut else length
        sent = 0
        if buffered:
            self.wfile.write(buffered[:limit])
            sent = min(limit, len(buffered))
        while sent < limit:
            piece = response.read(min(_PIECE, limit - sent))
            if not piece:
                break
            self.wfile.write(piece)
            sent += len(piece)
        if cut:
            self._reset()
        elif sent < length:
            self.close_connection = True  # the emulator's answer was short: do not reuse

    def _send_status(self, status: int, plan: FaultPlan, request_id: str) -> None:
        if status == 502:  # not a fault of the plan: the emulator itself did not answer
            body, headers = b"the emulator behind the fault proxy did not answer", {}
        else:
            body, headers = _error_body(self.server.proxy.dialect, status, request_id)
        self.send_response_only(status, _REASONS.get(status, "Bad Gateway"))
        for name, value in headers.items():
            self.send_header(name, value)
        if status in (429, 503):
            self.send_header("Retry-After", str(plan.retry_after))
        self.send_header("Content-Length", str(0 if self.command == "HEAD" else len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _reset(self) -> None:
        """Abort the connection with a TCP reset (no FIN, no further bytes)."""
        self.close_connection = True
        with suppress(OSError):
            self.wfile.flush()
        with suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with suppress(OSError):
            self.rfile.close()  # drops the file object's hold on the socket
        with suppress(OSError):
            self.connection.close()
