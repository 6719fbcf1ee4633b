"""SHA-256 and SHA-512 whose running state can be saved and restored, from one of two sources.

1. OpenSSL's ``libcrypto``, the one CPython's ``hashlib`` already loaded (found
   on Linux in ``/proc/self/maps``), called through ``ctypes``: its
   ``SHA256_CTX``/``SHA512_CTX`` are plain structs declared in ``openssl/sha.h``
   (unchanged since OpenSSL 0.9.8), so the state is those bytes. ``ctypes``
   releases the GIL during each call, so a helper thread hashes while the
   writing thread does I/O, at OpenSSL's speed (SHA-NI where the CPU has it).
2. Otherwise the ``rehashes`` package (``regstore[digest]``): RustCrypto's
   SHA-2, whose state serializes; it holds the GIL while it hashes.

A saved state names its source; one from another source or version is not used.
"""

from __future__ import annotations

import ctypes
import importlib
import os
import re
import sys
from functools import cache
from typing import Any, Protocol

__all__ = ["Sha2", "Source", "source"]


class Sha2(Protocol):
    """A running SHA-2 hash."""

    def update(self, data: bytes) -> None:
        """Add ``data``."""

    def hexdigest(self) -> str:
        """The hex digest of everything added so far; adding may go on."""

    def state(self) -> bytes:
        """The running state, for ``Source.restore``."""


class Source(Protocol):
    """Where the hash functions come from."""

    #: Names the source and the layout of its states.
    name: str

    def new(self, algorithm: str) -> Sha2:
        """A fresh hash."""

    def restore(self, algorithm: str, state: bytes) -> Sha2 | None:
        """The hash ``state`` holds; None if it is not a valid state of ``algorithm``."""


# -- OpenSSL ------------------------------------------------------------------------------


class _Sha256Ctx(ctypes.Structure):
    _fields_ = [
        ("h", ctypes.c_uint32 * 8),
        ("nl", ctypes.c_uint32),
        ("nh", ctypes.c_uint32),
        ("data", ctypes.c_uint32 * 16),
        ("num", ctypes.c_uint),
        ("md_len", ctypes.c_uint),
    ]


class _Sha512Ctx(ctypes.Structure):
    _fields_ = [
        ("h", ctypes.c_uint64 * 8),
        ("nl", ctypes.c_uint64),
        ("nh", ctypes.c_uint64),
        ("data", ctypes.c_uint8 * 128),
        ("num", ctypes.c_uint),
        ("md_len", ctypes.c_uint),
    ]


#: algorithm: (context struct, function prefix, digest bytes, block bytes)
_LAYOUT: dict[str, tuple[type[ctypes.Structure], str, int, int]] = {
    "sha256": (_Sha256Ctx, "SHA256", 32, 64),
    "sha512": (_Sha512Ctx, "SHA512", 64, 128),
}


class _OpenSSLHash:
    def __init__(self, source: _OpenSSL, algorithm: str, ctx: ctypes.Structure) -> None:
        self._source = source
        self._algorithm = algorithm
        self._ctx = ctx
        self._update = source.functions[algorithm][1]

    def update(self, data: bytes) -> None:
        self._update(ctypes.byref(self._ctx), data, len(data))

    def hexdigest(self) -> str:
        struct, _, size, _ = _LAYOUT[self._algorithm]
        copy = struct.from_buffer_copy(self._ctx)
        out = ctypes.create_string_buffer(size)
        self._source.functions[self._algorithm][2](out, ctypes.byref(copy))
        return out.raw.hex()

    def state(self) -> bytes:
        return bytes(self._ctx)


class _OpenSSL:
    """SHA-2 of the ``libcrypto`` that ``hashlib`` uses."""

    def __init__(self, library: ctypes.CDLL) -> None:
        self.name = f"openssl-{sys.byteorder}"
        self.functions: dict[str, tuple[Any, Any, Any]] = {}
        for algorithm, (_, prefix, _, _) in _LAYOUT.items():
            init, update, final = (getattr(library, prefix + part) for part in _PARTS)
            init.argtypes = [ctypes.c_void_p]
            update.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
            final.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
            for function in (init, update, final):
                function.restype = ctypes.c_int
            self.functions[algorithm] = (init, update, final)

    def new(self, algorithm: str) -> Sha2:
        ctx = _LAYOUT[algorithm][0]()
        if self.functions[algorithm][0](ctypes.byref(ctx)) != 1:
            raise RuntimeError(f"OpenSSL could not start a {algorithm} hash")
        return _OpenSSLHash(self, algorithm, ctx)

    def restore(self, algorithm: str, state: bytes) -> Sha2 | None:
        struct, _, size, block = _LAYOUT[algorithm]
        if len(state) != ctypes.sizeof(struct):
            return None
        ctx = struct.from_buffer_copy(state)
        length = ctx.md_len
        buffered = ctx.num
        if length != size or buffered >= block:
            return None
        return _OpenSSLHash(self, algorithm, ctx)


_PARTS = ("_Init", "_Update", "_Final")


def _libcrypto_path() -> str | None:
    """The ``libcrypto`` this process loaded for ``hashlib`` (Linux only; else None)."""
    try:
        importlib.import_module("_hashlib")
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            for line in maps:
                found = re.search(r"(/\S*/libcrypto\.so[.\d]*)\s*$", line)
                if found:
                    return found.group(1)
    except (ImportError, OSError):
        pass
    return None


def _openssl() -> _OpenSSL | None:
    path = _libcrypto_path()
    if path is None:
        return None
    try:
        return _OpenSSL(ctypes.CDLL(path))
    except (OSError, AttributeError):
        return None  # not loadable, or built without the SHA-2 functions


# -- rehashes -----------------------------------------------------------------------------


class _RehashesHash:
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def update(self, data: bytes) -> None:
        self._inner.update(data)

    def hexdigest(self) -> str:
        return str(self._inner.finalize())  # finalize works on a copy: hashing goes on

    def state(self) -> bytes:
        return bytes(self._inner.serialize())


class _Rehashes:
    """SHA-2 of the ``rehashes`` package; a state restores only under the same version."""

    _CLASSES = {"sha256": "PySha256", "sha512": "PySha512"}

    def __init__(self, module: Any, version: str) -> None:
        self.name = f"rehashes-{version}"
        self._module = module

    def new(self, algorithm: str) -> Sha2:
        return _RehashesHash(getattr(self._module, self._CLASSES[algorithm])())

    def restore(self, algorithm: str, state: bytes) -> Sha2 | None:
        try:
            inner = getattr(self._module, self._CLASSES[algorithm]).deserialize(state)
        except ValueError:
            return None
        return _RehashesHash(inner)


def _rehashes() -> _Rehashes | None:
    try:
        module = importlib.import_module("rehashes")
        from importlib.metadata import version

        return _Rehashes(module, version("rehashes"))
    except ImportError:
        return None


@cache
def source() -> Source | None:
    """OpenSSL if this process can use it, else ``rehashes`` if installed, else None.

    ``REGSTORE_HASH_SOURCE=openssl`` or ``=rehashes`` allows only that one.
    """
    wanted = os.environ.get("REGSTORE_HASH_SOURCE", "")
    if wanted == "rehashes":
        return _rehashes()
    if wanted == "openssl":
        return _openssl()
    return _openssl() or _rehashes()
