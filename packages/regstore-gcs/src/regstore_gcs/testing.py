"""The GCS driver's test backends: fake-gcs-server and gcp-storage-emulator, a bucket per store.

Found through the ``regstore.testing`` entry point group (see ``regstore.testsuite.backends``);
only tests import it, and the Google SDK only when a store is opened. The driver gets a
service-account key made here, so redirect URLs are signed; the emulators do not check it,
and the client reaches them anonymously through ``STORAGE_EMULATOR_HOST``.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from regstore.testsuite.backends import FaultRoute, Store, TestBackend

__all__ = ["backends", "keyfile_parameters", "private_key_secrets", "service_account"]

KiB = 1 << 10
SLOW_UNREACHABLE = "the Google SDK retries an unreachable endpoint for about two minutes"


@lru_cache(maxsize=1)
def service_account() -> dict[str, str]:
    """A service-account key that exists nowhere but here (the emulators do not check it)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {
        "type": "service_account",
        "project_id": "regstore-test",
        "private_key_id": secrets.token_hex(20),
        "private_key": pem,
        "client_email": "regstore-test@regstore-test.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    }


def private_key_secrets(account: Mapping[str, str]) -> tuple[str, ...]:
    """The key id and every base64 line of the PEM body: none may leak."""
    lines = [
        line
        for line in account["private_key"].splitlines()
        if line and not line.startswith("-----") and len(line) >= 40
    ]
    return (account["private_key_id"], *lines)


def keyfile_parameters(store: Store, workdir: Path) -> dict[str, str]:
    """The store's parameters as text, the key written to a ``keyfile`` in ``workdir``."""
    keyfile = workdir / "key.json"
    keyfile.write_text(json.dumps(store.parameters["credentials"]))
    others = {key: str(value) for key, value in store.parameters.items() if key != "credentials"}
    return {**others, "keyfile": str(keyfile)}


def _leftovers(bucket: Any) -> list[str]:
    """Objects with a component starting with ``~`` (pending uploads' parts and state)."""
    return [blob.name for blob in bucket.list_blobs() if "/~" in "/" + blob.name]


@contextmanager
def _emulated(endpoint: str) -> Iterator[Store]:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    endpoint = endpoint.rstrip("/")
    admin = storage.Client(
        project="test",
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options={"api_endpoint": endpoint},
    )
    bucket = admin.create_bucket(f"rs{uuid.uuid4().hex[:16]}")
    account = service_account()
    try:
        yield Store(
            "gcs",
            {
                "bucket": bucket.name,
                "rootdirectory": "registry",
                "chunksize": 256 * KiB,
                "credentials": account,
            },
            env={"STORAGE_EMULATOR_HOST": endpoint},
            leftovers=lambda: _leftovers(bucket),
            secrets=private_key_secrets(account),
            endpoint=endpoint,
        )
    finally:
        with contextlib.suppress(Exception):
            bucket.delete(force=True)


@contextmanager
def _fakegcs(env: Mapping[str, str], workdir: Path) -> Iterator[Store]:
    with _emulated(env["REGSTORE_TEST_FAKEGCS_ENDPOINT"]) as store:
        yield store


@contextmanager
def _gcpemu(env: Mapping[str, str], workdir: Path) -> Iterator[Store]:
    with _emulated(env["REGSTORE_TEST_GCPEMU_ENDPOINT"]) as store:
        yield store


def backends() -> list[TestBackend]:
    """GCS on fake-gcs-server (faithful) and gcp-storage-emulator (batch deletes, lenient)."""
    common: dict[str, Any] = {
        "driver": "gcs",
        "part_size": 256 * KiB,
        "preload": ("google.cloud.storage", "regstore_gcs.driver"),
        # The first retry after at most 0.1 s (google's own first wait is 1 s).
        "faults": FaultRoute(
            "gcs",
            host="upstream",
            rewrite_json=True,
            tuning={"retry_delay": "100ms"},
            give_up_soon={"retry_deadline": "2s"},
        ),
        "bucket_parameter": "bucket",
        "numeric_parameter": "chunksize",
        "fuzzed_parameters": ("rootdirectory", "chunksize", "useragent", "maxconcurrency"),
        "cli_parameters": keyfile_parameters,
    }
    return [
        TestBackend(
            name="gcs-fakegcs",
            title="GCSFakeGcsServer",
            open=_fakegcs,
            emulators=("fakegcs",),
            variables=("REGSTORE_TEST_FAKEGCS_ENDPOINT",),
            quirks={"slow_unreachable": SLOW_UNREACHABLE},
            **common,
        ),
        TestBackend(
            name="gcs-gcpemu",
            title="GCSGcpStorageEmulator",
            open=_gcpemu,
            emulators=("gcpemu",),
            variables=("REGSTORE_TEST_GCPEMU_ENDPOINT",),
            unsupported={
                "test_redirect_url": (
                    "gcp-storage-emulator answers HEAD on a signed URL with HTTP 501"
                    " (emulators.md 3b); the GET half runs in"
                    " packages/regstore-gcs/tests/test_signed_urls.py"
                ),
            },
            quirks={
                "slow_unreachable": SLOW_UNREACHABLE,
                "torn_streams": (
                    "gcp-storage-emulator ignores preconditions (emulators.md 3b), on reads"
                    " too: it serves the new generation to a reader that asks for the old one"
                ),
            },
            **common,
        ),
    ]
