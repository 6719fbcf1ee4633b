"""What the contract reports: ``FileInfo`` (stat and walk) and ``PendingUpload``.

Kept apart from ``driver`` so the walk helpers can build infos without
importing the contract that uses them; ``regstore.driver`` re-exports both and
states their contract in its module docstring ("What drivers report").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

__all__ = ["FileInfo", "PendingUpload", "Prune"]


@dataclass(frozen=True)
class FileInfo:
    """What ``stat`` and ``walk`` report about a file or a directory.

    A file's ``size`` is exact and ``mod_time`` timezone-aware UTC; for a
    directory ``size`` is 0 and ``mod_time`` unspecified (but aware). The
    contract: ``regstore.driver``.
    """

    # A walk makes one info per entry, so an info is kept small and quick to make:
    # slots, and ``mod_time`` either given (``_mod_time``) or, from ``_stamped``, made
    # from POSIX seconds (``_stamp``) when first read. Fields, equality, hash, repr,
    # ``replace`` and immutability are the dataclass's, all through ``mod_time``.
    __slots__ = ("_mod_time", "_stamp", "is_dir", "path", "size")

    path: str
    size: int
    mod_time: datetime
    is_dir: bool

    @property
    def walk_key(self) -> str:
        """The string walk order sorts on: the path, plus ``/`` for a directory."""
        return self.path + "/" if self.is_dir else self.path

    @classmethod
    def _stamped(cls, path: str, size: int, stamp: float, is_dir: bool) -> FileInfo:
        """An info whose ``mod_time`` is ``stamp`` (POSIX seconds), made when first read.

        Equal to ``FileInfo(path, size, datetime.fromtimestamp(stamp, timezone.utc), is_dir)``
        and several times cheaper to make: a frozen dataclass's ``__init__`` sets each
        field through ``object.__setattr__``, and most walks never read ``mod_time``.
        """
        info = _new_info(cls)
        _set_path(info, path)
        _set_size(info, size)
        _set_stamp(info, stamp)
        _set_is_dir(info, is_dir)
        return info

    def __reduce__(self) -> tuple[type[FileInfo], tuple[str, int, datetime, bool]]:
        # Frozen and slotted: pickle and copy rebuild an info through __init__.
        return (type(self), (self.path, self.size, self.mod_time, self.is_dir))


def _get_mod_time(info: FileInfo) -> datetime:
    try:
        given: datetime = _get_given(info)
    except AttributeError:
        made = datetime.fromtimestamp(_get_stamp(info), timezone.utc)
        _set_given(info, made)
        return made
    return given


_new_info = object.__new__
_set_path = FileInfo.__dict__["path"].__set__
_set_size = FileInfo.__dict__["size"].__set__
_set_is_dir = FileInfo.__dict__["is_dir"].__set__
_set_stamp = FileInfo.__dict__["_stamp"].__set__
_get_stamp = FileInfo.__dict__["_stamp"].__get__
_get_given = FileInfo.__dict__["_mod_time"].__get__
_set_given = FileInfo.__dict__["_mod_time"].__set__
# The field is read through this property: the dataclass's __init__ stores a given
# ``mod_time`` through its setter (``object.__setattr__`` honours data descriptors).
setattr(FileInfo, "mod_time", property(_get_mod_time, _set_given, doc="timezone-aware UTC"))  # noqa: B010


Prune = Callable[[FileInfo], bool]


@dataclass(frozen=True)
class PendingUpload:
    """An upload that was closed and neither committed nor cancelled.

    ``size`` is its size at its last ``close``; ``modified`` (timezone-aware
    UTC) is when that ``close`` happened, as the backend recorded it. The
    contract: ``regstore.driver`` and ``StorageDriver.pending_uploads``.
    """

    path: str
    size: int
    modified: datetime
