"""The conformance suite against the gcs driver on fake-gcs-server and gcp-storage-emulator.

Each test gets a fresh bucket from the package's test backends
(``regstore_gcs.testing``). The drivers get a service-account key made in the
test (``credentials``, or a ``keyfile``), so redirect URLs are signed; the
client still talks to the emulator anonymously (``STORAGE_EMULATOR_HOST``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from regstore.testsuite.backends import Store
from regstore.testsuite.binding import BackendSuite

MiB = 1 << 20


class TestGCSFakeGcsServer(BackendSuite):
    """fake-gcs-server: faithful listings, offsets and preconditions; no batch endpoint.

    A deeper rootdirectory and 1 MiB parts, so the suite's streams go through
    staged parts and chained composes.
    """

    backend = "gcs-fakegcs"

    def configure(self, store: Store, workdir: Path) -> dict[str, Any]:
        return {**store.parameters, "rootdirectory": "/registry/v2", "chunksize": 1 * MiB}


class TestGCSGcpStorageEmulator(BackendSuite):
    """gcp-storage-emulator: batch deletes; ignores pagination, offsets and preconditions.

    The bucket's root, the chunk size given as text and the key read from a file.
    """

    backend = "gcs-gcpemu"

    def configure(self, store: Store, workdir: Path) -> dict[str, Any]:
        keyfile = workdir / "key.json"
        keyfile.write_text(json.dumps(store.parameters["credentials"]))
        return {
            "bucket": store.parameters["bucket"],
            "chunksize": str(store.parameters["chunksize"]),
            "keyfile": str(keyfile),
        }


class TestGCSFakeGcsServerAsync(TestGCSFakeGcsServer):
    """The suite through ``regstore.aio`` on fake-gcs-server."""

    asynchronous = True
