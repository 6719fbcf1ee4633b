"""The fault-injecting proxy itself, against a tiny local HTTP server.

Each fault kind must do what it says (and only that): status faults never reach
the server, ``drop-response`` does, resets and cut bodies break the client's
read, and the seeded draw is reproducible and counted.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from faults.proxy import KINDS, STATUS_KINDS, FaultPlan, FaultProxy

#: What the client sees when the proxy breaks a connection.
BROKEN = (ConnectionError, http.client.HTTPException, TimeoutError)


def payload(size: int) -> bytes:
    return bytes(index % 251 for index in range(size))


class Upstream(ThreadingHTTPServer):
    """Records every request it gets: (method, path, host, body sha256)."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), UpstreamHandler)
        self.seen: list[tuple[str, str, str, str]] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class UpstreamHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Upstream

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", ""):
            parts: list[bytes] = []
            while True:
                size = int(self.rfile.readline().strip(), 16)
                if not size:
                    self.rfile.readline()
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _record(self, body: bytes) -> None:
        with self.server.lock:
            self.server.seen.append(
                (
                    self.command,
                    self.path,
                    self.headers.get("Host", ""),
                    hashlib.sha256(body).hexdigest(),
                )
            )

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self) -> None:
        self._record(b"")
        kind, _, arg = self.path.split("?", 1)[0].strip("/").partition("/")
        if kind == "bytes":
            self._send(200, payload(int(arg)), {"X-Size": arg})
        elif kind == "chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            data = payload(int(arg))
            for start in range(0, len(data), 10_000):
                piece = data[start : start + 10_000]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        elif kind == "until-close":
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(payload(int(arg)))
            self.close_connection = True
        elif kind == "json":
            link = {"mediaLink": f"{self.server.url}/download/{arg}", "name": arg}
            self._send(200, json.dumps(link).encode(), {"Content-Type": "application/json"})
        elif kind == "session":
            self._send(308, b"", {"Location": f"{self.server.url}/upload/{arg}"})
        else:
            self._send(404, b"no such thing")

    do_HEAD = do_GET

    def do_PUT(self) -> None:
        body = self._body()
        self._record(body)
        answer = {"sha256": hashlib.sha256(body).hexdigest(), "size": len(body)}
        self._send(200, json.dumps(answer).encode(), {"Content-Type": "application/json"})

    do_POST = do_PUT

    def do_DELETE(self) -> None:
        self._record(b"")
        self.send_response(204)
        self.end_headers()


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def proxy(upstream: Upstream) -> Iterator[FaultProxy]:
    with FaultProxy(upstream.url, dialect="plain") as running:
        yield running


def connect(proxy: FaultProxy) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)


def request(
    proxy: FaultProxy, method: str, path: str, body: bytes | None = None, **headers: str
) -> tuple[int, dict[str, str], bytes]:
    connection = connect(proxy)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def test_requests_pass_through_unchanged_on_one_kept_alive_connection(
    proxy: FaultProxy, upstream: Upstream
) -> None:
    connection = connect(proxy)
    for size in (0, 1, 100_000):
        connection.request("GET", f"/bytes/{size}")
        response = connection.getresponse()
        assert response.status == 200
        assert response.getheader("X-Size") == str(size)
        assert response.read() == payload(size)
    connection.request("GET", "/chunked/70000")
    assert connection.getresponse().read() == payload(70_000)
    connection.request("HEAD", "/bytes/5000")
    response = connection.getresponse()
    assert response.getheader("Content-Length") == "5000"
    assert response.read() == b""
    body = payload(300_000)
    connection.request("PUT", "/echo", body=body, headers={"Host": "bucket.example:4321"})
    answer = json.loads(connection.getresponse().read())
    assert answer == {"sha256": hashlib.sha256(body).hexdigest(), "size": len(body)}
    connection.request("DELETE", "/thing")
    response = connection.getresponse()
    assert response.status == 204
    response.read()
    connection.request("GET", "/until-close/5000")
    assert connection.getresponse().read() == payload(5000)
    connection.close()
    assert len(upstream.seen) == 8
    # The Host header reaches the emulator as the client sent it (S3 SigV4 signs it).
    assert (
        "PUT",
        "/echo",
        "bucket.example:4321",
        hashlib.sha256(body).hexdigest(),
    ) in upstream.seen
    assert upstream.seen[0][2] == f"127.0.0.1:{proxy.port}"
    stats = proxy.stats()
    assert (stats.requests, stats.faulted) == (8, 0)


def test_chunked_request_body_is_forwarded(proxy: FaultProxy, upstream: Upstream) -> None:
    body = payload(50_000)
    connection = connect(proxy)
    connection.request(
        "PUT", "/echo", body=iter([body[:20_000], body[20_000:]]), encode_chunked=True
    )
    answer = json.loads(connection.getresponse().read())
    connection.close()
    assert answer["sha256"] == hashlib.sha256(body).hexdigest()


@pytest.mark.parametrize("kind", STATUS_KINDS)
@pytest.mark.parametrize("dialect", ["s3", "azure", "gcs"])
def test_status_faults_never_reach_the_emulator(
    upstream: Upstream, kind: str, dialect: str
) -> None:
    with FaultProxy(upstream.url, FaultPlan(every=kind, retry_after=2), dialect=dialect) as proxy:
        connection = connect(proxy)
        connection.request("PUT", "/echo", body=b"data")
        response = connection.getresponse()
        body = response.read()
        assert response.status == int(kind)
        assert (response.getheader("Retry-After") == "2") == (kind != "500")
        if dialect == "gcs":
            assert json.loads(body)["error"]["code"] == int(kind)
        else:
            assert b"<Error><Code>" in body
        if dialect == "azure":
            assert response.getheader("x-ms-error-code")
        # The connection stays usable: the next request passes once healed.
        proxy.plan = FaultPlan()
        connection.request("GET", "/bytes/10")
        assert connection.getresponse().read() == payload(10)
        connection.close()
        assert [seen[0] for seen in upstream.seen] == ["GET"]
        assert proxy.stats().by_kind == {kind: 1}


@pytest.mark.parametrize(
    ("kind", "reaches_emulator"),
    [("reset-before-body", False), ("reset-after-body", False), ("drop-response", True)],
)
def test_resets_break_the_request(upstream: Upstream, kind: str, reaches_emulator: bool) -> None:
    with FaultProxy(upstream.url, FaultPlan(every=kind)) as proxy:
        with pytest.raises(BROKEN):
            request(proxy, "PUT", "/echo", payload(20_000))
        assert proxy.stats().by_kind == {kind: 1}
    assert bool(upstream.seen) == reaches_emulator


@pytest.mark.parametrize(
    "path", ["/bytes/100000", "/chunked/100000", "/until-close/1000", "/bytes/1"]
)
def test_cut_body_breaks_the_read_midway(upstream: Upstream, path: str) -> None:
    with FaultProxy(upstream.url, FaultPlan(every="cut-body")) as proxy:
        connection = connect(proxy)
        connection.request("GET", path)
        response = connection.getresponse()
        assert response.status == 200
        with pytest.raises(BROKEN):
            response.read()
        connection.close()
        assert proxy.stats().by_kind == {"cut-body": 1}
    assert len(upstream.seen) == 1


def test_cut_body_without_a_body_drops_the_response(upstream: Upstream) -> None:
    with FaultProxy(upstream.url, FaultPlan(every="cut-body")) as proxy:
        with pytest.raises(BROKEN):
            request(proxy, "HEAD", "/bytes/10")
        assert proxy.stats().by_kind == {"drop-response": 1}


def test_slow_responses_are_late_but_whole(upstream: Upstream) -> None:
    with FaultProxy(upstream.url, FaultPlan(every="slow", slow_seconds=0.4)) as proxy:
        started = time.monotonic()
        status, _, body = request(proxy, "GET", "/bytes/1000")
        assert time.monotonic() - started >= 0.4
        assert (status, body) == (200, payload(1000))
        assert proxy.stats().by_kind == {"slow": 1}


def _outcomes(proxy: FaultProxy, count: int) -> list[int]:
    statuses = []
    for _ in range(count):
        status, _, _ = request(proxy, "GET", "/bytes/10")
        statuses.append(status)
    return statuses


def test_rate_is_a_seeded_share_and_counted(upstream: Upstream) -> None:
    plan = FaultPlan(rate=0.3, kinds=STATUS_KINDS, seed=42)
    with FaultProxy(upstream.url, plan) as proxy:
        first = _outcomes(proxy, 300)
        stats = proxy.stats()
        proxy.plan = plan  # the same seed again: the same draws
        proxy.reset_stats()
        second = _outcomes(proxy, 300)
    failed = sum(status != 200 for status in first)
    assert first == second
    assert 0.2 * 300 < failed < 0.4 * 300
    assert stats.requests == 300
    assert stats.faulted == failed == sum(stats.by_kind.values())
    assert set(stats.by_kind) == set(STATUS_KINDS)
    assert len(upstream.seen) == 2 * (300 - failed)


def test_every_request_fails_until_healed(proxy: FaultProxy, upstream: Upstream) -> None:
    proxy.plan = FaultPlan(every="503")
    assert [request(proxy, "GET", "/bytes/1")[0] for _ in range(5)] == [503] * 5
    proxy.plan = FaultPlan()
    assert request(proxy, "GET", "/bytes/1")[0] == 200
    assert proxy.stats().faulted == 5
    assert len(upstream.seen) == 1


def test_match_limits_faults_to_matching_requests(proxy: FaultProxy) -> None:
    proxy.plan = FaultPlan(every="500", match=r"^PUT /echo\b")
    assert request(proxy, "GET", "/bytes/1")[0] == 200
    assert request(proxy, "PUT", "/echo", b"x")[0] == 500
    stats = proxy.stats()
    assert (stats.requests, stats.faulted) == (2, 1)


def _raw_exchange(proxy: FaultProxy, body: bytes) -> bytes:
    """A PUT with ``Expect: 100-continue``, sending the body only when invited."""
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
        head = (
            f"PUT /echo HTTP/1.1\r\nHost: h\r\nContent-Length: {len(body)}\r\n"
            "Expect: 100-continue\r\n\r\n"
        )
        sock.sendall(head.encode())
        first = sock.recv(65536)
        if first.startswith(b"HTTP/1.1 100"):
            sock.sendall(body)
            answer = b""
            while b"sha256" not in answer:
                answer += sock.recv(65536)
            return answer
        return first


def test_expect_100_continue(proxy: FaultProxy, upstream: Upstream) -> None:
    body = payload(1000)
    assert hashlib.sha256(body).hexdigest().encode() in _raw_exchange(proxy, body)
    proxy.plan = FaultPlan(every="503")
    answer = _raw_exchange(proxy, body)
    assert answer.startswith(b"HTTP/1.1 503")
    assert b"Connection: close" in answer
    assert len(upstream.seen) == 1


def test_location_pointing_at_the_emulator_is_rewritten(proxy: FaultProxy) -> None:
    status, headers, _ = request(proxy, "GET", "/session/abc")
    assert status == 308
    assert headers["Location"] == f"{proxy.url}/upload/abc"


def test_loopback_only() -> None:
    with pytest.raises(ValueError, match="loopback"):
        FaultProxy("http://192.0.2.1:80")
    with pytest.raises(ValueError, match="plain http"):
        FaultProxy("https://127.0.0.1:443")
    with FaultProxy("http://localhost:9") as running:
        assert running.url.startswith("http://127.0.0.1:")


@pytest.mark.parametrize("dialect", ["plain", "s3", "azure", "gcs"])
def test_emulator_down_is_a_502(upstream: Upstream, dialect: str) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with FaultProxy(f"http://127.0.0.1:{port}", dialect=dialect) as proxy:
        assert request(proxy, "GET", "/x")[0] == 502
        assert proxy.stats().upstream_errors == 1


def test_plan_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        FaultPlan(rate=1.5)
    with pytest.raises(ValueError, match="unknown fault kinds"):
        FaultPlan(every="teapot")
    assert set(KINDS) >= set(STATUS_KINDS)


def test_spare_exempts_matching_requests(proxy: FaultProxy) -> None:
    proxy.plan = FaultPlan(every="500", spare=r"[?&]sig=")
    assert request(proxy, "GET", "/bytes/1?sig=abc")[0] == 200
    assert request(proxy, "GET", "/bytes/1")[0] == 500


def test_after_lets_the_first_requests_through(proxy: FaultProxy) -> None:
    proxy.plan = FaultPlan(every="503", after=2)
    assert [request(proxy, "GET", "/bytes/1")[0] for _ in range(4)] == [200, 200, 503, 503]
    proxy.plan = FaultPlan(every="503", after=1)  # counted again from the new plan
    assert [request(proxy, "GET", "/bytes/1")[0] for _ in range(2)] == [200, 503]


def test_host_can_be_the_emulators_own(upstream: Upstream) -> None:
    with FaultProxy(upstream.url, host="upstream") as proxy:
        request(proxy, "GET", "/bytes/1", Host="client.example")
    assert upstream.seen[0][2] == upstream.url.removeprefix("http://")


def test_emulator_urls_in_json_bodies_are_rewritten(upstream: Upstream) -> None:
    with FaultProxy(upstream.url, rewrite_json=True) as proxy:
        status, headers, body = request(proxy, "GET", "/json/blob")
        assert status == 200
        assert json.loads(body)["mediaLink"] == f"{proxy.url}/download/blob"
        assert int(headers["Content-Length"]) == len(body)
    with FaultProxy(upstream.url) as proxy:
        _, _, body = request(proxy, "GET", "/json/blob")
        assert json.loads(body)["mediaLink"] == f"{upstream.url}/download/blob"


def test_limit_stops_after_that_many_faults(proxy: FaultProxy) -> None:
    proxy.plan = FaultPlan(every="500", limit=2)
    assert [request(proxy, "GET", "/bytes/1")[0] for _ in range(4)] == [500, 500, 200, 200]
