"""OpenTelemetry: a span and a duration per driver call, bytes counted, never a secret.

The SDK's in-memory span exporter and metric reader are installed as the
process's providers for each test (and removed afterwards), then drivers are
created as a user would, with ``regstore.create``. The span tests run on every
driver whose backend is running: inmemory, filesystem, S3 on moto, Azure on
Azurite, GCS on fake-gcs-server.
"""

from __future__ import annotations

import dataclasses
import gc
import io
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import regstore
from regstore.middleware import apply_middleware
from regstore.testsuite import DriverSuite
from testenv import backend_env, unique_name

if TYPE_CHECKING:  # the conftest module is not importable by name when run with others
    from conftest import Ran, Store

BACKENDS = ("inmemory", "filesystem", "s3", "azure", "gcs")
CLOUDS = ("s3", "azure", "gcs")
BASE = "/docker/registry/v2/blobs"
DURATION = "regstore.operation.duration"


def _reset_providers() -> None:
    """Forget the process's tracer and meter providers, as OpenTelemetry's own test utilities do.

    The API lets a provider be set once per process; tests need a fresh one each.
    """
    from opentelemetry.metrics import _internal as metrics_internal
    from opentelemetry.util._once import Once

    trace._TRACER_PROVIDER_SET_ONCE = Once()
    trace._TRACER_PROVIDER = None
    metrics_internal._METER_PROVIDER_SET_ONCE = Once()
    metrics_internal._METER_PROVIDER = None


@dataclasses.dataclass
class Recorded:
    """What the SDK collected: finished spans and metric points."""

    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader

    def spans(self) -> list[ReadableSpan]:
        """regstore's finished spans, oldest first."""
        return [
            span
            for span in self.exporter.get_finished_spans()
            if span.instrumentation_scope is not None
            and span.instrumentation_scope.name == "regstore"
        ]

    def points(self, name: str) -> list[tuple[dict[str, Any], Any]]:
        """``(attributes, point)`` of every data point of the metric ``name``."""
        found = []
        data = self.reader.get_metrics_data()
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        found += [(dict(p.attributes or {}), p) for p in metric.data.data_points]
        return found

    def bytes_moved(self) -> dict[str, int]:
        """Bytes counted by direction (read, write)."""
        totals: dict[str, int] = {}
        for attributes, point in self.points("regstore.io.bytes"):
            direction = attributes["regstore.direction"]
            totals[direction] = totals.get(direction, 0) + point.value
        return totals

    def everything(self) -> str:
        """Every span and metric point as the SDK serialises them for an exporter."""
        spans = [span.to_json() for span in self.exporter.get_finished_spans()]
        data = self.reader.get_metrics_data()
        return "\n".join([*spans, data.to_json() if data else ""])


@pytest.fixture
def otel() -> Iterator[Recorded]:
    """In-memory span exporter and metric reader as the process's providers, for one test."""
    _reset_providers()
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(meter_provider)
    yield Recorded(exporter, reader)
    tracer_provider.shutdown()
    meter_provider.shutdown()
    _reset_providers()


@pytest.fixture
def no_providers() -> Iterator[None]:
    """No provider configured before the test, and none left behind by it."""
    _reset_providers()
    yield
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.shutdown()
    _reset_providers()


def _open(backend: str, make_store: Callable[..., Store]) -> regstore.StorageDriver:
    if backend == "inmemory":
        return regstore.create("inmemory")
    store = make_store(backend, unique_name("tel"))
    return regstore.create(backend, store.parameters)


@pytest.fixture(params=BACKENDS)
def traced(
    request: pytest.FixtureRequest, otel: Recorded, make_store: Callable[..., Store]
) -> Iterator[regstore.StorageDriver]:
    """A driver on each backend, created after the providers were configured."""
    driver = _open(request.param, make_store)
    yield driver
    try:
        driver.delete("/docker")
    except regstore.PathNotFoundError:
        pass
    finally:
        driver.close()


@pytest.fixture(params=("inmemory", "filesystem"))
def local(
    request: pytest.FixtureRequest, otel: Recorded, make_store: Callable[..., Store]
) -> Iterator[regstore.StorageDriver]:
    """A driver on each local backend, created after the providers were configured."""
    driver = _open(request.param, make_store)
    yield driver
    driver.close()


def _names(recorded: Recorded) -> list[tuple[str, str]]:
    return [(span.name, str((span.attributes or {})["regstore.path"])) for span in recorded.spans()]


# -- spans ---------------------------------------------------------------------------------


def test_every_call_is_a_span_named_for_its_operation(
    traced: regstore.StorageDriver, otel: Recorded
) -> None:
    driver = traced
    blob, upload, moved = f"{BASE}/a/data", f"{BASE}/upload", f"{BASE}/b/data"
    driver.put_content(blob, b"x" * 10)
    assert driver.get_content(blob) == b"x" * 10
    driver.stat(blob)
    driver.list(BASE)
    assert [info.path for info in driver.walk(BASE)] == [f"{BASE}/a", blob]
    with driver.writer(upload) as writer:
        writer.write(b"abc")
        writer.close()
    with driver.writer(upload, append=True) as writer:
        writer.write(b"def")
        writer.commit()
    with driver.reader(upload) as stream:
        assert stream.read() == b"abcdef"
    driver.move(upload, moved)
    driver.redirect_url(moved)
    driver.delete(BASE)

    assert _names(otel) == [
        ("regstore.put_content", blob),
        ("regstore.get_content", blob),
        ("regstore.stat", blob),
        ("regstore.list", BASE),
        ("regstore.walk", BASE),
        ("regstore.writer", upload),
        ("regstore.writer.close", upload),
        ("regstore.writer", upload),
        ("regstore.writer.commit", upload),
        ("regstore.reader", upload),
        ("regstore.move", upload),
        ("regstore.redirect_url", moved),
        ("regstore.delete", BASE),
    ]
    for span in otel.spans():
        assert span.attributes is not None
        assert span.attributes["regstore.driver"] == driver.name
        assert span.status.status_code is StatusCode.UNSET, span.name
        assert span.end_time is not None
    move = next(span for span in otel.spans() if span.name == "regstore.move")
    assert move.attributes is not None
    assert move.attributes["regstore.destination"] == moved

    durations = {attrs["regstore.operation"]: point for attrs, point in otel.points(DURATION)}
    assert set(durations) == {name.removeprefix("regstore.") for name, _ in _names(otel)}
    assert durations["writer"].count == 2
    assert durations["put_content"].sum > 0
    for attributes, _ in otel.points(DURATION):
        # Metrics name the operation, never the path (one series per operation).
        assert set(attributes) == {"regstore.driver", "regstore.operation"}
        assert attributes["regstore.driver"] == driver.name


def test_walk_span_lasts_until_the_last_entry(
    local: regstore.StorageDriver, otel: Recorded
) -> None:
    for n in range(3):
        local.put_content(f"{BASE}/f{n}", b"x")
    otel.exporter.clear()
    entries = local.walk(BASE)
    next(entries)
    assert otel.spans() == []  # still walking
    rest = list(entries)
    assert len(rest) == 2
    (span,) = otel.spans()
    assert span.name == "regstore.walk"


def test_a_walk_left_unfinished_ends_its_span_when_closed(
    local: regstore.StorageDriver, otel: Recorded
) -> None:
    for n in range(3):
        local.put_content(f"{BASE}/f{n}", b"x")
    otel.exporter.clear()
    entries = local.walk(BASE)
    next(entries)
    entries.close()  # type: ignore[attr-defined]
    (span,) = otel.spans()
    assert span.name == "regstore.walk"
    assert span.status.status_code is StatusCode.UNSET


def test_a_walk_dropped_before_its_first_entry_still_ends_its_span(
    local: regstore.StorageDriver, otel: Recorded
) -> None:
    local.put_content(f"{BASE}/f", b"x")
    otel.exporter.clear()
    entries = local.walk(BASE)
    del entries
    gc.collect()
    (span,) = otel.spans()
    assert span.name == "regstore.walk"
    assert [attrs["regstore.operation"] for attrs, _ in otel.points(DURATION)] == [
        "put_content",
        "walk",
    ]


def test_pending_uploads_and_purge_are_spans(otel: Recorded) -> None:
    from datetime import datetime, timedelta, timezone

    driver = regstore.create("inmemory")
    with driver.writer(f"{BASE}/upload") as writer:
        writer.write(b"abc")
    assert [u.path for u in driver.pending_uploads("/")] == [f"{BASE}/upload"]
    later = datetime.now(timezone.utc) + timedelta(seconds=5)
    assert driver.purge_uploads(later, "/") == [f"{BASE}/upload"]
    assert _names(otel)[-2:] == [("regstore.pending_uploads", "/"), ("regstore.purge_uploads", "/")]


def test_a_writer_that_hashes_is_one_span(local: regstore.StorageDriver, otel: Recorded) -> None:
    with local.writer(f"{BASE}/upload", digest="sha256") as writer:
        writer.write(b"abc")
    with local.writer(f"{BASE}/upload", append=True, digest="sha256") as writer:
        writer.commit()
    writer_spans = [name for name, _ in _names(otel) if name == "regstore.writer"]
    assert writer_spans == ["regstore.writer", "regstore.writer"]


def test_middleware_records_one_span_per_call(
    otel: Recorded, make_store: Callable[..., Store]
) -> None:
    store = make_store("filesystem")
    inner = regstore.create("filesystem", store.parameters)
    driver = apply_middleware(inner, [("redirect", {"baseurl": "http://files.local:8080"})])
    driver.put_content(f"{BASE}/a", b"x")
    assert driver.redirect_url(f"{BASE}/a") == f"http://files.local:8080{BASE}/a"
    assert _names(otel) == [("regstore.put_content", f"{BASE}/a")]
    driver.close()


# -- errors --------------------------------------------------------------------------------


def test_errors_set_status_exception_event_and_error_type(
    local: regstore.StorageDriver, otel: Recorded
) -> None:
    missing = f"{BASE}/missing"
    with pytest.raises(regstore.PathNotFoundError):
        local.get_content(missing)
    with pytest.raises(regstore.PathNotFoundError):
        list(local.walk(missing))
    with pytest.raises(regstore.PathNotFoundError):
        local.move(missing, f"{BASE}/elsewhere")

    spans = otel.spans()
    assert [span.name for span in spans] == [
        "regstore.get_content",
        "regstore.walk",
        "regstore.move",
    ]
    for span in spans:
        assert span.status.status_code is StatusCode.ERROR
        assert span.status.description is not None
        assert missing in span.status.description
        assert span.attributes is not None
        assert span.attributes["error.type"] == "PathNotFoundError"
        (event,) = span.events
        assert event.name == "exception"
        assert event.attributes is not None
        assert "PathNotFoundError" in str(event.attributes["exception.type"])
        assert missing in str(event.attributes["exception.message"])

    failed = {
        attrs["regstore.operation"]: point
        for attrs, point in otel.points(DURATION)
        if attrs.get("error.type") == "PathNotFoundError"
    }
    assert set(failed) == {"get_content", "walk", "move"}
    assert all(point.count == 1 for point in failed.values())


def test_cancel_is_a_span_and_a_closed_writer_never_reaches_the_driver(
    local: regstore.StorageDriver, otel: Recorded
) -> None:
    writer = local.writer(f"{BASE}/upload")
    writer.write(b"abc")
    writer.cancel()
    with pytest.raises(regstore.WriterClosedError):
        writer.commit()
    # The closed writer refuses before reaching the driver: no commit span, a cancel span.
    assert [name for name, _ in _names(otel)] == ["regstore.writer", "regstore.writer.cancel"]


# -- bytes ---------------------------------------------------------------------------------


def test_bytes_of_content_and_streams_are_counted(
    traced: regstore.StorageDriver, otel: Recorded
) -> None:
    driver = traced
    chunks = [b"a" * 1000, bytearray(b"b" * 2000), memoryview(b"c" * 500)]
    path = f"{BASE}/stream"
    with driver.writer(path) as writer:
        writer.write(chunks[0])
        writer.close()
    with driver.writer(path, append=True) as writer:
        assert writer.size == 1000
        writer.writelines([bytes(chunks[1]), bytes(chunks[2])])
        assert writer.size == 3500
        writer.commit()
    driver.put_content(f"{BASE}/small", b"s" * 100)
    assert otel.bytes_moved() == {"write": 3600}

    buffer = bytearray(1024)
    got = 0
    with driver.reader(path) as stream:
        while n := stream.readinto(buffer):
            got += n
    assert got == 3500
    with driver.reader(path, 3000) as stream:
        assert stream.read(200) == b"c" * 200
        assert stream.read() == b"c" * 300
    assert driver.get_content(f"{BASE}/small") == b"s" * 100
    assert otel.bytes_moved() == {"write": 3600, "read": 3500 + 500 + 100}


def test_reader_lines_and_iteration_are_counted(
    local: regstore.StorageDriver, otel: Recorded
) -> None:
    local.put_content(f"{BASE}/lines", b"one\ntwo\nthree\n")
    with local.reader(f"{BASE}/lines") as stream:
        assert stream.readline() == b"one\n"
        assert list(stream) == [b"two\n", b"three\n"]
    assert otel.bytes_moved()["read"] == 14


def test_reader_and_writer_keep_their_file_object_behaviour(
    local: regstore.StorageDriver, otel: Recorded
) -> None:
    local.put_content(f"{BASE}/f", b"0123456789")
    stream = local.reader(f"{BASE}/f", 2)
    assert isinstance(stream, io.IOBase)
    assert stream.readable()
    assert not stream.closed
    wrapped = io.TextIOWrapper(stream, encoding="ascii")  # type: ignore[type-var]
    assert wrapped.read() == "23456789"
    wrapped.close()
    assert stream.closed

    writer = local.writer(f"{BASE}/w")
    assert isinstance(writer, regstore.FileWriter)
    assert writer.write(b"abc") == 3
    assert (writer.tell(), writer.closed, writer.path) == (3, False, f"{BASE}/w")
    writer.close()
    assert writer.closed
    with pytest.raises(regstore.WriterClosedError):
        writer.write(b"more")
    with local.writer(f"{BASE}/w", append=True) as resumed:
        resumed.cancel()
    assert otel.bytes_moved() == {"write": 10 + 3, "read": 8}


# -- nothing without a configured provider ---------------------------------------------------


def test_without_a_configured_provider_drivers_are_not_instrumented(no_providers: None) -> None:
    driver = regstore.create("inmemory")
    driver.put_content("/a", b"x")
    # The driver's own objects come back, not counting wrappers.
    assert type(driver.reader("/a")).__module__ != "regstore.telemetry"
    assert type(driver.writer("/b")).__module__ != "regstore.telemetry"


# -- secrets -------------------------------------------------------------------------------


def _secret_parameters(
    backend: str, make_store: Callable[..., Store]
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Parameters with distinctive credentials, and the secrets among them."""
    store = make_store(backend, unique_name("sec"))
    parameters = dict(store.parameters)
    if backend == "s3":
        # moto accepts any key pair: make both easy to spot.
        parameters.update(accesskey="AKIATELEMETRYSECRET1", secretkey="tel-secret-Zq8Wd3Rv6Nb1Kx")
        return parameters, (parameters["accesskey"], parameters["secretkey"])
    if backend == "azure":
        fields = dict(
            part.split("=", 1)
            for part in backend_env("azurite")["REGSTORE_TEST_AZURITE_CONNECTION_STRING"].split(";")
            if "=" in part
        )
        parameters = {
            "accountname": fields["AccountName"],
            "accountkey": fields["AccountKey"],
            "serviceurl": fields["BlobEndpoint"],
            "container": parameters["container"],
            "rootdirectory": "/registry",
        }
        return parameters, (fields["AccountKey"],)
    account = parameters["credentials"]
    pem_lines = [
        line
        for line in account["private_key"].splitlines()
        if line and not line.startswith("-----") and len(line) >= 40
    ]
    return parameters, (account["private_key_id"], *pem_lines)


@pytest.mark.parametrize("backend", CLOUDS)
def test_no_secret_in_any_span_or_metric(
    backend: str, otel: Recorded, make_store: Callable[..., Store]
) -> None:
    parameters, secrets = _secret_parameters(backend, make_store)
    with regstore.create(backend, parameters) as driver:
        driver.put_content(f"{BASE}/a", b"content")
        driver.get_content(f"{BASE}/a")
        url = driver.redirect_url(f"{BASE}/a")
        with driver.writer(f"{BASE}/w") as writer:
            writer.write(b"abc")
            writer.commit()
        with driver.reader(f"{BASE}/w") as stream:
            stream.read()
        list(driver.walk("/"))
        for call in (
            lambda: driver.get_content(f"{BASE}/missing"),
            lambda: driver.stat(f"{BASE}/missing"),
            lambda: driver.reader(f"{BASE}/missing"),
            lambda: driver.move(f"{BASE}/missing", f"{BASE}/b"),
        ):
            with pytest.raises(regstore.PathNotFoundError):
                call()
        driver.delete(BASE)

    everything = otel.everything()
    assert f"{BASE}/missing" in everything  # the search below covers the failures too
    assert "regstore.operation.duration" in everything
    if backend == "s3":
        assert url is not None
        assert secrets[0] in url  # what a careless span would have kept
    leaks = [secret[:12] for secret in secrets if secret in everything]
    assert leaks == [], f"secrets in exported telemetry: {leaks}"
    for span in otel.spans():
        assert set(span.attributes or {}) <= {
            "regstore.driver",
            "regstore.path",
            "regstore.destination",
            "error.type",
        }


# -- the conformance suite with telemetry on --------------------------------------------------


class TestInMemoryTraced(DriverSuite):
    """The whole contract through the counting readers and writers."""

    unsupported = {
        "test_resume_from_second_driver": "pending uploads belong to one inmemory instance",
    }

    @pytest.fixture
    def driver(self, otel: Recorded) -> regstore.StorageDriver:
        return regstore.create("inmemory")


class TestFilesystemTraced(DriverSuite):
    @pytest.fixture
    def root(self, tmp_path: Path) -> Path:
        return tmp_path / "registry"

    @pytest.fixture
    def driver(self, otel: Recorded, root: Path) -> Iterator[regstore.StorageDriver]:
        with regstore.create("filesystem", {"rootdirectory": str(root)}) as driver:
            yield driver

    @pytest.fixture
    def second_driver(self, otel: Recorded, root: Path) -> Iterator[regstore.StorageDriver]:
        with regstore.create("filesystem", {"rootdirectory": str(root)}) as driver:
            yield driver


# -- regstore --trace ------------------------------------------------------------------------


def test_trace_option_prints_spans_on_stderr(
    cli: Callable[..., Ran], no_providers: None, tmp_path: Path
) -> None:
    local = tmp_path / "layer"
    local.write_bytes(b"layer bytes")
    store = ("--driver", "filesystem", "--param", f"rootdirectory={tmp_path / 'root'}")
    ran = cli("--trace", *store, "put", local, f"{BASE}/layer")
    assert ran.code == 0, ran.err
    assert "span regstore.writer.commit" in ran.err
    assert f"regstore.path={BASE}/layer" in ran.err

    ran = cli("--trace", *store, "cat", f"{BASE}/layer")
    assert ran.raw == b"layer bytes"  # spans never mix into the content
    assert "span regstore.reader" in ran.err

    ran = cli("--trace", *store, "cat", f"{BASE}/missing")
    assert ran.code == 1
    assert "ERROR" in ran.err
    assert "error.type=PathNotFoundError" in ran.err


def test_trace_option_without_the_sdk_says_what_to_install(
    cli: Callable[..., Ran], no_providers: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace", None)  # as if not installed
    ran = cli("--trace", "--driver", "inmemory", "ls", "/")
    assert ran.code == 1
    assert "OpenTelemetry SDK, which is not installed" in ran.err
    assert "pip install" in ran.err
    assert "Traceback" not in ran.err
