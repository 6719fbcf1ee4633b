"""Digests of uploads: the algorithms, the ``"<algorithm>:<hex>"`` form, resumable hashing.

A writer opened with ``digest="sha256"`` (or ``"sha512"``) feeds every byte to
a ``StreamHasher``. Its state exports to a small opaque blob that a driver
keeps with the pending upload, so a writer resumed in another process
continues the hash without reading the upload back. CPython's ``hashlib``
cannot export its state: the hash functions come from ``regstore._sha2``
(OpenSSL's, as ``hashlib`` uses them, else the ``regstore[digest]`` extra).

Large writes are hashed on a helper thread while the driver stores them, so
the hash overlaps the backend's I/O; ``digest`` and ``export`` wait for it.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections import deque
from typing import TYPE_CHECKING

from .errors import InvalidParameterError, UnsupportedMethodError

if TYPE_CHECKING:  # imported when the first digest is asked for: import regstore stays light
    from concurrent.futures import Future, ThreadPoolExecutor

    from ._sha2 import Sha2, Source

__all__ = [
    "ALGORITHMS",
    "StreamHasher",
    "check_algorithm",
    "check_expected",
    "decode_state",
    "require_backend",
]

#: Hex digits of each supported algorithm's digest.
ALGORITHMS = {"sha256": 64, "sha512": 128}
_INSTALL = 'pip install "regstore[digest]"'
#: Writes from this size on are hashed on the helper thread; smaller ones inline.
BACKGROUND_FROM = 256 * 1024
#: Bytes the helper thread may lag behind the writes before ``update`` waits for it.
MAX_BEHIND = 64 * 1024 * 1024
# The state blob: magic, format, then algorithm, byte count, source, state, CRC32.
_MAGIC = b"regstore-hash\x00"
_ORIGIN = 32
_HEADER = struct.Struct(f">B8sQ{_ORIGIN}s")
_FORMAT = 1


def check_algorithm(driver_name: str, digest: object) -> str | None:
    """``digest`` if it names a supported algorithm (or is None); else ``InvalidParameterError``."""
    if digest is None or (isinstance(digest, str) and digest in ALGORITHMS):
        return digest
    allowed = ", ".join(repr(name) for name in ALGORITHMS)
    raise InvalidParameterError(
        driver_name, "digest", f"must be one of {allowed} or None, got {digest!r}"
    )


def check_expected(driver_name: str, expected: object, algorithm: str | None) -> str:
    """``expected`` if it is ``"<algorithm>:<lowercase hex>"`` for the writer's algorithm."""
    if algorithm is None:
        raise InvalidParameterError(
            driver_name,
            "expected_digest",
            "needs a writer that hashes: open it with writer(path, digest='sha256')",
        )
    size = ALGORITHMS[algorithm]
    if not isinstance(expected, str) or not re.fullmatch(
        rf"{algorithm}:[0-9a-f]{{{size}}}", expected
    ):
        raise InvalidParameterError(
            driver_name,
            "expected_digest",
            f"must be '{algorithm}:' and {size} lowercase hex digits (this writer hashes"
            f" with {algorithm}), got {expected!r}",
        )
    return expected


def require_backend(method: str = "writer(digest=...)") -> Source:
    """Where the hash functions come from, or ``UnsupportedMethodError`` naming the install."""
    from ._sha2 import source

    found = source()
    if found is None:
        raise UnsupportedMethodError(
            f"{method} needs OpenSSL's libcrypto as hashlib loads it on Linux, or else"
            f" the rehashes package, which is not installed: {_INSTALL}"
        )
    return found


def decode_state(blob: bytes | None, algorithm: str, size: int) -> Sha2 | None:
    """The hash a state blob holds, if it is whole, of ``algorithm`` and covers ``size`` bytes.

    Anything else (no blob, a torn one, another algorithm, source or version, a
    byte count that is not the upload's) gives None: the caller reads the upload.
    """
    if not blob or len(blob) < len(_MAGIC) + _HEADER.size + 4 or not blob.startswith(_MAGIC):
        return None
    body, crc = blob[:-4], int.from_bytes(blob[-4:], "big")
    if zlib.crc32(body) != crc:
        return None
    form, name, count, origin = _HEADER.unpack_from(body, len(_MAGIC))
    hashes = require_backend()
    if (
        form != _FORMAT
        or name.rstrip(b"\x00") != algorithm.encode("ascii")
        or count != size
        or origin.rstrip(b"\x00") != hashes.name.encode("ascii")[:_ORIGIN]
    ):
        return None
    return hashes.restore(algorithm, body[len(_MAGIC) + _HEADER.size :])


class StreamHasher:
    """One upload's running hash; large updates run on a helper thread, in order."""

    def __init__(self, algorithm: str, restored: Sha2 | None = None) -> None:
        self._source = require_backend()
        self.algorithm = algorithm
        self._hash = restored if restored is not None else self._source.new(algorithm)
        self._pool: ThreadPoolExecutor | None = None
        self._pending: deque[tuple[Future[None], int]] = deque()
        self._behind = 0

    def update(self, data: bytes | memoryview) -> None:
        """Add ``data``; the caller may reuse its buffer as soon as this returns."""
        # A caller's mutable buffer must not change under the helper thread: bytes only.
        chunk = data if isinstance(data, bytes) else bytes(data)
        if len(chunk) < BACKGROUND_FROM and not self._pending:
            self._hash.update(chunk)
            return
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(1, thread_name_prefix="regstore-hash")
        self._pending.append((self._pool.submit(self._hash.update, chunk), len(chunk)))
        self._behind += len(chunk)
        while self._behind > MAX_BEHIND:
            self._wait_one()

    def _wait_one(self) -> None:
        future, size = self._pending.popleft()
        self._behind -= size
        future.result()

    def settle(self) -> None:
        """Wait until every byte given so far is hashed."""
        while self._pending:
            self._wait_one()

    def hexdigest(self) -> str:
        """The hex digest of everything given so far (hashing may go on afterwards)."""
        self.settle()
        return self._hash.hexdigest()

    @property
    def digest(self) -> str:
        """``"<algorithm>:<hex>"`` of everything given so far."""
        return f"{self.algorithm}:{self.hexdigest()}"

    def export(self, size: int) -> bytes:
        """The state as a blob ``decode_state`` restores, for an upload of ``size`` bytes."""
        self.settle()
        header = _HEADER.pack(
            _FORMAT,
            self.algorithm.encode("ascii"),
            size,
            self._source.name.encode("ascii")[:_ORIGIN],
        )
        body = _MAGIC + header + self._hash.state()
        return body + zlib.crc32(body).to_bytes(4, "big")

    def shutdown(self) -> None:
        """Finish pending work and stop the helper thread (it restarts if needed)."""
        self.settle()
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
