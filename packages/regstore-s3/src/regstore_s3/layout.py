"""Where paths and pending uploads live in the bucket.

A path is stored at ``rootdirectory + path`` without the leading ``/``, as the
distribution registry stores it. A pending upload keeps its state and tail
objects below ``<rootdirectory>/~regstore/uploads/<path key>/``: ``~`` cannot
appear in a valid path, so no path maps there, and listings skip it.
"""

from __future__ import annotations

from regstore.errors import InvalidPathError
from regstore.paths import ROOT, check_path

__all__ = ["TAIL", "Layout", "tail_size"]

#: The first character no valid path component uses in byte order: keys from
#: here on (``~regstore/`` among them) hold nothing a listing shows.
PAST_VALID = "{"
#: How the name of a tail object starts: ``tail-<upload size>-<token>``.
TAIL = "tail-"


class Layout:
    """Maps paths to keys and back under one ``rootdirectory``."""

    def __init__(self, rootdirectory: str) -> None:
        root = rootdirectory.strip("/")
        #: Every key of this driver starts with it ("" or "root/").
        self.prefix = f"{root}/" if root else ""
        self.uploads = f"{self.prefix}~regstore/uploads/"

    def key(self, path: str) -> str:
        """The object key of a valid, non-root path."""
        return self.prefix + path[1:]

    def below(self, path: str) -> str:
        """The key prefix of everything strictly below ``path`` (root included)."""
        return self.prefix if path == ROOT else self.key(path) + "/"

    def start_after(self, after: str) -> str | None:
        """The key to pass as ``StartAfter`` for paths sorting after ``after``.

        None means from the start; keys compare as their paths do, since they
        only differ by the common prefix.
        """
        if after < ROOT:
            return None
        return self.prefix + after[1:] if after.startswith(ROOT) else self.prefix + PAST_VALID

    def path(self, key: str) -> str | None:
        """The path stored at ``key``, or None for a key no valid path maps to."""
        if not key.startswith(self.prefix):
            return None
        candidate = "/" + key[len(self.prefix) :]
        try:
            return check_path(candidate)
        except InvalidPathError:
            return None

    def child(self, directory: str, key: str) -> str | None:
        """The direct child of ``directory`` named by a listed key or common prefix."""
        name = key[len(self.below(directory)) :].rstrip("/")
        if not name or "/" in name:
            return None
        candidate = ("" if directory == ROOT else directory) + "/" + name
        try:
            return check_path(candidate)
        except InvalidPathError:
            return None

    def upload_dir(self, path: str) -> str:
        """The key prefix of the upload bookkeeping of ``path`` and every path below it."""
        return self.uploads + path[1:] + "/"

    def state_key(self, path: str) -> str:
        """The key of the JSON state of the pending upload at ``path``."""
        return self.upload_dir(path) + "state"

    def uploads_below(self, path: str) -> str:
        """The key prefix of the upload bookkeeping at or below ``path`` (root included)."""
        return self.uploads if path == ROOT else self.upload_dir(path)

    def tail_key(self, path: str, token: str, size: int) -> str:
        """A fresh key for the tail of the upload at ``path``, closed at ``size`` bytes.

        The size in the name lets one listing report every upload's size
        without reading its state.
        """
        return f"{self.upload_dir(path)}{TAIL}{size}-{token}"

    def upload_entry(self, key: str) -> tuple[str, str] | None:
        """The upload path and the object name of a bookkeeping ``key``, or None.

        ``<uploads>a/b/state`` gives ``("/a/b", "state")``; a key in no valid
        upload directory gives None.
        """
        if not key.startswith(self.uploads):
            return None
        directory, _, name = key[len(self.uploads) :].rpartition("/")
        try:
            return check_path("/" + directory), name
        except InvalidPathError:
            return None

    def state_path(self, key: str) -> str | None:
        """The upload path whose state object is ``key``, or None for another key."""
        if not key.startswith(self.uploads) or not key.endswith("/state"):
            return None
        return "/" + key[len(self.uploads) : -len("/state")]


def tail_size(name: str) -> int | None:
    """The upload size a tail object's name records, or None (not a tail, or an older name)."""
    if not name.startswith(TAIL):
        return None
    size, separator, token = name[len(TAIL) :].partition("-")
    if not separator or not token or not size.isdigit():
        return None
    return int(size)
