"""Turn the filesystem's ``OSError`` into one plain sentence naming the path and the root.

The filesystem driver never lets a bare ``OSError`` reach its caller: each one
becomes a ``DriverError`` (raised ``from`` the ``OSError``) that says what
failed, on which driver path, under which storage root, and why.
"""

from __future__ import annotations

import errno
import os

from ..errors import DriverError

__all__ = ["os_error", "reason"]

#: errno -> why, in words a user can act on ({root}: the storage root).
_REASONS: dict[int, str] = {
    errno.ENOSPC: "the disk holding the storage root {root} is full",
    errno.EFBIG: "the file is larger than the filesystem or the process's file size limit allows",
    errno.EROFS: "the storage root {root} is on a read-only filesystem",
    errno.EISDIR: "it is a directory, where a file is expected",
    errno.ENOTDIR: "a part of the path is a file, where a directory is expected",
    errno.EEXIST: "a file is in the way, where a directory is expected",
    errno.ENAMETOOLONG: "a name in the path is too long for the filesystem",
    errno.ELOOP: "a symbolic link is in the way (or symbolic links loop)",
    errno.EMFILE: "the process has too many open files",
    errno.ENFILE: "the system has too many open files",
    errno.EIO: "the disk reported an input/output error",
    errno.ENOENT: "a file or directory on the way vanished",
}
if hasattr(errno, "EDQUOT"):
    _REASONS[errno.EDQUOT] = "the disk quota for the storage root {root} is exhausted"


def reason(exc: OSError, root: str) -> str:
    """Why ``exc`` happened, as a clause."""
    if exc.errno in (errno.EACCES, errno.EPERM):
        name = exc.filename
        if not isinstance(name, str):
            return "permission denied"
        if "~" in os.path.basename(name):  # our temp or upload file: the folder is what matters
            return f"permission denied in {os.path.dirname(name)}"
        return f"permission denied on {name}"
    known = _REASONS.get(exc.errno or 0)
    if known is not None:
        return known.format(root=root)
    return (exc.strerror or type(exc).__name__).lower()


def _outside(filename: object, root: str) -> bool:
    """True when ``filename`` is the root itself or lies above it."""
    if not isinstance(filename, str):
        return False
    name = os.path.abspath(filename)
    return name == root or root.startswith(name.rstrip(os.sep) + os.sep)


def _directly_in(filename: object, root: str) -> bool:
    """True when ``filename`` is an entry of the root directory itself."""
    return isinstance(filename, str) and os.path.dirname(os.path.abspath(filename)) == root


def os_error(
    exc: OSError, action: str, path: str, root: str, *, writing: bool = False
) -> DriverError:
    """A ``DriverError`` saying ``cannot <action> <path>: <why> (storage root <root>)``.

    A failure on the root itself (or on a directory above it), or a write
    refused directly in the root, says that the storage root cannot be
    created or written, since that is what to fix.
    """
    why = reason(exc, root)
    if _outside(exc.filename, root) or (writing and not os.path.isdir(root)):
        return DriverError(
            f"cannot {action} {path}: the storage root {root} cannot be created or written ({why})"
        )
    denied = exc.errno in (errno.EACCES, errno.EPERM)
    if writing and denied and _directly_in(exc.filename, root):
        return DriverError(
            f"cannot {action} {path}: the storage root {root} is not writable ({why})"
        )
    where = "" if "storage root" in why else f" (storage root {root})"
    return DriverError(f"cannot {action} {path}: {why}{where}")
