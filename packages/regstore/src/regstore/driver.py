"""The storage-driver contract, stated once: what every regstore driver must do.

``StorageDriver`` and ``FileWriter`` are the classes a driver implements;
``FileInfo`` and ``PendingUpload`` (defined in ``regstore.info``, re-exported
here) are what it reports; ``regstore.errors`` has the table of errors. Drivers
implement this text without restating it. The conformance suite
``regstore.testsuite`` is its executable form: a reference such as
``testsuite/content.py::ContentTests.test_truncate`` names the test that
checks a rule (later names in one list share its module, and its class unless
they name another); where this text and the suite disagree, the suite is right.

The wrapper
-----------
``regstore.create`` returns every driver inside ``regstore.CheckedDriver``
(``regstore._base``). Before a driver method runs, the wrapper:

- checks every path argument (below) and raises ``InvalidPathError``;
- ``reader``: raises ``InvalidOffsetError`` for an offset that is negative or
  not an int (a bool included), before the path is looked up;
- ``put_content``: raises ``TypeError`` for content that is not bytes,
  bytearray or memoryview; ``delete_files``: ``TypeError`` for a lone str, and
  checks every path before any is deleted; ``walk``: ``TypeError`` for a
  ``start_after`` that is neither a str nor None;
- ``redirect_url``: ``InvalidParameterError`` for an ``expires_in`` that is not
  an int > 0; upper-cases ``method`` and answers None for anything but GET and
  HEAD without calling the driver;
- ``purge_uploads``: ``TypeError`` for a ``before`` that is not a datetime,
  ``InvalidParameterError`` for a naive one;
- ``writer(path, append=False, digest=None)``: checks ``digest``
  (``InvalidParameterError``) and that the hash functions are installed
  (``UnsupportedMethodError``), then starts the digest (see ``FileWriter``);
- lets at most ``concurrency_limit`` calls into the driver at once;
- passes every exception of the call, of the writers it returns, of the
  readers of a driver that declares ``translate``, and of the items of
  ``walk`` and ``pending_uploads`` through ``regstore.errors.translate_error``,
  so callers see contract errors only, each naming the driver (``str(e)``
  starts with ``"<name>: "``).

A driver therefore gets valid arguments only and never checks them again. It
raises contract errors without a driver name, or lets its SDK's exceptions
rise for its ``translate`` hook to map.

Paths
-----
A path is absolute: one or more components, each ``/`` followed by one or
more of ``A-Z a-z 0-9 . _ -`` (``regstore.paths.PATH_PATTERN``,
``^(/[A-Za-z0-9._-]+)+$``). A component that is exactly ``.`` or ``..`` is
invalid (stricter than distribution), so no path names anything outside the
driver's root. ``/`` alone is the root: valid for ``stat``, ``list``,
``walk``, ``pending_uploads`` and ``purge_uploads`` only. Every method raises
``InvalidPathError`` (carrying the path) for a bad path or a non-str before
it touches the backend, and never normalises a bad path into a good one.
Suite: ``testsuite/content.py::ContentTests.test_valid_paths``,
``test_invalid_paths_rejected``, ``test_dot_components_rejected_by_every_method``,
``test_root_is_valid_only_for_stat_list_walk``;
``testsuite/tree.py::MoveDeleteTests.test_move_invalid``.

Files and directories
---------------------
A store holds files: a path and its bytes. Directories are implicit: a path
is a directory exactly while some file is stored below it at a ``/``
boundary, as in an object store, so ``/a`` is no directory because of
``/ab``, and a directory disappears with the last file below it (drivers over
real directories remove the empty ones that ``delete``, ``move`` and
``cancel`` leave). Suite: ``testsuite/tree.py::StatListTests.test_list_prefix_is_not_a_directory``,
``MoveDeleteTests.test_move``, ``test_delete_folder``.

Left to the driver, which documents its choice: storing a file at a path that
is a directory or below a file, and moving a directory (inmemory and
filesystem raise ``DriverError`` for all three); appending to committed
non-empty content (see ``writer``).

A path ``P`` is stored where the distribution registry's driver of the same
name stores it (filesystem: the file ``rootdirectory + P``; object stores: the
key ``rootdirectory + P`` without the leading ``/``), so regstore works on a
registry's storage in place (shared-tests/test_registry_compat.py).

The private area
----------------
What a driver keeps for itself (pending uploads, their hash state, temp
files) lives under names no path can produce, and never shows in
``get_content``, ``reader``, ``stat``, ``list`` or ``walk``: object-store drivers keep
it below ``<rootdirectory>/~regstore/`` (``regstore.objectstore.layout``:
``~`` is no path character and sorts after all of them, so listings reach it
last), the filesystem driver in ``<root>/~uploads`` and hidden ``~tmp.*`` files.
Nothing of it may outlive what it served: after each test the suite fails
when ``walk("/")`` or the binding's ``leftovers`` (the private objects a
backend lists) are not empty (``testsuite/_support.py::SuiteBase._guard``).

Concurrency and atomicity
-------------------------
Every method of one driver may be called from many threads at once; a reader
or a writer, like any file object, serves one thread at a time. Instances and
processes over the same store (same parameters) share one namespace and one
set of pending uploads (inmemory: one instance). ``put_content`` and
``FileWriter.commit`` are atomic: a concurrent reader sees the old content or
the new, whole, never a mix or a truncated file (stricter than
distribution's filesystem driver), also when the writer is killed mid-way.
A reader whose file is replaced or deleted while it still needs the backend
raises ``ContentChangedError`` rather than return bytes of two versions.
Suite: ``testsuite/content.py::ContentTests.test_put_content_is_atomic_under_concurrent_readers``;
``testsuite/streams.py::ReaderTests.test_concurrent_stream_reads``,
``WriterTests.test_concurrent_file_streams``; under load and crashes:
shared-tests/test_load.py, shared-tests/test_crash.py.

Failures
--------
Every failure is an exception from ``regstore.errors`` (or a ``TypeError`` for
an argument of the wrong type); no SDK exception type reaches a caller.
Messages say what is wrong and what is allowed, and never carry a secret.

What drivers report
-------------------
``FileInfo(path, size, mod_time, is_dir)``, a frozen dataclass, from ``stat``
and ``walk``: for a file, its exact ``size`` in bytes and ``mod_time``, the
timezone-aware (UTC) time of its last change, never earlier after a later
write; for a directory ``is_dir=True``, ``size`` 0 and a timezone-aware
``mod_time`` that is otherwise unspecified. ``walk_key`` is the path, plus
``/`` for a directory. Infos are equal when their four fields are.
Suite: ``testsuite/tree.py::StatListTests.test_stat_file_and_directories``,
``test_stat_mod_time_follows_changes``, ``WalkTests.test_walk_order_and_infos``.

``PendingUpload(path, size, modified)``, a frozen dataclass, from
``pending_uploads``: the path the upload commits to, its size at its last
``close`` and ``modified``, the timezone-aware UTC time of that ``close`` by the
backend's clock. Suite:
``testsuite/uploads.py::UploadLifecycleTests.test_pending_uploads_lists_closed_uploads_only``.
"""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

from .digests import StreamHasher, check_expected, decode_state
from .errors import (
    DigestMismatchError,
    DriverError,
    InvalidParameterError,
    PathNotFoundError,
    Translate,
    UnsupportedMethodError,
    WriterClosedError,
    translate_error,
)
from .inflight import InFlight
from .info import FileInfo, PendingUpload, Prune
from .walking import walk_tree

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

__all__ = ["FileInfo", "FileWriter", "PendingUpload", "Prune", "StorageDriver"]


class FileWriter(ABC):
    """A writable binary file object for one upload to one path; invisible until ``commit``.

    ``StorageDriver.writer`` returns it, open. It ends at the first ``close``,
    ``commit`` or ``cancel``; ``closed`` is then True.

    - ``write(data)`` appends bytes, a bytearray or a memoryview of any length
      (one 12 MiB write included) and returns its length; ``writelines``,
      ``tell`` and ``shutil.copyfileobj`` work as on a file. ``size`` is the
      bytes of the upload so far, resumed ones included, and stays readable
      after the writer ends.
    - ``close()`` persists everything written, so that ``writer(path,
      append=True)`` resumes it from any instance in any process over the same
      store (inmemory: the same instance), and releases resources; the upload is
      then pending. A resumed upload holds exactly the bytes written up to its
      last ``close`` (bytes a killed process wrote after it are not resumed).
      Idempotent, also after ``commit`` or ``cancel``; a ``close`` that raises
      still ends the writer.
    - ``commit()`` atomically makes the whole upload the content of the path,
      replacing committed content entirely; nothing of the pending upload is
      left in the backend. A commit that raises leaves the writer open.
    - ``cancel()`` discards the pending upload (the bytes of this writer and of
      the earlier writers it resumed) with everything it kept in the backend;
      committed content at the path is untouched, and a later ``append=True``
      starts at 0.
    - Leaving a ``with`` block calls ``close`` only: it neither commits nor
      cancels.
    - After the writer ended, ``write``, ``commit`` and ``cancel`` raise
      ``WriterClosedError`` (a ``ValueError`` saying it is "already" closed,
      committed or cancelled), as a closed file does; ``close``, ``size`` and
      ``digest`` keep working.

    Suite: ``testsuite/streams.py::WriterTests.test_write_read_streams``,
    ``test_write_read_large_stream``, ``test_writer_takes_a_single_large_write_and_memoryviews``,
    ``test_writer_works_with_shutil_copyfileobj``, ``test_continue_stream_append``,
    ``test_resumed_writer_that_writes_nothing_keeps_size``,
    ``test_commit_replaces_committed_content``, ``test_cancel_leaves_committed_content``,
    ``test_cancel_discards_the_pending_upload``,
    ``test_writer_context_manager_closes_without_commit``, ``test_writer_after_close``,
    ``test_writer_after_commit``, ``test_writer_after_cancel``; crashes:
    shared-tests/test_crash.py.

    Visibility: until ``commit`` an upload is invisible (stricter than
    distribution, whose filesystem and Azure drivers show partial data):
    ``get_content``, ``reader``, ``stat``, ``list`` and ``walk`` see the committed
    content of the path, or nothing, and a pending upload makes no parent
    directory exist. ``put_content`` and ``move`` leave a pending upload alone;
    ``delete``, ``delete_files`` and ``purge_uploads`` discard it. Suite:
    ``testsuite/streams.py::WriterTests.test_pending_upload_is_invisible``,
    ``test_pending_upload_does_not_replace_committed_content``,
    ``test_put_content_and_move_leave_pending_uploads_alone``. Two writers open
    on one path at once are undefined.

    Digests: a writer opened through the wrapper with ``writer(path, append,
    digest="sha256")`` (or ``"sha512"``) hashes the whole upload, resumed bytes
    included, whichever instance or process wrote them; ``digest`` is
    ``"<algorithm>:<lowercase hex>"`` of the upload so far (of ``b""`` before any
    byte), also after ``close`` and ``commit``, and None for a writer opened
    without ``digest``. An upload written or resumed without ``digest`` is read
    back once (``_read_upload``) when resumed with one.
    ``commit(expected_digest=...)`` commits only when the digest is that one; a
    mismatch raises ``DigestMismatchError`` (a ``DriverError`` naming both
    digests) and commits nothing: the writer
    stays open and the upload pending (write more and commit, ``close`` to
    resume later, or ``cancel``). ``expected_digest`` on a writer without
    ``digest``, or not ``"<its algorithm>:<lowercase hex>"``, raises
    ``InvalidParameterError`` and leaves the writer open. Suite:
    ``testsuite/digests.py::DigestTests.test_digest_of_fresh_upload``,
    ``test_writer_without_digest_has_none``, ``test_digest_of_resumed_upload``,
    ``test_digest_resumed_from_second_driver``, ``test_sha512_digest``,
    ``test_digest_mismatch_leaves_upload_pending``, ``test_cancel_after_digest_mismatch``,
    ``test_invalid_digest_names_rejected``, ``test_digest_equals_hashlib_for_random_sizes``,
    ``test_digest_of_upload_written_without_one``, ``test_digest_after_resume_without_one``.

    For driver authors: subclasses implement ``_write``, ``_close``,
    ``_commit`` and ``_cancel``; this class keeps the state machine, the byte
    count, the hash and error translation (through the driver's ``translate``).
    ``_flush`` is optional; ``_in_flight`` gives a bounded pool for background
    part uploads whose first failure is raised by every later ``write``,
    ``close`` and ``commit``.

    The hash-state hook, so a resumed writer continues the hash without reading
    the upload back (from any instance and process): ``_close`` stores the bytes
    of ``self.upload_state`` with the pending upload (None: store none, and drop
    any stored earlier); commit, cancel, ``delete`` and ``purge_uploads`` drop
    them with the upload; a resumed writer gets them back as ``upload_state=``.
    A driver without it may implement ``_read_upload`` instead, which the core
    then reads once to rebuild the hash; one with neither raises
    ``UnsupportedMethodError`` when a non-empty upload is resumed with a digest.
    """

    def __init__(
        self,
        path: str,
        *,
        size: int = 0,
        driver_name: str = "",
        upload_state: bytes | None = None,
    ) -> None:
        self.path = path
        self.driver_name = driver_name
        self._size = size
        self._lifecycle = "open"
        self._hasher: StreamHasher | None = None
        self._state = upload_state
        self._state_size = size
        #: The driver's ``translate`` hook; the wrapper sets it with ``driver_name``.
        self._translate: Translate | None = None
        self.__pool: InFlight[Any] | None = None

    # -- what drivers implement -------------------------------------------------

    @abstractmethod
    def _write(self, data: memoryview) -> None:
        """Take all of ``data`` (a driver splits it into its backend's block sizes)."""

    @abstractmethod
    def _close(self) -> None:
        """Persist everything written so far, and ``self.upload_state``, for a later append.

        Called once, by ``close``; the upload must then be resumable from any
        instance and process over the same store.
        """

    @abstractmethod
    def _commit(self) -> None:
        """Make the whole upload (``self.size`` bytes) the path's content, atomically.

        Replaces committed content entirely and removes the pending upload and
        its hash state from the backend.
        """

    @abstractmethod
    def _cancel(self) -> None:
        """Discard the pending upload and every trace of it (hash state included) in the backend.

        Committed content at the path stays as it is.
        """

    def _read_upload(self) -> Iterator[bytes | memoryview]:
        """Optional: the pending upload's first ``self.size`` bytes, in order.

        The core reads them once to rebuild the hash of an upload resumed with a
        digest when no hash state was kept for it.
        """
        raise UnsupportedMethodError(
            f"resuming the upload of {self.path} with a digest: the driver kept no hash"
            " state for it (FileWriter.upload_state) and cannot read a pending upload"
            " back (FileWriter._read_upload)"
        )

    def _in_flight(self, limit: int, executor: ThreadPoolExecutor | None = None) -> InFlight[Any]:
        """The pool for this writer's background part uploads, at most ``limit`` in flight.

        Created once; a failed part latches, so every later ``write``, ``close``
        and ``commit`` raises that failure; ``close``, ``commit`` and ``cancel``
        wait for what is still in flight when they end.
        """
        if self.__pool is None:
            self.__pool = InFlight(limit, f"regstore-{self.driver_name or 'writer'}", executor)
        return self.__pool

    def _flush(self) -> None:
        """Optional: make everything written durable without publishing it.

        ``commit(expected_digest=...)`` calls it while the hash catches up, so
        the commit that follows a match has less left to do.
        """

    # -- the hash state hook ------------------------------------------------------

    @property
    def upload_state(self) -> bytes | None:
        """The opaque hash state a driver keeps with the pending upload at ``_close``.

        None when there is nothing to keep (no digest, or bytes written since
        the state given at resume); drivers store it verbatim and never parse it.
        """
        if self._hasher is not None:
            return self._hasher.export(self._size)
        return self._state if self._size == self._state_size else None

    @upload_state.setter
    def upload_state(self, state: bytes | None) -> None:
        self._state = state
        self._state_size = self._size

    def _hashing(self) -> StreamHasher | None:
        """The upload's hasher: this writer's, or that of the writer it wraps (``inner``).

        A writer that wraps another (telemetry, for one) leaves the hash to the
        driver's writer, whose ``_close`` keeps its state.
        """
        if self._hasher is not None:
            return self._hasher
        inner = self.__dict__.get("inner")
        return inner._hashing() if isinstance(inner, FileWriter) else None

    def _start_digest(self, algorithm: str) -> None:
        """Hash the upload with ``algorithm`` from here on, resumed bytes included.

        Used by the wrapper for ``writer(path, digest=...)``; a second call with
        the same algorithm does nothing.
        """
        inner = self.__dict__.get("inner")
        if isinstance(inner, FileWriter):
            inner._start_digest(algorithm)
            return
        if self._hasher is not None:
            if self._hasher.algorithm != algorithm:
                raise InvalidParameterError(
                    self.driver_name,
                    "digest",
                    f"this writer already hashes with {self._hasher.algorithm}",
                )
            return
        restored = decode_state(self._state, algorithm, self._size) if self._size else None
        hasher = StreamHasher(algorithm, restored)
        if self._size and restored is None:
            self._guard("resume the digest of", self._rehash, hasher)
        self._hasher = hasher

    def _rehash(self, hasher: StreamHasher) -> None:
        read = 0
        for piece in self._read_upload():
            hasher.update(piece)
            read += memoryview(piece).nbytes
        hasher.settle()
        if read != self._size:
            raise DriverError(
                f"read {read} bytes back from the pending upload of {self.path}, expected"
                f" {self._size}: cannot resume its digest"
            )

    # -- the public file-object API --------------------------------------------

    @property
    def size(self) -> int:
        """Bytes in the upload so far, resumed ones included; readable after the writer ended."""
        return self._size

    @property
    def digest(self) -> str | None:
        """``"<algorithm>:<hex>"`` of the whole upload so far; None for a writer without one."""
        hasher = self._hashing()
        return hasher.digest if hasher is not None else None

    @property
    def closed(self) -> bool:
        """True after ``close``, ``commit`` or ``cancel``."""
        return self._lifecycle != "open"

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Append ``data`` (bytes-like, any length) to the upload and return its length.

        Raises ``WriterClosedError`` once the writer ended.
        """
        self._check_open("write to")
        if self.__pool is not None and self.__pool.failure is not None:
            self._guard("write", self.__pool.check)
        view = memoryview(data).cast("B") if not isinstance(data, bytes) else memoryview(data)
        if view.nbytes:
            self._guard("write", self._write, view)
            if self._hasher is not None:
                # Once stored: a large piece is hashed on the helper thread during the next write.
                self._hasher.update(data if isinstance(data, bytes) else view)
            self._size += view.nbytes
        return view.nbytes

    def writelines(self, lines: builtins.list[bytes]) -> None:
        """Write each chunk in turn, as a file object does."""
        for line in lines:
            self.write(line)

    def close(self) -> None:
        """Persist the upload for ``writer(path, append=True)`` and release resources.

        Idempotent, and a no-op after ``commit`` or ``cancel``; the writer ends
        even when persisting raises.
        """
        if self._lifecycle != "open":
            return
        try:
            self._guard("close", self._close)
        finally:
            self._lifecycle = "closed"
            self._stop_hashing()

    def commit(self, expected_digest: str | None = None) -> None:
        """Atomically make the whole upload the content of the path, replacing what was there.

        With ``expected_digest`` (``"<algorithm>:<lowercase hex>"``, the writer's
        algorithm), only if the upload's digest is that one; otherwise
        ``DigestMismatchError``, and the writer stays open with the upload
        pending. A malformed ``expected_digest``, or one given to a writer
        without ``digest``, raises ``InvalidParameterError``. Raises
        ``WriterClosedError`` once the writer ended; a commit that fails
        otherwise leaves the writer open.
        """
        self._check_open("commit")
        if expected_digest is not None:
            hasher = self._hashing()
            algorithm = hasher.algorithm if hasher is not None else None
            check_expected(self.driver_name, expected_digest, algorithm)
            self._guard("commit", self._flush)
            actual = self.digest
            if actual != expected_digest:
                raise DigestMismatchError(
                    self.path, expected_digest, str(actual), driver_name=self.driver_name
                )
        self._guard("commit", self._commit)
        self._lifecycle = "committed"
        self._stop_hashing()

    def cancel(self) -> None:
        """Discard the pending upload and all it kept in the backend; committed content stays.

        Raises ``WriterClosedError`` once the writer ended; the writer ends even
        when discarding raises.
        """
        self._check_open("cancel")
        try:
            self._guard("cancel", self._cancel)
        finally:
            self._lifecycle = "cancelled"
            self._stop_hashing()

    def _stop_hashing(self) -> None:
        if self._hasher is not None:
            self._hasher.shutdown()
        if self.__pool is not None:
            self.__pool.shutdown()

    def flush(self) -> None:
        """Nothing to do: ``close`` persists, ``commit`` publishes."""

    def tell(self) -> int:
        """The current upload size, where the next write lands."""
        return self._size

    def writable(self) -> bool:
        return not self.closed

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    def __enter__(self) -> FileWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.path!r} size={self._size} {self._lifecycle}>"

    def _check_open(self, operation: str) -> None:
        if self._lifecycle != "open":
            raise WriterClosedError(
                self.path, self._lifecycle, operation, driver_name=self.driver_name
            )

    def _guard(self, operation: str, call: Callable[..., None], *args: object) -> None:
        try:
            call(*args)
        except Exception as exc:
            error = translate_error(exc, self.driver_name, operation, self.path, self._translate)
            if error is exc:
                raise
            raise error from exc


class StorageDriver(ABC):
    """A filesystem-like key/value store: absolute slash paths, files, implicit directories.

    The rules every method shares (paths, directories, the private area,
    concurrency, atomicity, the wrapper's checks, errors) are in the module
    docstring; each method states the rest. A driver implements ``name``,
    ``get_content``, ``put_content``, ``reader``, ``writer``, ``stat``, ``list``,
    ``move`` and ``delete``; it overrides ``walk``, ``delete_files``,
    ``redirect_url``, ``pending_uploads``, ``purge_uploads``, ``translate`` and
    ``close`` where its backend does better than (or supports what is missing
    from) the defaults, and sets ``concurrency_limit`` when it has one. It passes
    ``regstore.testsuite.DriverSuite`` bound to it.
    """

    #: A limit on concurrent backend calls the wrapper enforces (None: no limit);
    #: drivers with a parameter for it (``maxthreads``) set it in ``__init__``.
    concurrency_limit: int | None = None

    @property
    @abstractmethod
    def name(self) -> str:
        """The name ``regstore.create`` takes, e.g. ``"filesystem"``; every error starts with it."""

    @abstractmethod
    def get_content(self, path: str) -> bytes:
        """The whole committed content of the file at ``path``, one version whole.

        Raises ``PathNotFoundError`` when no file is there: nothing, a directory,
        or only a pending upload. Suite:
        ``testsuite/content.py::ContentTests.test_write_read``,
        ``test_get_content_missing``, ``test_get_content_of_directory_is_not_found``,
        ``test_path_not_found_error_names_driver_and_path``;
        ``testsuite/streams.py::WriterTests.test_pending_upload_is_invisible``.
        """

    @abstractmethod
    def put_content(self, path: str, content: bytes | bytearray | memoryview) -> None:
        """Store ``content`` (bytes, bytearray or memoryview) as the file at ``path``, atomically.

        Replaces earlier content entirely (a shorter write leaves no tail);
        concurrent readers see the old content or the new, never a mix or a
        truncated file. Parent directories come into being implicitly. A pending
        upload of ``path`` stays pending, untouched. Suite:
        ``testsuite/content.py::ContentTests.test_write_read``, ``test_truncate``,
        ``test_put_content_multiple_times``,
        ``test_put_content_accepts_bytearray_and_memoryview``,
        ``test_put_content_is_atomic_under_concurrent_readers``;
        ``testsuite/streams.py::WriterTests.test_put_content_and_move_leave_pending_uploads_alone``.
        """

    @abstractmethod
    def reader(self, path: str, offset: int = 0) -> IO[bytes]:
        """A readable binary file object over the committed content of ``path``, from ``offset``.

        It supports ``read``, ``read1``, ``readinto``, iteration and ``with``; it
        returns the bytes from ``offset`` to the end, then ``b""``, and
        ``read(n)`` with a huge ``n`` returns what is left without allocating
        ``n`` bytes. ``offset >= size`` is no error: the first ``read()`` returns
        ``b""`` (stricter than distribution's GCS driver). A negative or non-int
        ``offset`` raises ``InvalidOffsetError`` (carrying ``path`` and
        ``offset``) before the path is looked up. No file at ``path`` (nothing, a
        directory, or only a pending upload) raises ``PathNotFoundError``
        whatever the offset, from this call or at the latest from the first
        ``read``. A reader whose file is replaced or deleted while it still
        needs the backend raises ``ContentChangedError``; it never mixes
        versions. Suite: ``testsuite/streams.py::ReaderTests.test_reader_with_offset``,
        ``test_reader_negative_offset_is_checked_before_existence``,
        ``test_reader_missing_path``, ``test_reader_of_directory_is_not_found``,
        ``test_reader_is_a_binary_file_object``,
        ``test_reader_read_of_a_huge_size_returns_what_is_left``,
        ``test_concurrent_stream_reads``.
        """

    @abstractmethod
    def writer(self, path: str, append: bool = False) -> FileWriter:
        """A ``FileWriter`` for a new upload to ``path``, or with ``append=True`` the pending one.

        ``append=False`` starts an empty upload (``size`` 0) whatever is
        committed or pending at ``path``; it replaces the pending upload of
        ``path`` at the latest when it is closed or committed. ``append=True``
        resumes the pending upload that an earlier writer closed, from any
        instance in any process over the same store (inmemory: the same
        instance), with ``size`` where that ``close`` left it. With no pending
        upload, ``append=True`` on committed empty content or on nothing starts
        at ``size`` 0; on committed non-empty content it is up to the driver
        (inmemory and filesystem continue from that content; object stores
        raise ``DriverError``, ``ObjectStoreDriver.check_appendable``). Opening
        a writer makes nothing visible.

        Through the wrapper the signature is ``writer(path, append=False,
        digest=None)``: ``digest`` is ``"sha256"``, ``"sha512"`` or None, anything
        else raises ``InvalidParameterError`` naming the allowed ones (see
        ``FileWriter``); drivers never see it and never hash.

        Suite: ``testsuite/streams.py::WriterTests.test_append_false_starts_empty``,
        ``test_append_false_replaces_the_pending_upload``, ``test_continue_stream_append``,
        ``test_resume_from_second_driver``,
        ``test_zero_byte_stream_then_append``, ``test_zero_byte_content_then_append``,
        ``test_cancel_discards_the_pending_upload``;
        ``testsuite/digests.py::DigestTests.test_invalid_digest_names_rejected``.
        """

    @abstractmethod
    def stat(self, path: str) -> FileInfo:
        """What ``path`` is: a file (exact ``size``, ``mod_time``) or a directory (``is_dir``).

        See ``FileInfo`` in the module docstring for the fields. ``stat("/")`` is
        a directory when anything is stored; on an empty store it is a directory
        or raises ``PathNotFoundError``. Raises ``PathNotFoundError`` for nothing
        at ``path``: a missing path, a partial name (``/dir/su`` beside
        ``/dir/sub``), a path below a file, a pending upload or the directories
        it would make. Suite: ``testsuite/tree.py::StatListTests.test_stat_file_and_directories``,
        ``test_stat_root``, ``test_stat_mod_time_follows_changes``;
        ``testsuite/content.py::ContentTests.test_root_is_valid_only_for_stat_list_walk``.
        """

    @abstractmethod
    def list(self, path: str) -> builtins.list[str]:
        """The absolute paths of the direct children (files and directories) of ``path``, sorted.

        Sorted as plain strings, each child once, however many there are (a
        driver follows paginated listings to the end). ``/a`` lists nothing of
        ``/ab`` or ``/a-b``; pending uploads and the private area never appear.
        ``list("/")`` of an empty store is ``[]``. A missing path (a partial
        name included) or a file raises ``PathNotFoundError``. Suite:
        ``testsuite/tree.py::StatListTests.test_list``, ``test_list_empty_root``,
        ``test_list_missing_or_file_is_not_found``,
        ``test_list_prefix_is_not_a_directory``, ``test_list_many_entries_paginates``.
        """

    @abstractmethod
    def move(self, source: str, dest: str) -> None:
        """Move the file at ``source`` to ``dest``: ``dest`` holds its content, ``source`` is gone.

        An existing file at ``dest`` is overwritten; directories left empty at
        the source disappear and those of ``dest`` come into being. A missing
        ``source`` raises ``PathNotFoundError`` carrying ``source`` and leaves
        ``dest`` untouched; an invalid or root ``source`` or ``dest`` raises
        ``InvalidPathError`` and changes nothing. Pending uploads at either path
        stay as they are. Moving a directory, or onto a directory, is up to the
        driver (module docstring). Suite: ``testsuite/tree.py::MoveDeleteTests.test_move``,
        ``test_move_overwrite``, ``test_move_missing_source_leaves_dest``,
        ``test_move_invalid``;
        ``testsuite/streams.py::WriterTests.test_put_content_and_move_leave_pending_uploads_alone``.
        """

    @abstractmethod
    def delete(self, path: str) -> None:
        """Delete a file or a directory tree, and every pending upload at or below ``path``.

        Only ``path`` and what lies below it at a ``/`` boundary: ``/a`` never
        touches ``/ab``, ``/a-b``, ``/a.b`` or ``/abc``. Directories left empty
        disappear. Pending uploads at or below ``path`` are discarded with all
        they keep in the backend, also where no committed file is. Raises
        ``PathNotFoundError`` only when it found neither files nor pending
        uploads (nothing there, a partial name, a path below a file), having
        deleted nothing. ``delete("/")`` raises ``InvalidPathError``. A tree is
        not deleted atomically. Suite: ``testsuite/tree.py::MoveDeleteTests.test_delete_file``,
        ``test_delete_folder``, ``test_delete_only_deletes_subpaths``,
        ``test_delete_missing``, ``test_delete_many``;
        ``testsuite/streams.py::WriterTests.test_delete_discards_pending_uploads``,
        ``test_delete_of_a_file_discards_its_pending_upload``.
        """

    def delete_files(self, paths: Iterable[str]) -> None:
        """Delete many files, each with its pending upload; a path with neither is no error.

        For sweeps of many files, such as garbage collection: drivers over a
        store that deletes many keys in one request override this default,
        which calls ``delete`` for each. ``paths`` is any iterable (empty too);
        every path is checked before anything is deleted, one invalid path
        raising ``InvalidPathError``. Each path names a file: a missing one, or
        one below a file, is skipped; what the path of a directory does is up to
        the driver (this default deletes its tree). Nothing else is touched:
        neither neighbours in the same directory nor other paths' pending
        uploads. Suite: ``testsuite/tree.py::MoveDeleteTests.test_delete_files``;
        ``testsuite/streams.py::WriterTests.test_delete_files_discards_their_pending_uploads_only``.
        """
        for path in paths:
            try:
                self.delete(path)
            except PathNotFoundError:
                continue

    def redirect_url(
        self,
        path: str,
        *,
        method: str = "GET",
        expires_in: int = 1200,
        client_ip: str | None = None,
    ) -> str | None:
        """A URL a plain HTTP client can ``GET``/``HEAD`` for ``expires_in`` seconds, or None.

        The URL needs no credentials: GET answers 200 with the content, HEAD 200
        with the content's ``Content-Length`` and no body. ``method`` is GET or
        HEAD in any case; any other method gets None. None also means the
        backend gives no such URLs (inmemory, filesystem): for GET and HEAD
        alike, so callers serve the content themselves. ``expires_in`` is whole
        seconds > 0 (else ``InvalidParameterError``); above a backend's own cap
        (``ObjectStoreDriver.max_redirect_seconds``, 7 days for S3 and GCS) it
        raises ``DriverError`` naming the cap. The file's existence need not be
        checked. ``client_ip`` is for storage middleware that decides by it;
        drivers ignore it. Suite: ``testsuite/tree.py::RedirectTests.test_redirect_url``,
        ``test_redirect_url_only_for_get_and_head``;
        packages/regstore/tests/test_checked_driver.py (``expires_in``).
        """
        return None

    def walk(
        self,
        path: str,
        *,
        start_after: str | None = None,
        prune: Prune | None = None,
    ) -> Iterator[FileInfo]:
        """Every file and directory strictly below the directory ``path``, in walk order.

        Walk order sorts entries by walk key (the path, plus ``/`` for a
        directory) as plain strings: the byte order in which an object store
        lists keys. Each directory comes right before everything below it, and
        ``/a-1``, ``/a-1/y``, ``/a``, ``/a/x`` is walk order (``-`` sorts before
        ``/``). Infos are what ``stat`` would give (directories' ``mod_time``
        unspecified). ``path`` itself is not yielded; ``walk("/")`` of an empty
        store yields nothing.

        ``start_after``: only entries whose walk key sorts after this string,
        which need not be an entry nor lie below ``path`` (``"/"`` keeps all,
        ``path + "~"`` none); a walk resumes after the last ``walk_key`` it
        yielded. ``prune(info)`` true for a directory: it is yielded, not
        entered. A missing ``path`` or a file raises ``PathNotFoundError``, from
        this call or from the first ``next()``. Pending uploads and the private
        area never appear; a directory removed during the walk is skipped.

        This default is built on ``list`` and ``stat``; drivers override it with
        a cheaper listing (``regstore.walking``). Suite:
        ``testsuite/tree.py::WalkTests.test_walk_order_and_infos``,
        ``test_walk_from_root_and_subdirectory``, ``test_walk_byte_order_example``,
        ``test_walk_prune``, ``test_walk_prune_many``, ``test_walk_start_after``,
        ``test_walk_start_after_outside_path``,
        ``test_walk_missing_or_file_is_not_found``, ``test_walk_empty_root``.
        """

        def children(directory: str) -> Iterator[FileInfo]:
            for child in self.list(directory):
                try:
                    yield self.stat(child)
                except PathNotFoundError:
                    continue  # deleted while we walked

        return walk_tree(children, path, start_after=start_after, prune=prune)

    def pending_uploads(self, path: str = "/") -> Iterator[PendingUpload]:
        """Every pending upload at or below ``path`` (``/`` allowed), in no set order.

        Pending: closed by a writer (``close``, or leaving ``with``), and since
        neither committed, cancelled, deleted nor purged; an empty one too,
        never content stored by ``put_content`` or a commit. Each is a
        ``PendingUpload`` (module docstring); resuming and closing it again
        updates its ``size`` and ``modified``. Lists the uploads any instance in
        any process closed over the same store, without reading their contents.
        ``/a`` lists those of ``/a`` and ``/a/b/c``, never of ``/ab`` or ``/a-b``;
        a path with none (a missing one, or a file) yields nothing, no error.
        Drivers that cannot list uploads keep this default, which raises
        ``UnsupportedMethodError``. Suite:
        ``testsuite/uploads.py::UploadLifecycleTests.test_pending_uploads_lists_closed_uploads_only``,
        ``test_pending_upload_follows_resume_and_end``,
        ``test_pending_uploads_at_or_below_path``,
        ``test_pending_uploads_ignore_committed_files``,
        ``test_pending_uploads_from_second_driver``.
        """
        raise UnsupportedMethodError("pending_uploads")

    def purge_uploads(self, before: datetime, path: str = "/") -> builtins.list[str]:
        """Discard the pending uploads at or below ``path`` last closed before ``before``.

        ``before`` is a timezone-aware datetime (naive: ``InvalidParameterError``;
        not a datetime: ``TypeError``). Returns the purged paths, sorted; a
        second purge returns ``[]``. Nothing of a purged upload stays in the
        backend, and ``writer(path, append=True)`` then starts at 0. Uploads
        closed at or after ``before`` stay resumable; "at or below" is as for
        ``pending_uploads``; uploads closed by any instance count. Committed
        content is never touched, also at the path of a purged upload. Drivers
        that cannot list uploads keep this default, which raises
        ``UnsupportedMethodError``. Suite:
        ``testsuite/uploads.py::UploadLifecycleTests.test_purge_uploads_discards_old_uploads_and_nothing_else``,
        ``test_purge_uploads_keeps_newer_uploads``,
        ``test_purge_uploads_only_at_or_below_path``,
        ``test_purge_uploads_from_second_driver``,
        ``test_upload_lifecycle_arguments_are_checked``.
        """
        raise UnsupportedMethodError("purge_uploads")

    def translate(self, exc: Exception, operation: str, path: str | None) -> Exception | None:
        """The contract error for a backend exception, or None when it is not the backend's.

        The one place a driver maps its SDK's exceptions: the wrapper consults it
        (``regstore.errors.translate_error``) for every exception that is not
        already a contract error, raised by any method, by the readers and
        writers it returns and by the items of ``walk`` and ``pending_uploads``,
        so driver bodies let SDK errors rise as they come. ``operation`` names
        what failed (the method, or ``read``, ``write``, ``close``, ``commit``,
        ``cancel``), ``path`` the path concerned (None when there is none).

        A missing object maps to ``PathNotFoundError(path)``, bad credentials
        or a missing bucket to a ``DriverError`` that says which setting to fix;
        what is left unclaimed (None) becomes a ``DriverError`` naming
        ``operation`` and ``path``. The backend's exception becomes the error's
        ``__cause__`` and the wrapper stamps the driver name. Never put a secret
        in a message. This default claims nothing.
        """
        return None

    def close(self) -> None:
        """Release clients, pools and threads; the driver is not used afterwards.

        Leaving a ``with`` block over the driver calls it.
        """

    def __enter__(self) -> StorageDriver:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
