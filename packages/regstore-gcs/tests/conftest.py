"""Fixtures for the gcs driver's own tests: both emulators, fresh buckets, a test key.

``emulator`` runs a test once per emulator (fake-gcs-server, then
gcp-storage-emulator); the fixtures below it give that test a fresh bucket,
drivers over it, and a view of the driver's staged objects. ``proxy`` puts a
``FaultProxy`` between the drivers and the emulator, to count requests, to
answer chosen ones with HTTP failures, and to break chosen ones in transit.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

import regstore
from regstore_gcs import testing
from testenv import backend_env, unique_name

#: Small parts, so that kilobytes of test data cross part boundaries.
CHUNK = 256 * 1024

EMULATORS = ("fakegcs", "gcpemu")


def emulator_url(name: str) -> str:
    """The endpoint of a running emulator (skips or fails the test when it is not running)."""
    return next(iter(backend_env(name).values()))


def admin_client(endpoint: str) -> storage.Client:
    """A plain SDK client for the emulator, to create buckets and look behind the driver."""
    return storage.Client(
        project="test",
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": endpoint},
    )


@pytest.fixture(scope="session")
def service_account() -> dict[str, str]:
    """A service-account key made here (emulators do not check signatures)."""
    return dict(testing.service_account())


@pytest.fixture
def fakegcs_url() -> str:
    """fake-gcs-server's endpoint, for tests that need its faithfulness."""
    return emulator_url("fakegcs")


@pytest.fixture(params=EMULATORS)
def emulator(request: pytest.FixtureRequest) -> str:
    """The emulator this test runs against, by its ``scripts/emulators.py`` name."""
    name: str = request.param
    return name


@pytest.fixture
def endpoint(emulator: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The emulator's URL, also set as ``STORAGE_EMULATOR_HOST`` for drivers built here."""
    url = emulator_url(emulator)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", url)
    return url


@pytest.fixture
def admin(endpoint: str) -> storage.Client:
    return admin_client(endpoint)


@pytest.fixture
def bucket(admin: storage.Client) -> Iterator[storage.Bucket]:
    """A fresh bucket, removed after the test."""
    created = admin.create_bucket(unique_name("gcs"))
    yield created
    with contextlib.suppress(Exception):
        created.delete(force=True)


@pytest.fixture
def make_driver(bucket: storage.Bucket) -> Iterator[Callable[..., regstore.StorageDriver]]:
    """Build drivers over the test's bucket (small parts unless told otherwise); closed after."""
    made: list[regstore.StorageDriver] = []

    def make(**parameters: Any) -> regstore.StorageDriver:
        values: dict[str, Any] = {"bucket": bucket.name, "chunksize": CHUNK, **parameters}
        driver = regstore.create("gcs", values)
        made.append(driver)
        return driver

    yield make
    for driver in made:
        driver.close()


@pytest.fixture
def driver(make_driver: Callable[..., regstore.StorageDriver]) -> regstore.StorageDriver:
    return make_driver()


@pytest.fixture
def staged(bucket: storage.Bucket) -> Callable[[str], list[str]]:
    """Names of the objects the driver keeps for itself (under ``~regstore/``)."""

    def names(rootdirectory: str = "") -> list[str]:
        root = rootdirectory.strip("/")
        prefix = f"{root}/~regstore/" if root else "~regstore/"
        return sorted(blob.name for blob in bucket.list_blobs(prefix=prefix))

    return names


# -- a fault-injecting proxy in front of fake-gcs-server --------------------------------


#: How a request can break in transit: the connection closes before it is forwarded
#: (``reset``), after the emulator carried it out (``drop``: the answer is lost),
#: halfway through the answer's body (``cut``), or its answer's body is replaced by
#: bytes that are not JSON (``garbage``, with status 200).
BREAKS = ("reset", "drop", "cut", "garbage")
#: The body a ``garbage`` answer carries.
GARBAGE = b"<html>a captive portal says hello</html>"


@dataclass
class Fault:
    """Answer ``times`` requests matching ``method`` and ``path_part`` with ``status``.

    With ``kind`` one of ``BREAKS`` the request breaks that way instead; ``then``
    runs once the emulator has answered, before the answer (or its loss) reaches
    the driver.
    """

    method: str
    path_part: str
    status: int
    times: int
    reason: str = "backendError"
    kind: str = "status"
    then: Callable[[], object] | None = None


@dataclass
class Seen:
    method: str
    path: str
    #: Request headers, names in lower case.
    headers: dict[str, str] = field(default_factory=dict)
    injected: int | None = None


class FaultProxy:
    """Forwards HTTP to an emulator, except requests a ``Fault`` claims; records them all."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.faults: list[Fault] = []
        self.seen: list[Seen] = []
        #: When set, listings are asked for pages of this many objects (``maxResults``,
        #: recorded as sent), so the emulator pages them as GCS pages thousands.
        self.page_size: int | None = None
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                target = self.path
                if proxy.page_size and "/o?" in target and "maxResults=" not in target:
                    target += f"&maxResults={proxy.page_size}"
                fault = proxy._claim(self.command, target)
                headers = {key.lower(): value for key, value in self.headers.items()}
                proxy._record(self.command, target, headers, fault)
                if fault is not None and fault.kind == "status":
                    self._reply_fault(fault)
                    return
                if fault is not None and fault.kind == "reset":
                    self.close_connection = True
                    return
                if fault is not None and fault.kind == "garbage":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(GARBAGE)))
                    self.end_headers()
                    self.wfile.write(GARBAGE)
                    return
                upstream = http.client.HTTPConnection(
                    proxy.upstream_host, proxy.upstream_port, timeout=60
                )
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                upstream.request(self.command, target, body=body, headers=headers)
                response = upstream.getresponse()
                data = response.read()
                upstream.close()
                if fault is not None and fault.then is not None:
                    fault.then()
                if fault is not None and fault.kind == "drop":
                    self.close_connection = True
                    return
                self.send_response(response.status)
                for key, value in response.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if fault is not None and fault.kind == "cut":
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(data)

            def _reply_fault(self, fault: Fault) -> None:
                message = f"injected {fault.status}"
                detail = {"reason": fault.reason, "message": message}
                error = {"code": fault.status, "message": message, "errors": [detail]}
                payload = json.dumps({"error": error}).encode()
                self.send_response(fault.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = do_HEAD = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def fail(self, method: str, path_part: str, status: int, times: int = 1, **kw: Any) -> None:
        """Make the next ``times`` matching requests fail with ``status``."""
        with self._lock:
            self.faults.append(Fault(method, path_part, status, times, **kw))

    def break_next(
        self,
        method: str,
        path_part: str,
        kind: str,
        times: int = 1,
        then: Callable[[], object] | None = None,
    ) -> None:
        """Break the next ``times`` matching requests in transit (``kind``: one of ``BREAKS``)."""
        assert kind in BREAKS, kind
        with self._lock:
            self.faults.append(Fault(method, path_part, 0, times, kind=kind, then=then))

    def requests(self, method: str, path_part: str = "") -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.method == method and path_part in s.path]

    def _claim(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and fault.method == method and fault.path_part in path:
                    fault.times -= 1
                    return fault
        return None

    def _record(self, method: str, path: str, headers: dict[str, str], fault: Fault | None) -> None:
        with self._lock:
            self.seen.append(Seen(method, path, headers, fault.status if fault else None))

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def proxy(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    """A fault proxy in front of the test's emulator, set as the drivers' endpoint."""
    running = FaultProxy(endpoint)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", running.url)
    yield running
    running.close()
