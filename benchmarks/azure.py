"""Azure Blob Storage: regstore's azure driver, the raw SDK, adlfs and obstore on Azurite.

Baseline: azure-storage-blob as its users call it (``upload_blob`` with the
SDK's default chunked upload, ``download_blob``, ``list_blobs`` /
``walk_blobs``, ``delete_blobs`` batches of 256).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import regstore

from .clients import POPULATE_THREADS, ChunkStream, Client, RegstoreClient, chunks
from .objectstores import ObstoreClient

__all__ = ["azure_clients"]

ACCOUNT = "devstoreaccount1"


class RawAzure(Client):
    label = "raw azure SDK"
    role = "baseline"

    def __init__(self, container: Any, prefix: str) -> None:
        self.container = container
        self.prefix = prefix

    def _k(self, rel: str) -> str:
        return f"{self.prefix}/{rel}"

    def put(self, rel: str, data: bytes) -> None:
        self.container.upload_blob(self._k(rel), data, overwrite=True)

    def get(self, rel: str) -> bytes:
        data: bytes = self.container.download_blob(self._k(rel)).readall()
        return data

    def write_stream(self, rel: str, block: bytes, size: int) -> None:
        self.container.upload_blob(
            self._k(rel), ChunkStream(block, size), length=size, overwrite=True
        )

    def read_stream(self, rel: str, buffer: bytearray) -> int:
        return sum(len(piece) for piece in self.container.download_blob(self._k(rel)).chunks())

    def list(self, rel: str) -> int:
        return sum(
            1 for _ in self.container.walk_blobs(name_starts_with=self._k(rel) + "/", delimiter="/")
        )

    def walk(self, rel: str) -> int:
        return sum(1 for _ in self.container.list_blobs(name_starts_with=self._k(rel) + "/"))

    def delete(self, rel: str) -> None:
        names = [b.name for b in self.container.list_blobs(name_starts_with=self._k(rel) + "/")]
        for start in range(0, len(names), 256):
            self.container.delete_blobs(*names[start : start + 256])


def _populator(container: Any, prefix: str) -> Any:
    def populate(rels: Iterable[str], data: bytes) -> None:
        def put(rel: str) -> None:
            container.upload_blob(f"{prefix}/{rel}", data, overwrite=True)

        with ThreadPoolExecutor(POPULATE_THREADS) as pool:
            list(pool.map(put, rels))

    return populate


class AdlfsClient(Client):
    label = "adlfs"
    # Its recursive rm of a 10,000-blob tree on Azurite had not returned after 25 minutes
    # (waiting on its event loop), so the 10,000-file cases leave it out.
    scale_limit = 1_000
    note = "not timed on the 10,000-file cases: its rm of 10,000 blobs did not finish in 25 min"

    def __init__(self, connection_string: str, container: str, prefix: str) -> None:
        from adlfs import AzureBlobFileSystem

        self.fs = AzureBlobFileSystem(connection_string=connection_string, skip_instance_cache=True)
        self.base = f"{container}/{prefix}"

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
        return len(self.fs.ls(self._p(rel), detail=False, invalidate_cache=True))

    def walk(self, rel: str) -> int:
        self.fs.invalidate_cache()
        return len(self.fs.find(self._p(rel)))

    def delete(self, rel: str) -> None:
        self.fs.invalidate_cache()
        self.fs.rm(self._p(rel), recursive=True)
        self.fs.invalidate_cache()


def azure_clients(
    connection_string: str, endpoint: str
) -> tuple[list[Client], Any, dict[str, Any]]:
    """The contenders over a fresh container, a callable removing it, the driver's parameters."""
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(connection_string)
    name = f"bench-{secrets.token_hex(6)}"
    container = service.create_container(name)
    made: list[Client] = []
    baseline = RawAzure(container, "raw")
    baseline.populate = _populator(container, "raw")  # type: ignore[method-assign]
    made.append(baseline)
    parameters = {"connectionstring": connection_string, "container": name}
    driver = regstore.create("azure", {**parameters, "rootdirectory": "regstore"})
    mine = RegstoreClient(driver)
    mine.populate = _populator(container, "regstore")  # type: ignore[method-assign]
    made.append(mine)
    try:
        peer: Client = AdlfsClient(connection_string, name, "adlfs")
        peer.populate = _populator(container, "adlfs")  # type: ignore[method-assign]
        made.append(peer)
    except ImportError:
        pass
    try:
        from obstore.store import AzureStore

        key = dict(part.split("=", 1) for part in connection_string.split(";") if "=" in part)[
            "AccountKey"
        ]
        store = AzureStore(
            name,
            account_name=ACCOUNT,
            account_key=key,
            endpoint=endpoint,
            client_options={"allow_http": True},
        )
        peer = ObstoreClient(store, "obstore")
        peer.populate = _populator(container, "obstore")  # type: ignore[method-assign]
        made.append(peer)
    except ImportError:
        pass

    def remove() -> None:
        for client in made:
            client.close()
        container.delete_container()
        service.close()

    return made, remove, parameters
