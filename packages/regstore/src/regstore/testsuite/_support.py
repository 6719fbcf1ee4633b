"""Fixtures and helpers every conformance test class shares."""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import pytest

from ..driver import FileInfo, StorageDriver
from ..errors import PathNotFoundError

__all__ = [
    "LARGE_SIZE",
    "SuiteBase",
    "chunks",
    "fetch",
    "random_bytes",
    "read_all",
    "sha256_of_stream",
]

MiB = 1 << 20

#: Size of the large-stream test (marked slow); 5 GiB matches the Go suite.
LARGE_SIZE = int(os.environ.get("REGSTORE_SUITE_LARGE_SIZE", str(32 * MiB)))
#: Chunk size of the "append-continue, large chunks" test (Go: 10 MiB).
APPEND_CHUNK = int(os.environ.get("REGSTORE_SUITE_APPEND_CHUNK", str(10 * MiB)))


def random_bytes(size: int, seed: int | None = None) -> bytes:
    """Reproducible pseudo-random bytes (not UTF-8 decodable in general)."""
    return random.Random(seed).randbytes(size)


def chunks(size: int, chunk: int = MiB, seed: int = 7) -> Iterator[bytes]:
    """``size`` bytes in ``chunk``-sized pieces, each different, without holding them all."""
    block = random_bytes(chunk, seed)
    sent = 0
    index = 0
    while sent < size:
        piece = index.to_bytes(8, "big") + block[8 : min(chunk, size - sent)]
        piece = piece[: min(chunk, size - sent)]
        yield piece
        sent += len(piece)
        index += 1


def sha256_of_stream(pieces: Iterator[bytes]) -> str:
    """The hex SHA-256 of everything ``pieces`` yields."""
    digest = hashlib.sha256()
    for piece in pieces:
        digest.update(piece)
    return digest.hexdigest()


def read_all(stream: Any, block: int = MiB) -> bytes:
    """Everything a reader returns, read in blocks (exercises repeated ``read(n)``)."""
    parts: list[bytes] = []
    with stream:
        while True:
            piece = stream.read(block)
            if not piece:
                return b"".join(parts)
            parts.append(piece)


def fetch(url: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of a plain HTTP request without credentials."""
    request = urllib.request.Request(url, method=method)
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status, dict(response.headers.items()), response.read()


class SuiteBase:
    """The fixture contract: ``driver`` (required), ``second_driver`` and ``leftovers``.

    ``unsupported`` maps a test name to the reason the backend cannot run it;
    those tests skip by name with that reason.
    """

    unsupported: ClassVar[dict[str, str]] = {}

    @pytest.fixture
    def second_driver(self) -> StorageDriver:
        """Another driver over the same store; this class declares none, so those tests skip."""
        pytest.skip("declared: no second driver instance over the same store")

    @pytest.fixture
    def leftovers(self) -> Callable[[], list[str]]:
        """Backend objects kept outside the path namespace (none by default)."""
        return list

    @pytest.fixture(autouse=True)
    def _guard(
        self,
        request: pytest.FixtureRequest,
        driver: StorageDriver,
        leftovers: Callable[[], list[str]],
    ) -> Iterator[None]:
        """Skip declared-unsupported tests; after each test, the store must be empty."""
        reason = self.unsupported.get(request.node.originalname)
        if reason:
            pytest.skip(f"declared unsupported by this backend: {reason}")
        yield
        left = [info.path for info in driver.walk("/")]
        hidden = leftovers()
        for path in {"/" + p.split("/")[1] for p in left}:
            with contextlib.suppress(PathNotFoundError):
                driver.delete(path)
        assert not left, f"the test left files behind: {left[:10]}"
        assert not hidden, f"the test left backend objects behind: {hidden[:10]}"

    @pytest.fixture
    def base(self, driver: StorageDriver) -> Iterator[str]:
        """A fresh top-level directory for one test; deleted afterwards, with pending uploads."""
        path = "/suite-" + uuid.uuid4().hex[:12]
        yield path
        with contextlib.suppress(PathNotFoundError):
            driver.delete(path)


def expected_walk(files: dict[str, int], below: str) -> list[tuple[str, bool, int]]:
    """The walk a correct driver gives for ``files`` (path → size) below ``below``."""
    entries: dict[str, tuple[str, bool, int]] = {}
    prefix = "" if below == "/" else below
    for path, size in files.items():
        if not path.startswith(prefix + "/"):
            continue
        entries[path] = (path, False, size)
        parts = path[len(prefix) :].split("/")[1:-1]
        current = prefix
        for part in parts:
            current = f"{current}/{part}"
            entries[current] = (current, True, 0)
    return sorted(entries.values(), key=lambda e: e[0] + "/" if e[1] else e[0])


def walk_tuples(infos: Iterator[FileInfo]) -> list[tuple[str, bool, int]]:
    """A walk as (path, is_dir, size) tuples, directories' sizes as 0."""
    return [(i.path, i.is_dir, 0 if i.is_dir else i.size) for i in infos]
