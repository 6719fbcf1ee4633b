"""Google Cloud Storage: regstore's gcs driver, the raw SDK, gcsfs and obstore on fake-gcs-server.

Baseline: google-cloud-storage as its users call it (``upload_from_string``,
``download_as_bytes``, ``upload_from_file`` with the SDK's resumable chunked
upload, ``list_blobs``, and ``Bucket.delete_blobs``, one request per object:
fake-gcs-server has no batch endpoint).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import regstore

from .clients import POPULATE_THREADS, ChunkStream, Client, RegstoreClient, chunks

__all__ = ["OBSTORE_NOTE", "gcs_clients"]

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


def _populator(bucket: Any, prefix: str) -> Any:
    def populate(rels: Iterable[str], data: bytes) -> None:
        def put(rel: str) -> None:
            bucket.blob(f"{prefix}/{rel}").upload_from_string(data)

        with ThreadPoolExecutor(POPULATE_THREADS) as pool:
            list(pool.map(put, rels))

    return populate


class GcsfsClient(Client):
    label = "gcsfs"

    def __init__(self, endpoint: str, bucket: str, prefix: str) -> None:
        # The plain filesystem: the "extended" default first asks a gRPC control API
        # for the bucket type, which an emulator does not serve (a minute of retries).
        from gcsfs.core import GCSFileSystem

        self.fs = GCSFileSystem(
            endpoint_url=endpoint, token="anon", project="test", skip_instance_cache=True
        )
        self.base = f"{bucket}/{prefix}"

    def _p(self, rel: str) -> str:
        return f"{self.base}/{rel}"

    def put(self, rel: str, data: bytes) -> None:
        self.fs.pipe_file(self._p(rel), data)

    def get(self, rel: str) -> bytes:
        data: bytes = self.fs.cat_file(self._p(rel))
        return data

    def write_stream(self, rel: str, block: bytes, size: int) -> None:
        with self.fs.open(self._p(rel), "wb") as file:
            for piece in chunks(block, size):
                file.write(piece)

    def read_stream(self, rel: str, buffer: bytearray) -> int:
        total = 0
        with self.fs.open(self._p(rel), "rb") as file:
            while n := file.readinto(buffer):
                total += n
        return total

    def list(self, rel: str) -> int:
        self.fs.invalidate_cache()
        return len(self.fs.ls(self._p(rel), detail=False))

    def walk(self, rel: str) -> int:
        self.fs.invalidate_cache()
        return len(self.fs.find(self._p(rel)))

    def delete(self, rel: str) -> None:
        self.fs.invalidate_cache()
        self.fs.rm(self._p(rel), recursive=True)
        self.fs.invalidate_cache()


def gcs_clients(endpoint: str) -> tuple[list[Client], Any, dict[str, Any]]:
    """The contenders over a fresh bucket, a callable removing it, the driver's parameters.

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
    made: list[Client] = []
    baseline = RawGCS(client, bucket, "raw")
    baseline.populate = _populator(bucket, "raw")  # type: ignore[method-assign]
    made.append(baseline)
    mine = RegstoreClient(regstore.create("gcs", {"bucket": name, "rootdirectory": "regstore"}))
    mine.populate = _populator(bucket, "regstore")  # type: ignore[method-assign]
    made.append(mine)
    try:
        peer: Client = GcsfsClient(endpoint, name, "gcsfs")
        peer.populate = _populator(bucket, "gcsfs")  # type: ignore[method-assign]
        made.append(peer)
    except ImportError:
        pass

    def remove() -> None:
        for made_client in made:
            made_client.close()
        bucket.delete_blobs(list(client.list_blobs(bucket)))  # leftovers of a failed case
        bucket.delete()

    return made, remove, {"bucket": name}
