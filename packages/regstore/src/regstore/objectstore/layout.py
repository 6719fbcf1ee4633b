"""Where paths and the driver's own objects live in a bucket: one layout for every object store.

A path ``/a/b`` is the key ``<rootdirectory>/a/b`` (no leading ``/``), where the
distribution registry's drivers store it, so a driver works on an existing
registry's bucket in place. What a driver keeps for itself (pending uploads,
their hash state) lives under ``<rootdirectory>/~regstore/``: ``~`` is not a
path character, so no path maps there, and it sorts after every path
character, so listings reach it last and stop there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..errors import InvalidParameterError
from ..paths import PATH_PATTERN, ROOT

__all__ = ["PRIVATE_AREA", "KeyLayout", "check_rootdirectory"]

#: The top-level name under ``rootdirectory`` that holds a driver's own objects.
PRIVATE_AREA = "~regstore"
#: The first character in byte order that no path uses: a listing start key of
#: ``prefix + PAST_PATHS`` lists nothing a path maps to.
PAST_PATHS = "~"

#: Keys joined by newlines, every one a valid path: one scan in C checks a listing.
_PATH_LINES = re.compile(f"{PATH_PATTERN.pattern}(?:\n{PATH_PATTERN.pattern})*")
_DOT_COMPONENT = re.compile(r"/\.{1,2}(?=/|$)")
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def check_rootdirectory(driver_name: str, value: str) -> str:
    """``value`` without its outer slashes, or ``InvalidParameterError`` saying what is wrong.

    Object stores take almost any key, but their listings must carry it back:
    a control character breaks XML listings (Azure answers 500 to every list),
    and empty, ``.`` or ``..`` components name nothing a filesystem user meant.
    """
    if not isinstance(value, str):
        raise InvalidParameterError(
            driver_name, "rootdirectory", f"must be a string, got {type(value).__name__}"
        )
    root = value.strip("/")
    bad = _UNPRINTABLE.search(root)
    if bad is not None:
        raise InvalidParameterError(
            driver_name,
            "rootdirectory",
            f"contains the control character {bad.group()!r} at offset {bad.start()}; a root"
            " directory is printable text, components separated by single '/' (e.g."
            " 'registry' or 'team/registry')",
        )
    if root and any(part in ("", ".", "..") for part in root.split("/")):
        raise InvalidParameterError(
            driver_name,
            "rootdirectory",
            f"{value!r} has an empty, '.' or '..' component; separate components by single"
            " '/' (e.g. 'team/registry')",
        )
    return root


def _plain(candidate: str) -> bool:
    """True when ``candidate`` is a valid path (the pattern, and no ``.``/``..`` component)."""
    if PATH_PATTERN.fullmatch(candidate) is None:
        return False
    return "/." not in candidate or _DOT_COMPONENT.search(candidate) is None


class KeyLayout:
    """Maps paths to keys and back under one ``rootdirectory``; also names the private area."""

    def __init__(self, rootdirectory: str, driver_name: str = "") -> None:
        #: The root without outer slashes ("" for the bucket's top).
        self.root = check_rootdirectory(driver_name, rootdirectory)
        #: Every key of this store starts with it ("" or "<root>/").
        self.prefix = f"{self.root}/" if self.root else ""
        #: Every key the driver keeps for itself starts with it.
        self.private = f"{self.prefix}{PRIVATE_AREA}/"
        #: Every key of a pending upload starts with it.
        self.uploads = f"{self.private}uploads/"

    # -- paths and keys ----------------------------------------------------------

    def key(self, path: str) -> str:
        """The key of a valid, non-root path."""
        return self.prefix + path[1:]

    def dir_prefix(self, path: str) -> str:
        """The key prefix of everything strictly below the directory ``path`` (root included)."""
        return self.prefix if path == ROOT else f"{self.prefix}{path[1:]}/"

    def path_of(self, key: str) -> str | None:
        """The path stored at ``key``, or None when no valid path maps to it (private keys too)."""
        if not key.startswith(self.prefix):
            return None
        candidate = "/" + key[len(self.prefix) :]
        return candidate if _plain(candidate) else None

    def child(self, directory: str, name: str) -> str | None:
        """The direct child of ``directory`` named by a listed key or common prefix (``a/``)."""
        rest = name[len(self.dir_prefix(directory)) :]
        component = rest[:-1] if rest.endswith("/") else rest
        if not component or "/" in component:
            return None
        candidate = ("" if directory == ROOT else directory) + "/" + component
        return candidate if _plain(candidate) else None

    def children(self, directory: str, names: Iterable[str]) -> list[str]:
        """The distinct, sorted child paths of a one-level listing below ``directory``.

        ``names`` are keys and common prefixes (with their ``/``); private and
        invalid ones are left out. A level can hold many thousands of names, so
        all are checked with one regular expression first.
        """
        start = len(self.dir_prefix(directory))
        base = "" if directory == ROOT else directory
        found = {f"{base}/{name[start:].rstrip('/')}" for name in names}
        joined = "\n".join(found)
        one_per_line = joined.count("\n") == len(found) - 1
        if one_per_line and "/." not in joined and _PATH_LINES.fullmatch(joined):
            return sorted(found)  # the common case: every name plainly valid
        return sorted(path for path in found if "\n" not in path and _plain(path))

    def listing_start(self, after: str) -> str | None:
        """A key to list from (exclusive) so that every path sorting after ``after`` is listed.

        None lists from the start. Keys compare as their paths do (they differ
        by the common prefix), so the key of ``after`` itself serves; a string
        that sorts after every path gives the start of the private area.
        """
        if after < ROOT:
            return None
        if not after.startswith(ROOT):
            return self.prefix + PAST_PATHS
        return self.prefix + after[1:]

    @staticmethod
    def after_every_path(after: str) -> bool:
        """True when no path sorts after ``after`` (a walk after it lists nothing)."""
        return not after.startswith(ROOT) and after > ROOT

    def is_private(self, key: str) -> bool:
        """True for a key in the driver's private area (never a path)."""
        return key.startswith(self.private)

    # -- pending uploads ---------------------------------------------------------

    def upload_dir(self, path: str) -> str:
        """The key (no trailing ``/``) under which the pending upload of ``path`` keeps its objects.

        ``upload_dir(p) + "/"`` starts every key of the uploads at or below ``p``;
        a driver names its own objects of the upload of ``p`` directly below it
        (or uses the key itself, as one staging object).
        """
        return self.uploads + path[1:]

    def uploads_below(self, path: str) -> str:
        """The key prefix of every pending upload's objects at or below ``path`` (root included)."""
        return self.uploads if path == ROOT else self.upload_dir(path) + "/"

    def upload_path(self, key: str) -> str | None:
        """The path of an upload whose directory (or single staging object) is ``key``."""
        if not key.startswith(self.uploads):
            return None
        candidate = "/" + key[len(self.uploads) :]
        return candidate if _plain(candidate) else None

    def upload_entry(self, key: str) -> tuple[str, str] | None:
        """The upload path and object name of an upload object ``<upload_dir>/<name>``, or None."""
        directory, _, name = key.rpartition("/")
        path = self.upload_path(directory)
        return None if path is None else (path, name)
