"""Where paths live in the container: the distribution registry's blob names.

A path ``/a/b`` is the blob ``<rootdirectory>/a/b``, as the Go driver stores it.
Pending uploads are staged on blobs under ``<rootdirectory>/~regstore/uploads/``:
no valid path has a ``~``, so list, walk and stat never show them.
"""

from __future__ import annotations

import re

from regstore.paths import ROOT, join_key

__all__ = ["Layout"]

_COMPONENT = re.compile(r"[A-Za-z0-9._-]+")
STATE_DIR = "~regstore"
UPLOADS = f"/{STATE_DIR}/uploads"


class Layout:
    """Maps driver paths to blob names and back, under one ``rootdirectory``."""

    def __init__(self, root: str) -> None:
        self.root = root.strip("/")
        #: Every blob name of this store starts with this ("" or "<root>/").
        self.prefix = f"{self.root}/" if self.root else ""
        #: Names from here on belong to the driver, not to any path.
        self.private = f"{self.prefix}~"
        #: Every name the driver keeps for itself starts with this.
        self.state_prefix = f"{self.prefix}{STATE_DIR}/"

    def key(self, path: str) -> str:
        """The blob name of a file path."""
        return join_key(self.root, path)

    def dir_prefix(self, path: str) -> str:
        """The name prefix of everything below a directory path (the root included)."""
        return self.prefix if path == ROOT else f"{self.key(path)}/"

    def staging_key(self, path: str) -> str:
        """The blob that holds the pending upload of ``path``."""
        return join_key(self.root, UPLOADS + path)

    def uploads_prefix(self, path: str) -> str:
        """The name prefix of the staging blobs of ``path`` and of every path below it.

        Siblings that share the prefix (``/ab`` for ``/a``) are filtered by ``upload_path``.
        """
        return join_key(self.root, f"{UPLOADS}/") if path == ROOT else self.staging_key(path)

    def upload_path(self, name: str) -> str | None:
        """The path whose pending upload the staging blob ``name`` holds, or None."""
        area = join_key(self.root, f"{UPLOADS}/")
        if not name.startswith(area):
            return None
        parts = name[len(area) :].split("/")
        if not all(_valid_component(part) for part in parts):
            return None
        return "/" + "/".join(parts)

    def path_of(self, name: str) -> str | None:
        """The path of a blob name, or None when no valid path maps to it."""
        if not name.startswith(self.prefix):
            return None
        parts = name[len(self.prefix) :].split("/")
        if not all(_valid_component(part) for part in parts):
            return None
        return "/" + "/".join(parts)

    def child(self, directory: str, name: str) -> str | None:
        """The child path a listing entry below ``directory`` names, or None if invalid.

        ``name`` is a blob name or a ``BlobPrefix`` name (ending in ``/``).
        """
        rest = name[len(self.dir_prefix(directory)) :]
        component = rest[:-1] if rest.endswith("/") else rest
        if "/" in component or not _valid_component(component):
            return None
        base = "" if directory == ROOT else directory
        return f"{base}/{component}"


def _valid_component(part: str) -> bool:
    return part not in (".", "..") and _COMPONENT.fullmatch(part) is not None
