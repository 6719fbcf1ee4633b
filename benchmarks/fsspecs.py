"""The fsspec peers (local, memory, s3fs, adlfs, gcsfs): one adapter over any fsspec filesystem.

Every fsspec filesystem is used the way its users call it: ``pipe_file`` and
``cat_file``, ``open`` for streams, ``ls``, ``find``, ``rm(recursive=True)``.
The object-store filesystems cache listings, so their cache is dropped before
every listing, walk and delete (a benchmark must not time a cache hit).
"""

from __future__ import annotations

from typing import Any

from .clients import Client, chunks

__all__ = ["FsspecClient", "LocalFsspecClient"]


class FsspecClient(Client):
    """An fsspec filesystem under the path prefix ``base``."""

    #: Whether the filesystem caches listings (dropped around every listing).
    cached = True
    #: Arguments of ``find`` in a walk (the local filesystems report directories and sizes).
    find_kwargs: dict[str, Any] = {}

    def __init__(self, fs: Any, base: str, label: str, note: str = "") -> None:
        self.fs = fs
        self.base = base
        self.label = label
        self.note = note or self.note

    def _p(self, rel: str) -> str:
        return f"{self.base}/{rel}"

    def _forget(self) -> None:
        if self.cached:
            self.fs.invalidate_cache()

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
        self._forget()
        return len(self.fs.ls(self._p(rel), detail=False))

    def walk(self, rel: str) -> int:
        self._forget()
        return len(self.fs.find(self._p(rel), **self.find_kwargs))

    def delete(self, rel: str) -> None:
        self._forget()
        self.fs.rm(self._p(rel), recursive=True)
        self._forget()


class LocalFsspecClient(FsspecClient):
    """fsspec's local and memory filesystems: no listing cache; a walk reports directories."""

    cached = False
    find_kwargs = {"withdirs": True, "detail": True}
