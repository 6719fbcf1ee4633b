"""The operations every contender offers, and the regstore contender built on ``create``.

A contender is named by relative paths such as ``a/b/c``. On the object
stores and the filesystem every contender of a backend works under one shared
root, so a tree created once (untimed, through the raw SDK) can be read by
all of them; the cases give each contender its own directories for what it
writes.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import regstore

__all__ = ["WRITE_CHUNK", "ChunkStream", "Client", "RegstoreClient", "chunks", "in_threads"]

#: Bytes each ``write`` of a stream hands over (registries copy request bodies in pieces).
WRITE_CHUNK = 1 << 20


def chunks(block: bytes, size: int) -> Iterator[memoryview]:
    """``size`` bytes as views of the repeated ``block`` (no allocation per chunk)."""
    view = memoryview(block)
    left = size
    while left > 0:
        take = min(left, len(view))
        yield view[:take]
        left -= take


def in_threads(call: Callable[[str], object], items: Iterable[str], threads: int) -> None:
    """``call`` on every item from a pool of ``threads``; the first error is raised."""
    with ThreadPoolExecutor(threads) as pool:
        for _ in pool.map(call, items):
            pass


class ChunkStream(io.RawIOBase):
    """A readable file object over ``chunks``: for SDK calls that pull from a file."""

    def __init__(self, block: bytes, size: int) -> None:
        super().__init__()
        self._size = size
        self._pos = 0
        self._block = memoryview(block)

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def readinto(self, buffer: Any) -> int:
        out = memoryview(buffer).cast("B")
        done = 0
        while done < len(out) and self._pos < self._size:
            at = self._pos % len(self._block)
            take = min(len(out) - done, len(self._block) - at, self._size - self._pos)
            out[done : done + take] = self._block[at : at + take]
            done += take
            self._pos += take
        return done


class Client:
    """One contender: the operations the cases time, and the untimed ones that prepare them."""

    label = "?"
    role = "peer"
    note = ""
    #: The most files the scale walk, list and delete are timed on (None: no limit).
    scale_limit: int | None = None
    #: Threads of ``populate`` (a server answers several requests at once).
    populate_threads = 16

    def put(self, rel: str, data: bytes) -> None:
        raise NotImplementedError

    def get(self, rel: str) -> bytes:
        raise NotImplementedError

    def write_stream(self, rel: str, block: bytes, size: int) -> None:
        """Store ``size`` bytes (``block`` repeated), handed over ``WRITE_CHUNK`` at a time."""
        raise NotImplementedError

    def read_stream(self, rel: str, buffer: bytearray) -> int:
        """Read the whole file through ``buffer``; the byte count."""
        raise NotImplementedError

    def list(self, rel: str) -> int:
        """The number of direct children of the directory ``rel``."""
        raise NotImplementedError

    def walk(self, rel: str) -> int:
        """The number of entries below ``rel``, recursively (with sizes)."""
        raise NotImplementedError

    def delete(self, rel: str) -> None:
        """Delete the directory ``rel`` and everything below it."""
        raise NotImplementedError

    def populate(self, rels: Iterable[str], data: bytes) -> None:
        """Create files fast, untimed: ``put`` from a thread pool unless overridden."""
        in_threads(lambda rel: self.put(rel, data), rels, self.populate_threads)

    def discard(self, rel: str) -> None:
        """Remove a directory untimed (clean-up): ``delete`` unless a faster way exists."""
        self.delete(rel)

    def settle(self) -> None:
        """Called untimed after every timed run (see ``Timed.settle``)."""

    def close(self) -> None:
        """Release clients and pools."""


class RegstoreClient(Client):
    """regstore, used as a user would: the driver ``regstore.create`` returns."""

    role = "regstore"

    def __init__(self, driver: regstore.StorageDriver, label: str = "regstore") -> None:
        self.driver = driver
        self.label = label

    def put(self, rel: str, data: bytes) -> None:
        self.driver.put_content("/" + rel, data)

    def get(self, rel: str) -> bytes:
        return self.driver.get_content("/" + rel)

    def write_stream(self, rel: str, block: bytes, size: int) -> None:
        writer = self.driver.writer("/" + rel)
        try:
            for piece in chunks(block, size):
                writer.write(piece)
            writer.commit()
        except BaseException:
            writer.cancel()
            raise

    def read_stream(self, rel: str, buffer: bytearray) -> int:
        total = 0
        with self.driver.reader("/" + rel) as reader:
            while True:
                n = reader.readinto(buffer)
                if not n:
                    return total
                total += n

    def list(self, rel: str) -> int:
        return len(self.driver.list("/" + rel))

    def walk(self, rel: str) -> int:
        return sum(1 for _ in self.driver.walk("/" + rel))

    def delete(self, rel: str) -> None:
        self.driver.delete("/" + rel)

    def close(self) -> None:
        self.driver.close()
