"""Digests of uploads: the algorithms, the ``"<algorithm>:<hex>"`` form, resumable hashing.

A writer opened with ``digest="sha256"`` (or ``"sha512"``) feeds every byte to
a ``StreamHasher``. Its state exports to a small opaque blob that a driver
keeps with the pending upload, so a writer resumed in another process
continues the hash without reading the upload back. The hash functions come
from ``rehashes`` (RustCrypto's SHA-2, whose state serializes; CPython's
``hashlib`` cannot export it), installed by the ``regstore[digest]`` extra.

Large writes are hashed on a helper thread while the driver stores them, so
the hash overlaps the backend's I/O; ``digest`` and ``export`` wait for it.
"""

from __future__ import annotations

import importlib
import re
import struct
import zlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cache
from typing import Any

from .errors import InvalidParameterError, UnsupportedMethodError

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
_CLASSES = {"sha256": "PySha256", "sha512": "PySha512"}
_INSTALL = 'pip install "regstore[digest]"'
#: Writes from this size on are hashed on the helper thread; smaller ones inline.
BACKGROUND_FROM = 256 * 1024
#: Bytes the helper thread may lag behind the writes before ``update`` waits for it.
MAX_BEHIND = 64 * 1024 * 1024
# The state blob: magic, format, then algorithm, byte count, library version, state, CRC32.
_MAGIC = b"regstore-hash\x00"
_HEADER = struct.Struct(">B8sQ16s")
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


@cache
def _backend() -> tuple[Any, str] | None:
    try:
        module = importlib.import_module("rehashes")
        from importlib.metadata import version

        return module, version("rehashes")
    except ImportError:
        return None


def require_backend(method: str = "writer(digest=...)") -> tuple[Any, str]:
    """The ``rehashes`` module and its version, or ``UnsupportedMethodError`` naming the install."""
    found = _backend()
    if found is None:
        raise UnsupportedMethodError(
            f"{method} needs the rehashes package, which is not installed: {_INSTALL}"
        )
    return found


def decode_state(blob: bytes | None, algorithm: str, size: int) -> Any | None:
    """The hasher a state blob holds, if it is whole, of ``algorithm`` and covers ``size`` bytes.

    Anything else (no blob, a torn one, another algorithm or library version, a
    byte count that is not the upload's) gives None: the caller reads the upload.
    """
    if not blob or len(blob) < len(_MAGIC) + _HEADER.size + 4 or not blob.startswith(_MAGIC):
        return None
    body, crc = blob[:-4], int.from_bytes(blob[-4:], "big")
    if zlib.crc32(body) != crc:
        return None
    form, name, count, library = _HEADER.unpack_from(body, len(_MAGIC))
    module, version = require_backend()
    if (
        form != _FORMAT
        or name.rstrip(b"\x00").decode("ascii", "replace") != algorithm
        or count != size
        or library.rstrip(b"\x00").decode("ascii", "replace") != version[:16]
    ):
        return None
    try:
        return getattr(module, _CLASSES[algorithm]).deserialize(body[len(_MAGIC) + _HEADER.size :])
    except ValueError:
        return None


class StreamHasher:
    """One upload's running hash; large updates run on a helper thread, in order."""

    def __init__(self, algorithm: str, restored: Any | None = None) -> None:
        module, self._version = require_backend()
        self.algorithm = algorithm
        self._hash = restored if restored is not None else getattr(module, _CLASSES[algorithm])()
        self._pool: ThreadPoolExecutor | None = None
        self._pending: deque[tuple[Future[None], int]] = deque()
        self._behind = 0

    def update(self, data: bytes | memoryview) -> None:
        """Add ``data``; the caller may reuse its buffer as soon as this returns."""
        # The hash takes bytes only, and a caller's mutable buffer must not change under it.
        chunk = data if isinstance(data, bytes) else bytes(data)
        if len(chunk) < BACKGROUND_FROM and not self._pending:
            self._hash.update(chunk)
            return
        if self._pool is None:
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
        return str(self._hash.finalize())

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
            self._version[:16].encode("ascii"),
        )
        body = _MAGIC + header + bytes(self._hash.serialize())
        return body + zlib.crc32(body).to_bytes(4, "big")

    def shutdown(self) -> None:
        """Finish pending work and stop the helper thread (it restarts if needed)."""
        self.settle()
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
