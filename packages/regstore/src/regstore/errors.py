"""The errors of the driver contract: what every driver raises, whatever its backend.

Driver code raises them without a driver name; the wrapper that ``create``
puts around every driver stamps the name in, so ``str(e)`` always starts with
``"<driver_name>: "``. Messages say what is wrong and what is allowed, and
never carry a secret. The contract itself is stated in ``regstore.driver``.

The table: each class, its bases, what it carries, and when it is raised.

``StorageDriverError(Exception)``; ``driver_name``
    The base of every error below but the last two.
``PathNotFoundError(StorageDriverError, FileNotFoundError)``; ``path`` (also ``filename``)
    No file at the path: ``get_content`` and ``reader`` (nothing, a directory
    or only a pending upload; ``reader`` from the call or the first read),
    ``stat`` and ``list`` (nothing there; ``list`` also for a file), ``walk``
    (likewise, from the call or the first ``next()``), ``move`` (a missing
    source), ``delete`` (neither files nor pending uploads at or below it).
    Never from ``delete_files``, ``pending_uploads`` or ``purge_uploads``.
``InvalidPathError(StorageDriverError, ValueError)``; ``path``
    A path argument breaks the path rules (``regstore.paths``), is not a str,
    or is ``/`` where only ``stat``, ``list``, ``walk``, ``pending_uploads`` and
    ``purge_uploads`` take it: every method, before the backend is touched.
``InvalidOffsetError(StorageDriverError, ValueError)``; ``path``, ``offset``
    ``reader`` with an offset that is negative or not an int, checked before
    the path's existence.
``UnsupportedMethodError(StorageDriverError, NotImplementedError)``; ``method``
    An optional capability the driver lacks: ``pending_uploads`` and
    ``purge_uploads`` (their defaults), ``writer(digest=...)`` without hash
    functions (the message names the install), a non-empty upload resumed
    with a digest by a driver that neither keeps hash state nor reads uploads
    back.
``DriverError(StorageDriverError)``; ``detail``, the backend's exception as ``__cause__``
    Any other failure, from any method, reader or writer: a backend error the
    driver's ``translate`` hook mapped or left unclaimed, bad credentials or a
    missing bucket (the message names the setting to fix), and what a driver
    documents it refuses (a directory moved, a file stored at a directory or
    below a file, an append to committed object-store content, an
    ``expires_in`` above the backend's cap).
``ContentChangedError(DriverError)``; ``path``
    A reader's file was replaced or deleted while it read: raised instead of
    returning bytes of two versions. Open a new reader.
``DigestMismatchError(DriverError)``; ``path``, ``expected``, ``actual``
    ``FileWriter.commit(expected_digest=...)`` found another digest: nothing
    was committed, the writer is open and the upload pending.
``WriterClosedError(StorageDriverError, ValueError)``; ``path``, ``state``
    ``write``, ``commit`` or ``cancel`` on a writer already closed, committed or
    cancelled.
``InvalidStorageDriverError(LookupError)``; ``name``
    ``create`` with a name nobody registered or installed (for a known driver
    the message gives the ``pip install``), or one two distributions offer.
    Raised before a driver exists, so not a ``StorageDriverError``.
``InvalidParameterError(ValueError)``; ``driver_name``, ``parameter``, ``message``
    A missing, unknown or malformed driver parameter (``create``), or an
    argument the wrapper checks: ``writer``'s ``digest``, ``commit``'s
    ``expected_digest``, ``redirect_url``'s ``expires_in``, a naive ``before``
    for ``purge_uploads``. ``str(e)`` is ``"<driver>: parameter '<name>': <what
    is allowed>"``. Not a ``StorageDriverError``.

Besides these the wrapper raises ``TypeError`` for an argument of the wrong
type (``put_content``'s content, a str given to ``delete_files``, ``walk``'s
``start_after``, ``purge_uploads``' ``before``), as Python does.

Foreign exceptions. The wrapper, every ``FileWriter`` and the readers of a
driver with a ``translate`` hook pass each ``Exception`` (not a
``KeyboardInterrupt`` or other ``BaseException``) through ``translate_error``:

1. a ``StorageDriverError`` keeps its class and gets the driver name when it
   has none;
2. ``InvalidParameterError``, ``InvalidStorageDriverError`` and ``TypeError``
   pass unchanged;
3. anything else goes to the driver's ``StorageDriver.translate(exc,
   operation, path)``; what it returns is handled by rules 1, 2 and 4, with
   ``exc`` as its ``__cause__`` unless it set one;
4. what the hook leaves (None, or no hook) becomes ``DriverError("<operation>
   <path> failed: <exc's text>")`` raised from ``exc``.

So no SDK exception type reaches a caller.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = [
    "ContentChangedError",
    "DigestMismatchError",
    "DriverError",
    "InvalidOffsetError",
    "InvalidParameterError",
    "InvalidPathError",
    "InvalidStorageDriverError",
    "PathNotFoundError",
    "StorageDriverError",
    "UnsupportedMethodError",
    "WriterClosedError",
    "translate_error",
]

#: A driver's hook from a backend's exception to a contract error (None: not its own).
Translate = Callable[[Exception, str, "str | None"], "Exception | None"]


class StorageDriverError(Exception):
    """Base class of every error a driver raises; carries ``driver_name``."""

    def __init__(self, message: str = "", *, driver_name: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.driver_name = driver_name

    def __str__(self) -> str:
        return f"{self.driver_name or 'regstore'}: {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only fields survive pickling (errors cross process pools).
        return (_rebuild, (type(self), self.__dict__.copy()))


def _rebuild(cls: type[StorageDriverError], state: dict[str, object]) -> StorageDriverError:
    error = cls.__new__(cls)
    Exception.__init__(error, state.get("message", ""))
    error.__dict__.update(state)
    return error


class PathNotFoundError(StorageDriverError, FileNotFoundError):
    """No file at the path (for ``stat``, ``list``, ``walk``, ``delete``: nothing there at all)."""

    def __init__(self, path: str, *, driver_name: str = "", message: str = "") -> None:
        super().__init__(message or f"path not found: {path}", driver_name=driver_name)
        self.path = path
        self.filename = path


class InvalidPathError(StorageDriverError, ValueError):
    """The path breaks the path rules: ``^(/[A-Za-z0-9._-]+)+$``, no ``.`` or ``..``."""

    def __init__(self, path: object, *, driver_name: str = "", reason: str = "") -> None:
        detail = f" ({reason})" if reason else ""
        super().__init__(f"invalid path: {path!r}{detail}", driver_name=driver_name)
        self.path = path


class InvalidOffsetError(StorageDriverError, ValueError):
    """A reader was asked for a negative offset, or one that is not an int."""

    def __init__(self, path: str, offset: object, *, driver_name: str = "") -> None:
        super().__init__(
            f"invalid offset: {offset!r} for path: {path} (offsets are integers >= 0)",
            driver_name=driver_name,
        )
        self.path = path
        self.offset = offset


class UnsupportedMethodError(StorageDriverError, NotImplementedError):
    """The driver does not implement an optional method."""

    def __init__(self, method: str = "", *, driver_name: str = "") -> None:
        super().__init__(
            f"unsupported method{': ' + method if method else ''}", driver_name=driver_name
        )
        self.method = method


class DriverError(StorageDriverError):
    """Any other backend failure; the backend's exception is the ``__cause__``."""

    def __init__(self, detail: str, *, driver_name: str = "") -> None:
        super().__init__(detail, driver_name=driver_name)
        self.detail = detail


class ContentChangedError(DriverError):
    """The file was replaced or deleted while a reader was reading it.

    Raised by a reader instead of returning bytes of two versions; open a new
    reader to read the content that is there now.
    """

    def __init__(self, path: str, *, driver_name: str = "", detail: str = "") -> None:
        super().__init__(
            detail
            or f"{path} was replaced or deleted while it was read; open a new reader to read"
            " its current content",
            driver_name=driver_name,
        )
        self.path = path


class DigestMismatchError(DriverError):
    """``commit(expected_digest=...)`` found another digest; nothing was committed.

    The writer stays open and the upload pending: write more and commit again,
    ``close`` it to resume later, or ``cancel`` it.
    """

    def __init__(self, path: str, expected: str, actual: str, *, driver_name: str = "") -> None:
        super().__init__(
            f"digest mismatch for {path}: expected {expected}, but the upload's digest is"
            f" {actual}; nothing was committed and the upload is still pending",
            driver_name=driver_name,
        )
        self.path = path
        self.expected = expected
        self.actual = actual


class WriterClosedError(StorageDriverError, ValueError):
    """A writer was used after ``close``, ``commit`` or ``cancel``, like a closed file."""

    def __init__(self, path: str, state: str, operation: str, *, driver_name: str = "") -> None:
        super().__init__(
            f"cannot {operation} the writer of {path}: it is already {state}",
            driver_name=driver_name,
        )
        self.path = path
        self.state = state


class InvalidStorageDriverError(LookupError):
    """``create`` was given a driver name that nobody registered or installed."""

    def __init__(self, name: str, message: str = "") -> None:
        super().__init__(message or f"storage driver not registered: {name!r}")
        self.name = name

    def __str__(self) -> str:
        return str(self.args[0])


class InvalidParameterError(ValueError):
    """A missing, unknown or malformed driver parameter; the message says what is allowed."""

    def __init__(self, driver_name: str, parameter: str, message: str) -> None:
        super().__init__(f"{driver_name}: parameter {parameter!r}: {message}")
        self.driver_name = driver_name
        self.parameter = parameter
        self.message = message

    def __str__(self) -> str:
        return str(self.args[0])


def translate_error(
    exc: Exception,
    driver_name: str,
    operation: str,
    path: object = None,
    translate: Translate | None = None,
) -> Exception:
    """The contract error for ``exc``, stamped with ``driver_name``.

    A contract error keeps its class and gets the name. Any other exception goes
    to the driver's ``translate`` hook first; what the hook does not claim becomes
    a ``DriverError`` naming the operation and path (the original stays its cause).
    """
    if isinstance(exc, StorageDriverError):
        if not exc.driver_name:
            exc.driver_name = driver_name
        return exc
    if isinstance(exc, (InvalidParameterError, InvalidStorageDriverError, TypeError)):
        return exc
    if translate is not None:
        claimed = translate(exc, operation, path if isinstance(path, str) else None)
        if claimed is not None:  # its callers raise it ``from exc``
            return translate_error(claimed, driver_name, operation, path, None)
    where = f" {path}" if path is not None else ""
    text = str(exc).strip() or type(exc).__name__
    return DriverError(f"{operation}{where} failed: {text}", driver_name=driver_name)
