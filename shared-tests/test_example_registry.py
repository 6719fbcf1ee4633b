"""The example registry (``examples/registry``) pushed to and pulled from by skopeo.

Two worker processes serve the same store on two loopback ports, and each
upload's ``Location`` names the other one, so the POST, the PATCH and the
final PUT of every blob land on different processes: the SHA-256 of an
upload must carry on from the hash state the driver kept. A multi-layer
image and a two-platform index are pushed, pulled back with the same
digests, a chunk whose digest is wrong is refused with ``DIGEST_INVALID``,
the OpenTelemetry spans of the push are seen in both workers, and then
Debian's docker-registry 2.8.2 serves the same store and pulls clean. On the
filesystem driver and on S3 (Ceph radosgw).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from goregistry import GoRegistry, binary_or_skip, free_port, http, write_config
from ociimages import Layout, pull, push, sha256
from registrytrees import Store, empty_store

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "registry"
START_TIMEOUT = 30.0

# A worker: the example's command line with an OpenTelemetry SDK configured first, keeping
# the spans in memory and writing their names to a file (argv[1]) when the process exits.
WORKER = """
import atexit, sys
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
spans = sys.argv.pop(1)


@atexit.register
def dump():
    with open(spans, "w") as file:
        file.write("\\n".join(span.name for span in exporter.get_finished_spans()))


from regstore_registry.__main__ import main

main(sys.argv[1:])
"""


class Worker:
    """One ``python -m regstore_registry`` process on ``port``, stopped by its PID."""

    def __init__(self, config: Path, port: int, peer: int, folder: Path, name: str) -> None:
        self.port = port
        self.host = f"127.0.0.1:{port}"
        self.spans = folder / f"{name}.spans"
        self.log = folder / f"{name}.log"
        self.command = [
            sys.executable,
            "-c",
            WORKER,
            str(self.spans),
            "--config",
            str(config),
            "--port",
            str(port),
            "--upload-url",
            f"http://127.0.0.1:{peer}",
        ]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(EXAMPLE), *sys.path])}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env
            )

    def wait(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited with {self.process.returncode}: {self.tail()}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"http://{self.host}/v2/", timeout=2) as answer,
            ):
                if answer.status == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"worker did not answer on {self.host} in time: {self.tail()}")

    def stop(self) -> None:
        """SIGTERM (the server closes the store and the spans are written), then wait."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def tail(self) -> str:
        with contextlib.suppress(OSError):
            return self.log.read_text(errors="replace")[-2000:]
        return ""

    def span_names(self) -> set[str]:
        return set(self.spans.read_text().split()) if self.spans.exists() else set()


@contextlib.contextmanager
def workers(config: Path, folder: Path) -> Iterator[tuple[Worker, Worker]]:
    """Two workers over the store in ``config``, each sending uploads to the other."""
    port_a, port_b = free_port(), free_port()
    pair = (
        Worker(config, port_a, port_b, folder, "worker-a"),
        Worker(config, port_b, port_a, folder, "worker-b"),
    )
    try:
        for worker in pair:
            worker.start()
        for worker in pair:
            worker.wait()
        yield pair
    finally:
        for worker in pair:
            worker.stop()


@pytest.fixture(params=["filesystem", "s3"], ids=["filesystem", "s3-radosgw"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """An empty store: a folder, or a prefix of a fresh radosgw bucket."""
    binary_or_skip("skopeo")
    with empty_store(request.param, tmp_path, "registry") as store:
        yield store


def _errors(body: bytes) -> list[str]:
    return [error["code"] for error in json.loads(body)["errors"]]


def corrupted_upload(a: Worker, b: Worker) -> None:
    """POST to a, PATCH on b, PUT on a naming the digest of other bytes: DIGEST_INVALID."""
    status, headers, _ = http("POST", f"http://{a.host}/v2/lib/bad/blobs/uploads/")
    assert status == 202
    assert headers["location"].startswith(f"http://{b.host}/")
    sent = os.urandom(3000)
    status, headers, _ = http(
        "PATCH", headers["location"], sent, {"Content-Range": f"0-{len(sent) - 1}"}
    )
    assert status == 202
    assert headers["range"] == f"0-{len(sent) - 1}"
    assert headers["location"].startswith(f"http://{a.host}/")
    other = sha256(sent[:-1] + bytes([sent[-1] ^ 0xFF]))  # the last byte, always changed
    status, _, body = http("PUT", f"{headers['location']}?digest={other}")
    assert status == 400
    assert _errors(body) == ["DIGEST_INVALID"]
    for digest in (other, sha256(sent)):
        status, _, body = http("HEAD", f"http://{b.host}/v2/lib/bad/blobs/{digest}")
        assert status == 404


def other_endpoints(a: Worker, b: Worker, layer: str, index: bytes) -> str:
    """Mount, monolithic upload, upload status, HEAD of a manifest, unknown names.

    Returns the UUID of the upload left unfinished.
    """
    base = f"http://{a.host}/v2/lib"
    status, headers, _ = http("POST", f"{base}/other/blobs/uploads/?mount={layer}&from=lib/app")
    assert (status, headers["docker-content-digest"]) == (201, layer)
    assert http("HEAD", f"http://{b.host}/v2/lib/other/blobs/{layer}")[0] == 200
    unknown = sha256(b"nowhere")
    status, headers, _ = http("POST", f"{base}/other/blobs/uploads/?mount={unknown}&from=lib/app")
    assert status == 202  # not mounted: a fresh upload instead
    status, headers, _ = http("GET", headers["location"])
    assert (status, headers["range"]) == (204, "0-0")
    unfinished = headers["docker-upload-uuid"]
    whole = os.urandom(1000)
    status, headers, _ = http("POST", f"{base}/other/blobs/uploads/?digest={sha256(whole)}", whole)
    assert (status, headers["docker-content-digest"]) == (201, sha256(whole))
    status, _, body = http("GET", f"http://{b.host}/v2/lib/other/blobs/{sha256(whole)}")
    assert (status, body) == (200, whole)
    status, headers, _ = http("HEAD", f"{base}/multi/manifests/multi")
    assert status == 200
    assert headers["content-type"] == "application/vnd.oci.image.index.v1+json"
    assert headers["docker-content-digest"] == sha256(index)
    assert headers["content-length"] == str(len(index))
    status, _, body = http("GET", f"{base}/multi/manifests/nope")
    assert (status, _errors(body)) == (404, ["MANIFEST_UNKNOWN"])
    status, _, body = http("GET", f"{base}/nothing/tags/list")
    assert (status, _errors(body)) == (404, ["NAME_UNKNOWN"])
    status, _, body = http("GET", f"{base}/multi/blobs/{unknown}")
    assert (status, _errors(body)) == (404, ["BLOB_UNKNOWN"])
    orphan = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": unknown,
                "size": 7,
            },
            "layers": [],
        }
    ).encode()
    oci = {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}
    status, _, body = http("PUT", f"{base}/other/manifests/orphan", orphan, oci)
    assert (status, _errors(body)) == (400, ["MANIFEST_BLOB_UNKNOWN"])
    status, _, body = http("GET", f"{base}/other/tags/list")
    assert (status, json.loads(body)["tags"]) == (200, [])
    return unfinished


def test_skopeo_push_and_pull_across_two_workers_then_the_go_registry(
    store: Store, tmp_path: Path
) -> None:
    layout = Layout(tmp_path / "layout")
    # 3 MiB of random data: the PATCH writes it in several pieces.
    big = layout.layer(3 << 20)
    image = layout.image([big, layout.layer(), layout.layer()])
    amd = layout.image([layout.layer()], arch="amd64")
    arm = layout.image([layout.layer()], arch="arm64")
    index = layout.index({"amd64": amd, "arm64": arm})
    layout.tag("app", image)
    layout.tag("multi", index)
    config = write_config(tmp_path / "config.yml", store.storage())

    with workers(config, tmp_path) as (a, b):
        assert push(layout, "app", a.host, "lib/app", dest_tag="v1") == image.digest
        assert push(layout, "multi", a.host, "lib/multi", multi=True) == index.digest
        assert pull(a.host, "lib/app", "v1", tmp_path / "back-app") == image.digest
        assert pull(b.host, "lib/multi", "multi", tmp_path / "back-multi", multi=True) == (
            index.digest
        )
        status, _, body = http("GET", f"http://{b.host}/v2/lib/multi/tags/list")
        assert (status, json.loads(body)) == (200, {"name": "lib/multi", "tags": ["multi"]})
        index_bytes = (layout.path / "blobs" / "sha256" / index.digest[7:]).read_bytes()
        unfinished = other_endpoints(a, b, big.digest, index_bytes)
        corrupted_upload(a, b)

    # Every POST and final PUT reached a, every PATCH b: b appended to uploads that a
    # started and a committed them, digest checked, after b's writes.
    spans_a, spans_b = a.span_names(), b.span_names()
    assert {"regstore.put_content", "regstore.writer", "regstore.writer.commit"} <= spans_a
    assert {"regstore.writer", "regstore.writer.close"} <= spans_b
    assert "regstore.writer.commit" not in spans_b

    with store.driver() as driver:
        assert [upload.path for upload in driver.pending_uploads("/")] == [
            f"/docker/registry/v2/repositories/lib/other/_uploads/{unfinished}/data"
        ]
        left = []
        for repo in ("lib/app", "lib/multi", "lib/bad", "lib/other"):
            with contextlib.suppress(FileNotFoundError):
                left += driver.list(f"/docker/registry/v2/repositories/{repo}/_uploads")
        assert left == [f"/docker/registry/v2/repositories/lib/other/_uploads/{unfinished}"]

    with GoRegistry(write_config(tmp_path / "go.yml", store.storage())) as registry:
        assert pull(registry.host, "lib/app", "v1", tmp_path / "go-app") == image.digest
        assert (
            pull(registry.host, "lib/multi", "multi", tmp_path / "go-multi", multi=True)
            == index.digest
        )
