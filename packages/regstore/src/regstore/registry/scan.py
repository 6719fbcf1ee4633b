"""One walk of ``repositories/`` that names what each entry is, entering only what is asked.

Every maintenance command starts here: the walk prunes the ``_`` directories a
caller does not need (``_uploads`` with its hash states, ``_layers``, the
legacy ``signatures`` below revisions), so a backend lists as little as it can.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from ..driver import FileInfo, StorageDriver
from ..errors import PathNotFoundError
from .layout import Layout, RepoEntry, classify

__all__ = ["Entry", "scan"]


@dataclass(frozen=True)
class Entry:
    """A classified file or ``_`` directory below ``repositories/``.

    ``what`` is one of ``repo-dir`` (a ``_layers``/``_manifests``/``_uploads``
    directory: its parent is a repository), ``layer``, ``revision``,
    ``current``, ``index``, ``upload-dir``, ``startedat`` or ``other``.
    ``digest`` is the digest the path names (not yet validated), ``tag`` the
    tag name for ``current`` and ``index``.
    """

    what: str
    repo: str
    kind: str
    path: str
    mod_time: datetime
    size: int
    digest: str = ""
    tag: str = ""
    name: str = ""


def scan(
    driver: StorageDriver,
    layout: Layout,
    *,
    layers: bool = True,
    manifests: bool = True,
    uploads: bool = False,
) -> Iterator[Entry]:
    """Classified entries below ``repositories/`` in walk order; nothing when it is missing."""
    wanted = {"_layers": layers, "_manifests": manifests, "_uploads": uploads}

    def prune(info: FileInfo) -> bool:
        entry = classify(layout, info.path)
        if entry is None:
            return False
        if not entry.rest:
            return not wanted.get(entry.kind, False)
        if entry.kind == "_manifests":
            # revisions/<alg>/<hex>/signatures: a schema1 signature store, never read.
            return entry.rest[0] == "revisions" and len(entry.rest) >= 4
        if entry.kind == "_uploads":
            return len(entry.rest) >= 2  # hashstates and anything else below <uuid>
        return False

    walk = driver.walk(layout.repositories, prune=prune)
    try:
        first = next(walk)
    except (StopIteration, PathNotFoundError):
        return
    for info in _chain(first, walk):
        entry = classify(layout, info.path)
        if entry is None:
            continue
        if not entry.rest:
            if info.is_dir:
                yield _entry("repo-dir", entry, info)
            continue
        if info.is_dir:
            if entry.kind == "_uploads" and len(entry.rest) == 1:
                yield _entry("upload-dir", entry, info, name=entry.rest[0])
            continue
        yield _file_entry(entry, info)


def _chain(first: FileInfo, rest: Iterator[FileInfo]) -> Iterator[FileInfo]:
    yield first
    yield from rest


def _entry(what: str, entry: RepoEntry, info: FileInfo, **extra: str) -> Entry:
    return Entry(what, entry.repo, entry.kind, info.path, info.mod_time, info.size, **extra)


def _file_entry(entry: RepoEntry, info: FileInfo) -> Entry:
    rest = entry.rest
    if entry.kind == "_layers" and len(rest) == 3 and rest[2] == "link":
        return _entry("layer", entry, info, digest=f"{rest[0]}:{rest[1]}")
    if entry.kind == "_manifests":
        if len(rest) == 4 and rest[0] == "revisions" and rest[3] == "link":
            return _entry("revision", entry, info, digest=f"{rest[1]}:{rest[2]}")
        if len(rest) == 4 and rest[0] == "tags" and rest[2:] == ("current", "link"):
            return _entry("current", entry, info, tag=rest[1])
        if len(rest) == 6 and rest[0] == "tags" and rest[2] == "index" and rest[5] == "link":
            return _entry("index", entry, info, tag=rest[1], digest=f"{rest[3]}:{rest[4]}")
    if entry.kind == "_uploads" and len(rest) == 2 and rest[1] == "startedat":
        return _entry("startedat", entry, info, name=rest[0])
    return _entry("other", entry, info)
