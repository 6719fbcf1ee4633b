"""Where paths and pending uploads live in the bucket.

Paths are stored where the distribution registry's gcs driver stores them:
the key ``rootdirectory + path`` without the leading ``/``. Pending uploads
live under ``<rootdirectory>/~regstore/uploads/<path>/``; ``~`` is not a valid
path character, so no path can name them, and they sort after every path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from regstore.errors import InvalidPathError
from regstore.paths import PATH_PATTERN, ROOT, check_path, join_key

__all__ = ["HIDDEN", "Layout"]

#: The top-level name under ``rootdirectory`` that holds the driver's own objects.
HIDDEN = "~regstore"

_STATE = "~state"
_PART = "~part-"
_COMPOSE = "~compose-"
#: Paths joined by newlines, every one matching ``PATH_PATTERN`` (which has no newline):
#: one scan in C checks a whole listing.
_PATH_LINES = re.compile(f"{PATH_PATTERN.pattern}(?:\n{PATH_PATTERN.pattern})*")


def _no_dots(path: str) -> bool:
    """True when no component of the well-formed ``path`` is ``.`` or ``..``."""
    try:
        check_path(path)
    except InvalidPathError:
        return False
    return True


class Layout:
    """Maps paths to object names and back, for one ``rootdirectory``."""

    def __init__(self, rootdirectory: str) -> None:
        self.root = rootdirectory.strip("/")
        #: Every object of this store starts with this prefix ("" for the bucket root).
        self.prefix = f"{self.root}/" if self.root else ""
        #: The driver's own objects start with this prefix.
        self.hidden_prefix = f"{self.prefix}{HIDDEN}/"

    def key(self, path: str) -> str:
        """The object name of a file path."""
        return join_key(self.root, path)

    def children_prefix(self, path: str) -> str:
        """The prefix every object below the directory ``path`` starts with."""
        return self.prefix if path == ROOT else self.key(path) + "/"

    def path(self, name: str) -> str | None:
        """The path an object name stands for, or None (hidden or not a valid path).

        Called once per listed object, so the common case is one regular
        expression; only names with a component starting with ``.`` go through
        ``check_path`` for its ``.`` and ``..`` rule.
        """
        if not name.startswith(self.prefix):
            return None
        candidate = "/" + name[len(self.prefix) :]
        if PATH_PATTERN.fullmatch(candidate) is None:
            return None
        if "/." in candidate and not _no_dots(candidate):
            return None
        return candidate

    def children(self, directory: str, names: Iterable[str]) -> list[str]:
        """The paths of a directory's children, sorted and distinct, from a delimited listing.

        ``names`` are the object names and prefixes (with their ``/``) listed
        under ``children_prefix(directory)``; hidden and invalid ones are left
        out. A directory listing can hold many thousands of names, so they are
        checked in bulk: one regular expression over all of them, and one at a
        time only when some name is invalid or has a component starting with ``.``.
        """
        start = len(self.children_prefix(directory))
        base = "" if directory == ROOT else directory
        found = {f"{base}/{name[start:].rstrip('/')}" for name in names}
        joined = "\n".join(found)
        if "/." not in joined and _PATH_LINES.fullmatch(joined):
            return sorted(found)  # the common case: every name plainly valid
        valid = PATH_PATTERN.fullmatch
        return sorted(p for p in found if valid(p) and ("/." not in p or _no_dots(p)))

    def start_offset(self, after: str) -> str | None:
        """A listing ``startOffset`` at or before the first path sorting after ``after``.

        None when every path sorts after ``after`` (list from the start; see
        ``after_every_path`` for the opposite case). The result may be earlier
        than exact (callers still filter): object names avoid characters
        outside printable ASCII, so the offset stops at the first one, and one
        above ``~`` (as in ``after_subtree``) becomes ``~``, which still sorts
        after every valid path character.
        """
        if not after.startswith("/"):
            return None
        printable = after
        for index, char in enumerate(after):
            if char > "~":
                printable = after[:index] + "~"
                break
            if char < " ":
                printable = after[:index]
                break
        return self.prefix + printable[1:]

    @staticmethod
    def after_every_path(after: str) -> bool:
        """True when no path sorts after ``after`` (every path starts with ``/``)."""
        return not after.startswith("/") and after > "/"

    # -- pending uploads --------------------------------------------------------

    def upload_dir(self, path: str) -> str:
        """The prefix (without ``/``) under which the pending upload of ``path`` lives.

        The upload of ``/a`` owns the ``~`` names directly below it; uploads of
        paths below ``/a`` live in sub-prefixes, so ``upload_dir(p) + "/"``
        covers every pending upload at or below ``p``.
        """
        return f"{self.prefix}{HIDDEN}/uploads{path}"

    def state_name(self, path: str) -> str:
        """The object holding an upload's state and its unsent tail."""
        return f"{self.upload_dir(path)}/{_STATE}"

    def part_name(self, path: str, index: int) -> str:
        """The object holding part ``index`` (from 1) of an upload."""
        return f"{self.upload_dir(path)}/{_PART}{index:08d}"

    def compose_name(self, path: str, level: int, index: int) -> str:
        """An intermediate object of a chained compose at ``commit``."""
        return f"{self.upload_dir(path)}/{_COMPOSE}{level}-{index:06d}"

    def uploads_prefix(self, path: str) -> str:
        """The prefix every object of every pending upload at or below ``path`` starts with."""
        return f"{self.hidden_prefix}uploads/" if path == ROOT else self.upload_dir(path) + "/"

    def upload_of(self, name: str) -> tuple[str, bool] | None:
        """The path whose pending upload owns the object ``name``, and whether it is the state.

        None for a name that belongs to no upload (outside the staging area,
        not a ``~`` object, or under a directory no valid path maps to).
        """
        start = f"{self.hidden_prefix}uploads"
        directory, _, base = name.rpartition("/")
        if not base.startswith("~") or not directory.startswith(start + "/"):
            return None
        path = directory[len(start) :]
        if PATH_PATTERN.fullmatch(path) is None or ("/." in path and not _no_dots(path)):
            return None
        return path, base == _STATE

    def owns(self, path: str, name: str) -> bool:
        """True when ``name`` belongs to the pending upload of ``path`` itself."""
        rest = name[len(self.upload_dir(path)) + 1 :]
        return name.startswith(self.upload_dir(path) + "/~") and "/" not in rest
