"""``collect``: the registry's ``garbage-collect`` through any driver, with a grace period.

Mark: every manifest revision with its blob present marks its own digest and
every digest it references, across all repositories (with
``delete_untagged``: only manifests some tag's ``current/link`` points to,
plus, recursively, what they reference that has a revision link in the same
repository, so a tagged index keeps its children). Sweep: untagged revision
directories and their tag ``index`` entries, then every unmarked blob
directory, found by one walk of ``blobs/`` (its ``data`` file through
``delete_files``, 1000 a call where the driver deletes in bulk, when the
directory holds nothing else). Nothing is swept when marking met a problem (a
bad link, an unreadable manifest): the mark set would be wrong.

On an object store the requests are the cost: one flat walk of
``repositories/`` (one per top-level directory, a few side by side), one read
per distinct manifest (a revision link is read only when its listed size is not
its digest's), one flat walk of ``blobs/`` and a few bulk deletes. Nothing
waits for what it does not need: the walk of ``blobs/`` starts with the
collection and is read ahead (bounded) until the sweep takes it, and each
manifest is read as soon as the scan shows its revision. A blob written after
that walk passed its directory is not seen, so not deleted: the same as one
written after a sequential run's walk.

``grace`` protects what is younger than it (blob ``data``, any ``_layers``
link to the blob, revision links and tag ``index`` entries), so a push in
flight keeps its blobs; ``grace=timedelta(0)`` gives the registry's own result.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from .._base import unwrap
from ..driver import FileInfo, StorageDriver
from ..errors import PathNotFoundError
from ._pool import WorkQueue, run_bounded
from ._prefetch import Prefetch
from .layout import DEFAULT_ROOT, Layout, is_digest
from .manifests import ManifestError, parse_manifest
from .scan import Entry, scan

__all__ = ["GCReport", "Progress", "collect"]

#: ``progress(stage, count)``: ``stage`` is ``scan``, ``mark``, ``sweep`` or
#: ``delete``; ``count`` is the running total of that stage's items. ``scan`` and
#: ``mark`` interleave (manifests are read while the scan goes on).
Progress = Callable[[str, int], None]

_EVERY = 500
#: Walk entries read ahead of their use, at most (a blob's directory and data: two).
_READ_AHEAD = 100_000


@dataclass
class GCReport:
    """What a collection marked, deleted (or, in a dry run, would delete) and found wrong."""

    marked: int = 0
    blobs_deleted: list[str] = field(default_factory=list)
    bytes_freed: int = 0
    manifests_deleted: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    #: Things the registry itself passes over silently (missing manifest blobs, odd repos).
    warnings: list[str] = field(default_factory=list)
    #: ``(repo, digest)`` of ``_layers`` links removed with ``delete_layer_links``.
    layer_links_deleted: list[tuple[str, str]] = field(default_factory=list)
    blobs_kept_fresh: int = 0
    manifests_kept_fresh: int = 0
    dry_run: bool = False
    #: False when problems made the run refuse to delete anything.
    swept: bool = False

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems


@dataclass
class _Repo:
    has_layers: bool = False
    has_manifests: bool = False
    revisions: dict[str, datetime] = field(default_factory=dict)
    #: Revisions whose link's size is not that of the digest its path names: read them.
    odd_links: set[str] = field(default_factory=set)
    tags: dict[str, datetime] = field(default_factory=dict)
    history: dict[str, list[tuple[str, datetime]]] = field(default_factory=dict)


@dataclass(frozen=True)
class _Outcome:
    status: str  # "ok", "missing", "gone" or "problem"
    references: tuple[str, ...] = ()
    message: str = ""


class _Run:
    """The state of one collection: the layout, the clock, the mark set."""

    def __init__(
        self,
        driver: StorageDriver,
        layout: Layout,
        grace: timedelta,
        now: datetime,
        progress: Progress | None,
        report: GCReport,
    ) -> None:
        self.driver = driver
        self.layout = layout
        self.grace = grace
        self.cutoff = now - grace
        self.progress = progress
        self.report = report
        self.repos: dict[str, _Repo] = {}
        self.fresh_layers: set[str] = set()
        self.marked: set[str] = set()
        self.kept_fresh: set[str] = set()

    def fresh(self, moment: datetime) -> bool:
        return self.grace > timedelta(0) and moment > self.cutoff

    def tick(self, stage: str, count: int, force: bool = False) -> None:
        if self.progress is not None and (force or count % _EVERY == 0):
            self.progress(stage, count)

    def problem(self, kind: str, digest: str, path: str, message: str) -> None:
        self.report.problems.append(f"{kind} {digest or '-'} {path}: {message}")

    # -- scan -------------------------------------------------------------------------------

    def scanned(self) -> Iterator[Entry]:
        """Record every entry of the walk of ``repositories/`` and pass it on, as it comes.

        The walk is read ahead on threads of its own (top-level directories
        side by side), so its page requests overlap each other and the reads
        that its entries start. A repository's entries are
        contiguous in walk order, its revisions before its tags.
        """
        count = 0
        layers = self.grace > timedelta(0)
        for entry in scan(self.driver, self.layout, layers=layers, read_ahead=True):
            count += 1
            self.tick("scan", count)
            self.record(entry)
            yield entry
        self.tick("scan", count, force=True)
        for name, repo in sorted(self.repos.items()):
            if repo.has_manifests and not repo.has_layers:
                self.report.warnings.append(
                    f"repository {name} has _manifests but no _layers: registry 2.8 neither lists"
                    " nor collects it (its own gc deletes all its blobs), 3.x aborts its gc"
                )
            elif repo.has_layers and not repo.has_manifests:
                self.report.warnings.append(
                    f"repository {name} has _layers but no _manifests (no manifest was ever"
                    " pushed): registry 3.x does not list it"
                )

    def record(self, entry: Entry) -> None:
        """Note one scanned entry in its repository's state."""
        repo = self.repos.setdefault(entry.repo, _Repo())
        if entry.what == "repo-dir":
            repo.has_layers |= entry.kind == "_layers"
            repo.has_manifests |= entry.kind == "_manifests"
        elif entry.what == "layer":
            if is_digest(entry.digest) and self.fresh(entry.mod_time):
                self.fresh_layers.add(entry.digest)
        elif entry.what == "revision":
            if is_digest(entry.digest):
                repo.revisions[entry.digest] = entry.mod_time
                if entry.size != len(entry.digest):
                    repo.odd_links.add(entry.digest)
            else:
                self.problem("bad-path", entry.digest, entry.path, "not a digest's path")
        elif entry.what == "current":
            repo.tags[entry.tag] = entry.mod_time
        elif entry.what == "index" and is_digest(entry.digest):
            repo.history.setdefault(entry.digest, []).append((entry.tag, entry.mod_time))

    # -- mark -------------------------------------------------------------------------------

    def read_link(self, path: str) -> str:
        """A link's digest exactly as the registry parses it (no whitespace allowed)."""
        content = self.driver.get_content(path)
        text = content.decode("ascii", "replace")
        if not is_digest(text):
            shown = text if len(text) <= 80 else text[:77] + "..."
            raise ValueError(f"link content {shown!r} is not a digest")
        return text

    def tagged(
        self, pool: ThreadPoolExecutor, workers: int, entries: Iterable[Entry]
    ) -> dict[str, set[str]]:
        """Per repository, the digests its tags' ``current/link`` point to.

        Each link is read as soon as ``entries`` (the scan) shows it; the
        problems and warnings follow the scan's own in the report.
        """
        items = ((entry.repo, entry.tag) for entry in entries if entry.what == "current")

        def read(item: tuple[str, str]) -> str:
            return self.read_link(self.layout.tag_current(*item))

        found: list[tuple[str, str, str]] = []
        problems: list[str] = []
        for (name, tag), digest, error in run_bounded(pool, read, items, workers * 2):
            path = self.layout.tag_current(name, tag)
            if isinstance(error, PathNotFoundError):
                continue  # the tag was deleted since the scan
            if error is not None:
                problems.append(f"bad-link - {path}: {error}")
                continue
            assert digest is not None
            found.append((name, tag, digest))
        self.report.problems.extend(problems)
        tagged: dict[str, set[str]] = {}
        for name, tag, digest in sorted(found):
            tagged.setdefault(name, set()).add(digest)
            if digest not in self.repos[name].revisions:
                self.report.warnings.append(
                    f"tag {name}:{tag} points to {digest}, which has no revision in {name}"
                )
        return tagged

    def examine(self, item: tuple[str, str, bool]) -> _Outcome:
        """Check one revision's blob (and its link, when odd); parse the manifest of a root.

        A link is read only when the listing gave it another size than the
        digest its path names: one whose size fits holds that digest in every
        tree the registry writes, and reading each would double the requests.
        """
        name, digest, parse = item
        if digest in self.repos[name].odd_links:
            link = self.layout.revision_link(name, digest)
            try:
                target = self.read_link(link)
            except PathNotFoundError:
                return _Outcome("gone")
            except ValueError as exc:
                return _Outcome("problem", message=f"bad-link {digest} {link}: {exc}")
            if target != digest:
                message = f"bad-link {digest} {link}: the link holds {target}"
                return _Outcome("problem", message=message)
        data = self.layout.blob_data(digest)
        try:
            if not parse:
                self.driver.stat(data)
                return _Outcome("ok")
            content = self.driver.get_content(data)
        except PathNotFoundError:
            return _Outcome("missing")
        try:
            manifest = parse_manifest(content)
        except ManifestError as exc:
            return _Outcome("problem", message=f"bad-manifest {digest} {data}: {exc}")
        return _Outcome("ok", manifest.digests)

    def mark(
        self, pool: ThreadPoolExecutor, workers: int, delete_untagged: bool
    ) -> list[tuple[str, str]]:
        """Scan and fill the mark set; return the untagged revisions (blob present) not kept.

        Without ``delete_untagged`` every revision is a root, so each is read
        as soon as the scan shows it, while the walk goes on (a manifest in
        many repositories is read once). With it, the tags' links are read
        during the scan and the roots chosen once it is complete.
        """
        if delete_untagged:
            tagged = self.tagged(pool, workers, self.scanned())
            stream = self.chosen_roots(tagged)
        else:
            stream = self.every_revision(self.scanned())
        parsed: set[tuple[str, str]] = set()
        candidates: list[tuple[str, str]] = []
        problems: list[str] = []
        warnings: list[str] = []

        def items() -> Iterator[tuple[str, str, bool]]:
            for name, digest, root in stream:
                if root:
                    if (name, digest) in parsed:
                        continue  # already read as a tagged index's child
                    parsed.add((name, digest))
                yield name, digest, root

        queue: WorkQueue[tuple[str, str, bool], _Outcome] = WorkQueue(
            pool, self.examine, workers * 2
        )
        count = 0
        for (name, digest, root), outcome, error in queue.run(items()):
            count += 1
            self.tick("mark", count)
            link = self.layout.revision_link(name, digest)
            if error is not None:
                problems.append(f"read-error {digest} {link}: {error}")
                continue
            assert outcome is not None
            if outcome.status == "gone":
                continue
            if outcome.status == "problem":
                problems.append(outcome.message)
                continue
            if outcome.status == "missing":
                warnings.append(
                    f"manifest {name}@{digest} has a revision link but no blob data: neither"
                    " marked nor deleted"
                )
                continue
            if not root:
                candidates.append((name, digest))
                continue
            self.marked.add(digest)
            self.marked.update(outcome.references)
            if delete_untagged:
                revisions = self.repos[name].revisions
                for child in outcome.references:
                    if child in revisions and (name, child) not in parsed:
                        parsed.add((name, child))
                        queue.add((name, child, True))
        self.report.problems.extend(problems)
        self.report.warnings.extend(warnings)
        self.tick("mark", count, force=True)
        return candidates

    def every_revision(self, entries: Iterable[Entry]) -> Iterator[tuple[str, str, bool]]:
        """Every revision of ``entries`` as a root, a manifest's blob once (odd links each time)."""
        read: set[str] = set()
        for entry in entries:
            if entry.what != "revision" or not is_digest(entry.digest):
                continue
            digest = entry.digest
            if digest not in self.repos[entry.repo].odd_links:
                if digest in read:
                    continue
                read.add(digest)
            yield entry.repo, digest, True

    def chosen_roots(self, tagged: dict[str, set[str]]) -> Iterator[tuple[str, str, bool]]:
        """Every scanned revision, a root when tagged or kept by the grace period."""
        for name, repo in self.repos.items():
            for digest, moment in repo.revisions.items():
                yield name, digest, self.is_root(tagged, name, digest, moment)

    def is_root(
        self, tagged: dict[str, set[str]], name: str, digest: str, moment: datetime
    ) -> bool:
        """True when a tag points to the revision or it or its tag history is fresh."""
        if digest in tagged.get(name, ()):
            return True
        history = self.repos[name].history.get(digest, ())
        if self.fresh(moment) or any(self.fresh(when) for _, when in history):
            self.report.manifests_kept_fresh += 1
            return True
        return False


def collect(
    driver: StorageDriver,
    *,
    delete_untagged: bool = False,
    dry_run: bool = False,
    grace: timedelta = timedelta(hours=1),
    workers: int = 16,
    progress: Progress | None = None,
    root: str = DEFAULT_ROOT,
    delete_layer_links: bool = False,
    now: datetime | None = None,
) -> GCReport:
    """Delete what no manifest references, as the registry's ``garbage-collect`` does.

    ``delete_layer_links`` also removes every ``_layers`` link to an unmarked
    blob that is not kept by the grace period: those of the blobs this run
    deletes and those left dangling by earlier runs (registry 3.x removes the
    former, decided repository by repository; 2.8, and the default here, leave
    them). ``now`` is when ``grace`` counts back from (default: the current
    time).
    """
    if grace < timedelta(0):
        raise ValueError(f"grace must be zero or more, got {grace}")
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    started = time.monotonic()
    report = GCReport(dry_run=dry_run)
    run = _Run(
        driver,
        Layout(root.rstrip("/") or DEFAULT_ROOT),
        grace,
        now or datetime.now(timezone.utc),
        progress,
        report,
    )
    # The walk of blobs/ needs nothing from marking until the sweep: it runs from the start.
    blob_walk = Prefetch(
        lambda: _blob_dirs(run.layout, _walk_blobs(run.driver, run.layout)),
        capacity=_READ_AHEAD,
        name="regstore-gc-blobs",
    )
    with (
        ThreadPoolExecutor(max_workers=workers, thread_name_prefix="regstore-gc") as pool,
        blob_walk,
    ):
        candidates = run.mark(pool, workers, delete_untagged)
        report.marked = len(run.marked)
        if report.problems:
            report.seconds = time.monotonic() - started
            return report
        doomed = sorted(c for c in candidates if c[1] not in run.marked)
        _sweep_manifests(run, pool, workers, doomed, dry_run)
        _sweep_blobs(run, pool, workers, dry_run, blob_walk)
        if delete_layer_links:
            _sweep_layer_links(run, pool, workers, dry_run)
        report.swept = not dry_run
    report.blobs_deleted.sort()
    report.seconds = time.monotonic() - started
    return report


def _delete(driver: StorageDriver, paths: list[str]) -> None:
    for path in paths:
        try:
            driver.delete(path)
        except PathNotFoundError:
            continue


def _sweep_manifests(
    run: _Run,
    pool: ThreadPoolExecutor,
    workers: int,
    doomed: list[tuple[str, str]],
    dry_run: bool,
) -> None:
    layout = run.layout

    def units(item: tuple[str, str]) -> list[str]:
        name, digest = item
        tags = sorted({tag for tag, _ in run.repos[name].history.get(digest, ())})
        return [layout.tag_index_dir(name, tag, digest) for tag in tags] + [
            layout.revision_dir(name, digest)
        ]

    if dry_run:
        run.report.manifests_deleted.extend(doomed)
        return
    for item, _, error in run_bounded(
        pool, lambda item: _delete(run.driver, units(item)), doomed, workers * 2
    ):
        if error is not None:
            run.problem("delete-error", item[1], layout.revision_dir(*item), str(error))
        else:
            run.report.manifests_deleted.append(item)
    run.report.manifests_deleted.sort()


@dataclass
class _BlobDir:
    """One ``blobs/<alg>/<xx>/<hex>`` directory as the walk shows it, or a misplaced data file."""

    path: str
    data: FileInfo | None = None
    #: Anything in it besides ``data``: then the directory goes, not just the file.
    more: bool = False
    #: A ``data`` file outside any blob directory; ``path`` is the file's.
    misplaced: bool = False
    #: Entries of the walk read when it was yielded (for progress; rises item by item).
    seen: int = 0


def _walk_blobs(driver: StorageDriver, layout: Layout) -> Iterator[FileInfo]:
    """The walk of ``blobs/``, entering no blob directory (nothing is below it but its data)."""
    base = layout.blobs + "/"

    def prune(info: FileInfo) -> bool:
        return info.path[len(base) :].count("/") + 1 >= 4

    return driver.walk(layout.blobs, prune=prune)


def _blob_dirs(layout: Layout, walk: Iterable[FileInfo]) -> Iterator[_BlobDir]:
    """Every blob directory of ``walk`` (``_walk_blobs``) and every misplaced data file, in order.

    It touches no state of the collection, so it runs on the walk's read-ahead
    thread while marking goes on, and the sweep only filters what it yields.
    """
    base = layout.blobs + "/"

    def depth(path: str) -> int:
        return path[len(base) :].count("/") + 1

    count = 0
    current: _BlobDir | None = None
    try:
        for info in walk:
            count += 1
            if info.is_dir:
                if depth(info.path) == 3:
                    if current is not None:
                        current.seen = count - 1
                        yield current
                    current = _BlobDir(info.path)
                elif current is not None and info.path.startswith(current.path + "/"):
                    current.more = True
                continue
            directory, _, name = info.path.rpartition("/")
            if current is not None and directory == current.path:
                if name == "data":
                    current.data = info
                else:
                    current.more = True
            elif name == "data":
                yield _BlobDir(info.path, info, misplaced=True, seen=count)
    except PathNotFoundError:
        pass  # no blobs at all
    if current is not None:
        current.seen = count
        yield current


_MISPLACED = "blob data outside blobs/<alg>/<hex[0:2]>/<hex>"
#: Blob data files handed to one ``delete_files`` call of a driver that batches deletes.
DELETE_BATCH = 1000


def _batches_deletes(driver: StorageDriver) -> bool:
    """True when the driver below any wrappers overrides ``delete_files`` (deletes in bulk)."""
    return type(unwrap(driver)).delete_files is not StorageDriver.delete_files


def _sweep_blobs(
    run: _Run,
    pool: ThreadPoolExecutor,
    workers: int,
    dry_run: bool,
    blob_dirs: Iterable[_BlobDir],
) -> None:
    layout, report = run.layout, run.report
    batch_size = DELETE_BATCH if _batches_deletes(run.driver) else 1

    def doomed() -> Iterator[tuple[str, int, str]]:
        """``(digest, size, what to delete)`` of every unmarked blob old enough to go."""
        seen = 0
        for blob in blob_dirs:
            crossed = blob.seen // _EVERY > seen // _EVERY
            seen = blob.seen
            run.tick("sweep", seen, force=crossed)
            if blob.misplaced:
                run.problem("bad-path", "", blob.path, _MISPLACED)
                continue
            if blob.data is None:
                _no_data(report, blob.path)
                continue
            digest = layout.digest_of_blob_dir(blob.path)
            if digest is None:
                run.problem("bad-path", "", blob.data.path, _MISPLACED)
                continue
            if digest in run.marked:
                continue
            if run.fresh(blob.data.mod_time) or digest in run.fresh_layers:
                report.blobs_kept_fresh += 1
                run.kept_fresh.add(digest)
                continue
            # The data file alone when it is all there is: the same result as the
            # directory, and a backend deletes files in bulk, trees one at a time.
            yield digest, blob.data.size, blob.path if blob.more else blob.data.path
        run.tick("sweep", seen, force=True)

    def batches() -> Iterator[list[tuple[str, int, str]]]:
        files: list[tuple[str, int, str]] = []
        for item in doomed():
            if not item[2].endswith("/data"):
                yield [item]
                continue
            files.append(item)
            if len(files) >= batch_size:
                yield files
                files = []
        if files:
            yield files

    def delete(batch: list[tuple[str, int, str]]) -> None:
        if dry_run:
            return
        if len(batch) == 1 and not batch[0][2].endswith("/data"):
            _delete(run.driver, [batch[0][2]])
        else:
            run.driver.delete_files([path for _, _, path in batch])

    deleted = 0
    for batch, _, error in run_bounded(pool, delete, batches(), workers * 2):
        for digest, size, _ in batch:
            if error is not None:
                run.problem("delete-error", digest, layout.blob_dir(digest), str(error))
                continue
            report.blobs_deleted.append(digest)
            report.bytes_freed += size
            deleted += 1
            run.tick("delete", deleted)
    run.tick("delete", deleted, force=True)


def _no_data(report: GCReport, directory: str | None) -> None:
    if directory is not None:
        report.warnings.append(f"blob directory {directory} has no data file: left alone")


def _sweep_layer_links(run: _Run, pool: ThreadPoolExecutor, workers: int, dry_run: bool) -> None:
    links = (
        (entry.repo, entry.digest)
        for entry in scan(run.driver, run.layout, manifests=False)
        if entry.what == "layer"
        and is_digest(entry.digest)
        and entry.digest not in run.marked
        and entry.digest not in run.kept_fresh
        and entry.digest not in run.fresh_layers
        and not run.fresh(entry.mod_time)
    )

    def delete(item: tuple[str, str]) -> None:
        if not dry_run:
            _delete(run.driver, [run.layout.layer_dir(*item)])

    for item, _, error in run_bounded(pool, delete, links, workers * 2):
        if error is not None:
            run.problem("delete-error", item[1], run.layout.layer_dir(*item), str(error))
        else:
            run.report.layer_links_deleted.append(item)
    run.report.layer_links_deleted.sort()
