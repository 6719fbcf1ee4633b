"""The S3 driver's own upload objects on top of the core's key layout.

A pending upload of ``/a/b`` keeps its JSON ``state`` and the tail its last
close wrote, ``tail-<size>-<token>``, directly below
``<rootdirectory>/~regstore/uploads/a/b/`` (``KeyLayout.upload_dir``): the
keys every release of the driver has used, so uploads closed by an older
release still resume.
"""

from __future__ import annotations

from regstore.objectstore import KeyLayout

__all__ = ["STATE", "TAIL", "S3Layout", "tail_size"]

#: The name of an upload's state object.
STATE = "state"
#: How the name of a tail object starts: ``tail-<upload size>-<token>``.
TAIL = "tail-"


class S3Layout(KeyLayout):
    """``KeyLayout`` plus the names of an upload's state and tail objects."""

    def state_key(self, path: str) -> str:
        """The key of the JSON state of the pending upload at ``path``."""
        return f"{self.upload_dir(path)}/{STATE}"

    def tail_key(self, path: str, token: str, size: int) -> str:
        """A fresh key for the tail of the upload at ``path``, closed at ``size`` bytes.

        The size in the name lets one listing report every upload's size
        without reading its state.
        """
        return f"{self.upload_dir(path)}/{TAIL}{size}-{token}"

    def state_path(self, key: str) -> str | None:
        """The upload path whose state object is ``key``, or None for another key."""
        entry = self.upload_entry(key)
        return entry[0] if entry is not None and entry[1] == STATE else None


def tail_size(name: str) -> int | None:
    """The upload size a tail object's name records, or None (not a tail, or an older name)."""
    if not name.startswith(TAIL):
        return None
    size, separator, token = name[len(TAIL) :].partition("-")
    if not separator or not token or not size.isdigit():
        return None
    return int(size)
