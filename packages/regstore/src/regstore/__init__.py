"""regstore: storage drivers for container-registry content.

One driver interface for a local directory tree and the object stores,
with the semantics and configuration keys of the CNCF distribution
registry's storage drivers.
"""

from __future__ import annotations

from . import errors
from .__about__ import __version__
from ._base import CheckedDriver, unwrap
from .config import from_config
from .driver import FileInfo, FileWriter, PendingUpload, StorageDriver
from .errors import (
    DigestMismatchError,
    DriverError,
    InvalidOffsetError,
    InvalidParameterError,
    InvalidPathError,
    InvalidStorageDriverError,
    PathNotFoundError,
    StorageDriverError,
    UnsupportedMethodError,
    WriterClosedError,
)
from .factory import available_drivers, create, register

__all__ = [
    "CheckedDriver",
    "DigestMismatchError",
    "DriverError",
    "FileInfo",
    "FileWriter",
    "InvalidOffsetError",
    "InvalidParameterError",
    "InvalidPathError",
    "InvalidStorageDriverError",
    "PathNotFoundError",
    "PendingUpload",
    "StorageDriver",
    "StorageDriverError",
    "UnsupportedMethodError",
    "WriterClosedError",
    "__version__",
    "available_drivers",
    "create",
    "errors",
    "from_config",
    "register",
    "unwrap",
]
