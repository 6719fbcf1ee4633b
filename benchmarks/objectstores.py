"""obstore (Rust ``object_store``), the peer shared by the S3 and Azure backends."""

from __future__ import annotations

from typing import Any

from .clients import Client, chunks

__all__ = ["ObstoreClient"]


class ObstoreClient(Client):
    """obstore (Rust ``object_store``) over an already built store, under a key prefix."""

    label = "obstore"

    def __init__(self, store: Any, prefix: str) -> None:
        import obstore

        self.obs = obstore
        self.store = store
        self.prefix = prefix

    def _k(self, rel: str) -> str:
        return f"{self.prefix}/{rel}"

    def put(self, rel: str, data: bytes) -> None:
        self.obs.put(self.store, self._k(rel), data)

    def get(self, rel: str) -> bytes:
        return bytes(self.obs.get(self.store, self._k(rel)).bytes())

    def write_stream(self, rel: str, block: bytes, size: int) -> None:
        # obstore's defaults: 5 MiB parts, 12 in flight.
        self.obs.put(self.store, self._k(rel), (bytes(p) for p in chunks(block, size)))

    def read_stream(self, rel: str, buffer: bytearray) -> int:
        total = 0
        for piece in self.obs.get(self.store, self._k(rel)).stream(min_chunk_size=len(buffer)):
            total += len(piece)
        return total

    def list(self, rel: str) -> int:
        answer = self.obs.list_with_delimiter(self.store, self._k(rel))
        return len(answer["common_prefixes"]) + len(answer["objects"])

    def walk(self, rel: str) -> int:
        return sum(len(batch) for batch in self.obs.list(self.store, self._k(rel) + "/"))

    def delete(self, rel: str) -> None:
        paths = [
            meta["path"]
            for batch in self.obs.list(self.store, self._k(rel) + "/")
            for meta in batch
        ]
        self.obs.delete(self.store, paths)
