"""One walk of ``repositories/`` that names what each entry is, entering only what is asked.

Every maintenance command starts here: the walk prunes the ``_`` directories a
caller does not need (``_uploads`` with its hash states, ``_layers``, the
legacy ``signatures`` below revisions), so a backend lists as little as it can.
With ``read_ahead`` the walk runs on threads of its own, one walk per top-level
directory, several at once: an object store lists each by its prefix, so their
pages are requested side by side instead of one after the other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from ..driver import FileInfo, Prune, StorageDriver
from ..errors import PathNotFoundError
from ..walking import EPOCH
from ._prefetch import Prefetch
from .layout import Layout, RepoEntry, classify

__all__ = ["Entry", "scan"]

#: Top-level directories walked at once with ``read_ahead``.
PARTS_AHEAD = 4
#: More top-level directories than this: one walk (a part costs at least one request).
MAX_PARTS = 64
#: Entries one part reads ahead of the scan, at most.
PART_CAPACITY = 20_000


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
    read_ahead: bool = False,
) -> Iterator[Entry]:
    """Classified entries below ``repositories/`` in walk order; nothing when it is missing.

    ``read_ahead``: list on background threads, top-level directories side by
    side (see ``_walk_parts``); the entries and their order are the same.
    """
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

    if read_ahead:
        walk = _walk_parts(driver, layout.repositories, prune)
    else:
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


def _walk_parts(driver: StorageDriver, path: str, prune: Prune) -> Iterator[FileInfo]:
    """The walk of ``path`` as one walk per child directory, ``PARTS_AHEAD`` read ahead at once.

    Entries come in walk order, except files directly in ``path``, which are
    left out (no repository entry is one). With one child or more than
    ``MAX_PARTS``, one walk of ``path``, still read ahead.
    """
    children = sorted(driver.list(path), key=lambda child: child + "/")
    if len(children) < 2 or len(children) > MAX_PARTS:
        with Prefetch(lambda: driver.walk(path, prune=prune), name="regstore-scan") as whole:
            yield from whole
        return
    parts = [
        Prefetch(_walk_child(driver, child, prune), capacity=PART_CAPACITY, name="regstore-scan")
        for child in children
    ]
    try:
        for part in parts[:PARTS_AHEAD]:
            part.start()
        for index, part in enumerate(parts):
            if index + PARTS_AHEAD < len(parts):
                parts[index + PARTS_AHEAD].start()
            yield from part
            part.close()
    finally:
        for part in parts:
            part.close()


def _walk_child(
    driver: StorageDriver, child: str, prune: Prune
) -> Callable[[], Iterator[FileInfo]]:
    """A source of ``child`` and the walk below it; nothing for a file or a vanished directory."""

    def source() -> Iterator[FileInfo]:
        info = FileInfo(child, 0, EPOCH, True)
        if prune(info):
            yield info
            return
        walk = driver.walk(child, prune=prune)
        try:
            first = next(walk)
        except (StopIteration, PathNotFoundError):
            return
        yield info
        yield first
        yield from walk

    return source


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
