"""Azure Blob Storage: regstore's azure driver, the raw SDK, adlfs and obstore on Azurite.

Baseline: azure-storage-blob as its users call it (``upload_blob`` with the
SDK's default chunked upload, ``download_blob``, ``list_blobs`` /
``walk_blobs``, ``delete_blobs`` batches of 256).
"""

from __future__ import annotations

import contextlib
import secrets
from typing import Any

import regstore

from .backend import Backend
from .clients import ChunkStream, Client, RegstoreClient
from .fsspecs import FsspecClient
from .objectstores import ObstoreClient

__all__ = ["azure_backend"]

ACCOUNT = "devstoreaccount1"
#: The blob-name prefix every contender works under.
ROOT = "bench"


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


def _adlfs(connection_string: str, container: str) -> Client:
    from adlfs import AzureBlobFileSystem

    fs = AzureBlobFileSystem(connection_string=connection_string, skip_instance_cache=True)
    peer = FsspecClient(
        fs,
        f"{container}/{ROOT}",
        "adlfs",
        "not timed on the 10,000-file cases: its rm of 10,000 blobs did not finish in 25 min",
    )
    # Its recursive rm of a 10,000-blob tree on Azurite had not returned after 25 minutes
    # (waiting on its event loop), so the 10,000-file cases leave it out.
    peer.scale_limit = 1_000
    return peer


def azure_backend(connection_string: str, endpoint: str) -> Backend:
    """The contenders over a fresh container, all under one blob prefix; baseline first."""
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(connection_string)
    name = f"bench-{secrets.token_hex(6)}"
    container = service.create_container(name)
    parameters = {"connectionstring": connection_string, "container": name}
    made: list[Client] = [
        RawAzure(container, ROOT),
        RegstoreClient(regstore.create("azure", {**parameters, "rootdirectory": ROOT})),
    ]
    with contextlib.suppress(ImportError):
        made.append(_adlfs(connection_string, name))
    with contextlib.suppress(ImportError):
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
        made.append(ObstoreClient(store, ROOT))

    def remove() -> None:
        container.delete_container()
        service.close()

    return Backend("azure", made, parameters=dict(parameters, rootdirectory="rss"), remove=remove)
