"""Walk order, ``start_after`` and ``prune`` implemented once for every driver.

Two shapes of backend: a tree (filesystem, inmemory) lists one directory at a
time; an object store lists every key below a prefix in byte order. Both give
the contract's walk order: entries sorted by walk key (path, plus ``/`` for a
directory).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone

from .info import FileInfo, Prune
from .paths import ROOT

__all__ = ["EPOCH", "PRUNE_RELIST_AFTER", "after_subtree", "walk_flat", "walk_tree"]

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

#: Skipping this many keys of a pruned subtree in the current listing costs
#: more than one new listing that starts after it.
PRUNE_RELIST_AFTER = 1000


def after_subtree(directory: str) -> str:
    """A string that sorts after every path below ``directory`` (for ``start_after``)."""
    # Valid path characters are all below 0x7f, and so are the ``~`` names
    # drivers keep their own state under.
    return directory.rstrip("/") + "/\x7f"


def walk_tree(
    children: Callable[[str], Iterable[FileInfo]],
    path: str,
    *,
    start_after: str | None = None,
    prune: Prune | None = None,
) -> Iterator[FileInfo]:
    """Walk a tree given ``children(directory)``, the direct children's infos.

    ``children`` raises ``PathNotFoundError`` for a missing directory; the
    error surfaces at the first ``next()`` for ``path`` itself, and a
    subdirectory that vanishes during the walk is skipped.

    One explicit stack of sorted directory listings, not a generator per
    directory: an entry deep in a registry tree would otherwise pass through a
    ``yield from`` at every level on its way out.
    """
    from .errors import PathNotFoundError

    def listing(directory: str) -> Iterator[FileInfo] | None:
        try:
            return iter(_sorted(children(directory)))
        except PathNotFoundError:
            return None  # removed while we walked

    def plain() -> Iterator[FileInfo]:
        # No start_after, no prune (most walks): the loop below without their tests,
        # and ``listing`` inlined (one call less per directory).
        stack = [iter(_sorted(children(path)))]
        while stack:
            for info in stack[-1]:
                yield info
                if info.is_dir:
                    try:
                        below = children(info.path)
                    except PathNotFoundError:
                        continue  # removed while we walked
                    if not isinstance(below, list) or len(below) > 1:
                        below = sorted(below, key=_walk_key)
                    stack.append(iter(below))
                    break
            else:
                stack.pop()

    def run() -> Iterator[FileInfo]:
        stack = [iter(_sorted(children(path)))]
        while stack:
            for info in stack[-1]:
                if not info.is_dir:
                    if start_after is None or info.path > start_after:
                        yield info
                    continue
                if start_after is not None:
                    key = info.path + "/"
                    if key <= start_after:
                        # Entries below sort after ``key``; enter only when
                        # ``start_after`` lies inside this directory.
                        if start_after.startswith(key):
                            below = listing(info.path)
                            if below is not None:
                                stack.append(below)
                                break
                        continue
                yield info
                if prune is None or not prune(info):
                    below = listing(info.path)
                    if below is not None:
                        stack.append(below)
                        break
            else:
                stack.pop()

    return plain() if start_after is None and prune is None else run()


def _walk_key(info: FileInfo) -> str:
    return info.path + "/" if info.is_dir else info.path


def _sorted(infos: Iterable[FileInfo]) -> list[FileInfo]:
    """``infos`` in walk order; a listing of one entry (common in a registry tree) as it is."""
    if isinstance(infos, list) and len(infos) < 2:
        return infos
    return sorted(infos, key=_walk_key)


def walk_flat(
    list_files: Callable[[str | None], Iterable[FileInfo]],
    path: str,
    *,
    start_after: str | None = None,
    prune: Prune | None = None,
) -> Iterator[FileInfo]:
    """Walk an object store given ``list_files(after)``: files below ``path`` in byte order.

    ``list_files(after)`` yields only files (``is_dir=False``) whose path sorts
    after ``after`` (None: from the start), each strictly below ``path``.
    Directories are inferred from the file paths. A pruned directory's keys are
    skipped, and when there are many the listing restarts after the subtree.
    """
    prefix = "" if path == ROOT else path
    # Keys below one directory are contiguous in byte order, so the chain of
    # directories of the previous file is all that is needed to infer new ones.
    chain: list[str] = []
    pruned: str | None = None
    files = iter(list_files(start_after))
    skipped = 0
    while True:
        info = next(files, None)
        if info is None:
            return
        if pruned is not None and info.path.startswith(pruned + "/"):
            skipped += 1
            if skipped >= PRUNE_RELIST_AFTER:
                files = iter(list_files(after_subtree(pruned)))
                skipped = 0
            continue
        pruned = None
        skipped = 0
        parts = info.path[len(prefix) :].split("/")[1:-1]
        directory = prefix
        for depth, part in enumerate(parts):
            directory = f"{directory}/{part}"
            if depth < len(chain) and chain[depth] == directory:
                continue
            del chain[depth:]
            chain.append(directory)
            dir_info = FileInfo(directory, 0, EPOCH, True)
            if start_after is not None and dir_info.walk_key <= start_after:
                continue
            yield dir_info
            if prune is not None and prune(dir_info):
                pruned = directory
                break
        else:
            del chain[len(parts) :]
        if pruned is not None:
            skipped = 1
            continue
        if start_after is None or info.path > start_after:
            yield info
