"""Google Cloud Storage: regstore's gcs driver, the raw SDK, gcsfs and obstore on fake-gcs-server.

Baseline: google-cloud-storage as its users call it (``upload_from_string``,
``download_as_bytes``, ``upload_from_file`` with the SDK's resumable chunked
upload, ``list_blobs``, and ``Bucket.delete_blobs``, one request per object:
fake-gcs-server has no batch endpoint).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from typing import Any

import regstore

from .backend import Backend
from .clients import ChunkStream, Client, RegstoreClient, in_threads
from .fsspecs import FsspecClient

__all__ = ["OBSTORE_NOTE", "gcs_backend"]

#: The object-name prefix every contender works under.
ROOT = "bench"

#: Why obstore is not among the GCS contenders.
OBSTORE_NOTE = (
    "obstore: not measured on GCS; its GCS store asks the GCE metadata server for an OAuth"
    " token even with skip_signature, and an emulator cannot answer that"
)


class _Sink:
    """A writable file object that only counts."""

    def __init__(self) -> None:
        self.count = 0

    def write(self, data: bytes) -> int:
        self.count += len(data)
        return len(data)


class RawGCS(Client):
    label = "raw GCS SDK"
    role = "baseline"

    def __init__(self, client: Any, bucket: Any, prefix: str) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix

    def _k(self, rel: str) -> str:
        return f"{self.prefix}/{rel}"

    def put(self, rel: str, data: bytes) -> None:
        self.bucket.blob(self._k(rel)).upload_from_string(data)

    def get(self, rel: str) -> bytes:
        data: bytes = self.bucket.blob(self._k(rel)).download_as_bytes()
        return data

    def write_stream(self, rel: str, block: bytes, size: int) -> None:
        self.bucket.blob(self._k(rel)).upload_from_file(ChunkStream(block, size), size=size)

    def read_stream(self, rel: str, buffer: bytearray) -> int:
        sink = _Sink()
        self.bucket.blob(self._k(rel)).download_to_file(sink)
        return sink.count

    def list(self, rel: str) -> int:
        listing = self.client.list_blobs(self.bucket, prefix=self._k(rel) + "/", delimiter="/")
        found = 0
        for page in listing.pages:
            found += page.num_items + len(page.prefixes)
        return found

    def walk(self, rel: str) -> int:
        return sum(1 for _ in self.client.list_blobs(self.bucket, prefix=self._k(rel) + "/"))

    def delete(self, rel: str) -> None:
        blobs = list(self.client.list_blobs(self.bucket, prefix=self._k(rel) + "/"))
        self.bucket.delete_blobs(blobs)

    def discard(self, rel: str) -> None:
        # The emulator has no batch delete: one request per object, from a thread pool.
        names = [b.name for b in self.client.list_blobs(self.bucket, prefix=self._k(rel) + "/")]
        in_threads(lambda name: self.bucket.blob(name).delete(), names, self.populate_threads)


def _gcsfs(endpoint: str, bucket: str) -> Client:
    # The plain filesystem: the "extended" default first asks a gRPC control API
    # for the bucket type, which an emulator does not serve (a minute of retries).
    from gcsfs.core import GCSFileSystem

    fs = GCSFileSystem(
        endpoint_url=endpoint, token="anon", project="test", skip_instance_cache=True
    )
    return FsspecClient(fs, f"{bucket}/{ROOT}", "gcsfs")


def gcs_backend(endpoint: str) -> Backend:
    """The contenders over a fresh bucket, all under one object prefix; baseline first.

    The gcs driver and the SDK find the emulator through ``STORAGE_EMULATOR_HOST``.
    """
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    os.environ["STORAGE_EMULATOR_HOST"] = endpoint
    client = storage.Client(
        project="test",
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options={"api_endpoint": endpoint},
    )
    name = f"bench-{secrets.token_hex(6)}"
    bucket = client.create_bucket(name)
    made: list[Client] = [
        RawGCS(client, bucket, ROOT),
        RegstoreClient(regstore.create("gcs", {"bucket": name, "rootdirectory": ROOT})),
    ]
    with contextlib.suppress(ImportError):
        made.append(_gcsfs(endpoint, name))

    def remove() -> None:
        names = [b.name for b in client.list_blobs(bucket)]  # what the cases left behind
        in_threads(lambda name: bucket.blob(name).delete(), names, RawGCS.populate_threads)
        bucket.delete()

    return Backend("gcs", made, parameters={"bucket": name, "rootdirectory": "rss"}, remove=remove)
