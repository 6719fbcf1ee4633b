"""``verify``: every blob hashes to its digest, every link resolves, every manifest parses.

One walk of ``repositories/`` checks each link (its content names the digest
of its path, its target exists) and each manifest (it parses, and every blob
it references exists with the size it claims); one walk of ``blobs/`` checks
the layout and, unless ``quick``, hashes every blob's content in chunks.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ..driver import FileInfo, StorageDriver
from ..errors import PathNotFoundError
from ._pool import run_bounded
from .layout import DEFAULT_ROOT, Layout, check_repository, is_digest
from .manifests import ManifestError, parse_manifest
from .scan import Entry, scan

__all__ = ["KINDS", "Problem", "verify"]

CHUNK = 1 << 20

#: Every kind of problem ``verify`` reports.
KINDS = (
    "digest-mismatch",  # a blob's content does not hash to its digest
    "missing-blob",  # a link or a manifest names a blob whose data is absent
    "size-mismatch",  # a manifest claims another size than the blob has
    "dangling-link",  # with layer_links: a _layers link whose blob is gone
    "bad-link",  # a link is empty, garbled, or names another digest than its path
    "dangling-tag",  # a tag points to a digest without a revision in its repository
    "bad-manifest",  # a revision's blob is not a manifest the registry can read
    "bad-layout",  # a path under blobs/ that is not blobs/<alg>/<hex[0:2]>/<hex>/data
    "missing-repository",  # a repository asked for does not exist
    "read-error",  # the backend failed to answer
)


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong, naming the digest (``-`` when none) and the path where it was found."""

    kind: str
    digest: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.kind} {self.digest or '-'} {self.path}: {self.message}"


Progress = Callable[[str, int], None]


class _Checker:
    def __init__(
        self, driver: StorageDriver, layout: Layout, quick: bool, layer_links: bool
    ) -> None:
        self.driver = driver
        self.layer_links = layer_links
        self.layout = layout
        self.quick = quick
        self._blobs: dict[str, int | None] = {}
        self._hashed: set[str] = set()
        self._lock = threading.Lock()

    def blob_size(self, digest: str) -> int | None:
        """The size of a blob's data, None when absent (asked once per digest)."""
        with self._lock:
            if digest in self._blobs:
                return self._blobs[digest]
        try:
            size: int | None = self.driver.stat(self.layout.blob_data(digest)).size
        except PathNotFoundError:
            size = None
        with self._lock:
            self._blobs[digest] = size
        return size

    def link(self, entry: Entry) -> tuple[str | None, list[Problem]]:
        try:
            content = self.driver.get_content(entry.path)
        except PathNotFoundError:
            return None, []
        text = content.decode("ascii", "replace")
        if not is_digest(text):
            shown = text if len(text) <= 80 else text[:77] + "..."
            why = "is empty" if not text else f"holds {shown!r}, not a digest"
            return None, [Problem("bad-link", entry.digest, entry.path, f"the link {why}")]
        if entry.digest and text != entry.digest:
            message = f"the link holds {text}, its path names {entry.digest}"
            return None, [Problem("bad-link", entry.digest, entry.path, message)]
        return text, []

    def hash_blob(self, digest: str) -> list[Problem]:
        with self._lock:
            if digest in self._hashed:
                return []
            self._hashed.add(digest)
        path = self.layout.blob_data(digest)
        alg, _, expected = digest.partition(":")
        hasher = hashlib.new(alg)
        try:
            with self.driver.reader(path) as stream:
                while chunk := stream.read(CHUNK):
                    hasher.update(chunk)
        except PathNotFoundError:
            return []  # reported by whoever referenced it
        actual = hasher.hexdigest()
        if actual != expected:
            return [Problem("digest-mismatch", digest, path, f"content hashes to {alg}:{actual}")]
        return []

    def check(self, entry: Entry) -> list[Problem]:
        if entry.what == "current":
            return self.current(entry)
        if entry.what == "layer" and not is_digest(entry.digest):
            return [Problem("bad-link", "", entry.path, "the path does not name a digest")]
        if entry.what == "revision" and not is_digest(entry.digest):
            return [Problem("bad-link", "", entry.path, "the path does not name a digest")]
        digest, problems = self.link(entry)
        if digest is None or entry.what == "index":
            return problems
        if self.blob_size(digest) is None:
            if entry.what == "layer":
                if not self.layer_links:
                    return []  # what garbage collection leaves: harmless, the repo answers 404
                message = f"layer link of {entry.repo} names a blob that does not exist"
                return [Problem("dangling-link", digest, entry.path, message)]
            message = f"manifest revision of {entry.repo} names a blob that does not exist"
            return [Problem("missing-blob", digest, entry.path, message)]
        if entry.what == "revision":
            problems.extend(self.manifest(digest))
        return problems

    def current(self, entry: Entry) -> list[Problem]:
        digest, problems = self.link(entry)
        if digest is None:
            return problems
        try:
            self.driver.stat(self.layout.revision_link(entry.repo, digest))
        except PathNotFoundError:
            message = f"tag {entry.repo}:{entry.tag} points to a manifest the repository lacks"
            return [Problem("dangling-tag", digest, entry.path, message)]
        return []

    def manifest(self, digest: str) -> list[Problem]:
        path = self.layout.blob_data(digest)
        try:
            manifest = parse_manifest(self.driver.get_content(path))
        except PathNotFoundError:
            return []
        except ManifestError as exc:
            return [Problem("bad-manifest", digest, path, str(exc))]
        problems = []
        for ref in manifest.references:
            size = self.blob_size(ref.digest)
            if size is None:
                if not ref.external:
                    message = f"referenced by manifest {digest}, absent"
                    problems.append(
                        Problem(
                            "missing-blob", ref.digest, self.layout.blob_data(ref.digest), message
                        )
                    )
                continue
            if ref.size is not None and ref.size != size:
                message = f"manifest {digest} says {ref.size} bytes, the blob has {size}"
                problems.append(
                    Problem("size-mismatch", ref.digest, self.layout.blob_data(ref.digest), message)
                )
        return problems

    def referenced(self) -> list[str]:
        with self._lock:
            return sorted(d for d, size in self._blobs.items() if size is not None)


def verify(
    driver: StorageDriver,
    repos: Iterable[str] | None = None,
    quick: bool = False,
    workers: int = 16,
    *,
    root: str = DEFAULT_ROOT,
    progress: Progress | None = None,
    layer_links: bool = False,
) -> list[Problem]:
    """Every problem found, sorted by path; empty when the registry's storage is sound.

    ``repos`` limits the check to those repositories and the blobs they
    reference (default: everything, every blob). ``quick`` checks existence and
    sizes without reading blob contents. ``layer_links`` also reports
    ``_layers`` links whose blob is gone: garbage collection leaves them (as
    the registry's own does) and the registry answers them with 404, so they
    are not problems unless asked for.
    """
    layout = Layout(root.rstrip("/") or DEFAULT_ROOT)
    wanted = None if repos is None else {check_repository(name) for name in repos}
    checker = _Checker(driver, layout, quick, layer_links)
    problems: list[Problem] = []
    seen_repos: set[str] = set()

    def entries() -> Iterator[Entry]:
        for entry in scan(driver, layout):
            if wanted is not None and entry.repo not in wanted:
                continue
            seen_repos.add(entry.repo)
            if entry.what in ("layer", "revision", "current", "index"):
                yield entry

    def tick(stage: str, count: int, force: bool = False) -> None:
        if progress is not None and (force or count % 500 == 0):
            progress(stage, count)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="regstore-verify") as pool:
        count = 0
        for count, (entry, found, error) in enumerate(
            run_bounded(pool, checker.check, entries(), workers * 2), 1
        ):
            tick("links", count)
            if error is not None:
                problems.append(Problem("read-error", entry.digest, entry.path, str(error)))
            else:
                problems.extend(found or [])
        tick("links", count, force=True)
        for name in sorted((wanted or set()) - seen_repos):
            message = f"repository {name} does not exist"
            problems.append(Problem("missing-repository", "", layout.repo(name), message))
        count = 0
        if wanted is None:
            blobs = _walk_blobs(driver, layout, problems)
        else:
            blobs = iter(checker.referenced())
        hashing = (digest for digest in blobs if not quick)
        for count, (digest, found, error) in enumerate(
            run_bounded(pool, checker.hash_blob, hashing, workers * 2), 1
        ):
            tick("blobs", count)
            if error is not None:
                problems.append(Problem("read-error", digest, layout.blob_data(digest), str(error)))
            else:
                problems.extend(found or [])
        tick("blobs", count, force=True)
    return sorted(problems, key=lambda p: (p.path, p.kind, p.digest))


def _walk_blobs(driver: StorageDriver, layout: Layout, problems: list[Problem]) -> Iterator[str]:
    """Digests of every blob data file, reporting paths outside the blob layout."""
    base = layout.blobs + "/"

    def depth(info: FileInfo) -> int:
        return info.path[len(base) :].count("/") + 1

    pending: str | None = None
    try:
        for info in driver.walk(layout.blobs, prune=lambda info: depth(info) >= 4):
            if info.is_dir:
                if depth(info) == 3:
                    if pending is not None:
                        problems.append(_no_data(pending))
                    pending = info.path
                continue
            directory, _, name = info.path.rpartition("/")
            digest = layout.digest_of_blob_dir(directory)
            if name != "data":
                continue
            if pending == directory:
                pending = None
            if digest is None:
                message = "blob data outside blobs/<alg>/<hex[0:2]>/<hex>/data"
                problems.append(Problem("bad-layout", "", info.path, message))
                continue
            yield digest
    except PathNotFoundError:
        pass
    if pending is not None:
        problems.append(_no_data(pending))


def _no_data(directory: str) -> Problem:
    return Problem("bad-layout", "", directory, "blob directory without a data file")
