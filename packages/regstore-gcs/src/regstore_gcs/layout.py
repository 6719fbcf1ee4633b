"""Where the gcs driver keeps a pending upload's objects: the kit's layout plus their names.

Paths and the private area are ``KeyLayout``'s (the distribution registry's
keys). The upload of a path is a run of objects directly below its
``upload_dir``: ``~part-<8 digits>`` for each staged part, ``~state`` for the
state and tail, and ``~compose-<level>-<6 digits>`` for the intermediate
objects of a chained compose at ``commit``.
"""

from __future__ import annotations

from regstore.objectstore import KeyLayout

__all__ = ["STATE", "GCSLayout"]

#: The name of an upload's state object.
STATE = "~state"


class GCSLayout(KeyLayout):
    """``KeyLayout`` with the names of the objects one pending upload keeps."""

    def state_name(self, path: str) -> str:
        """The object holding an upload's state and its unsent tail."""
        return f"{self.upload_dir(path)}/{STATE}"

    def part_name(self, path: str, index: int) -> str:
        """The object holding part ``index`` (from 1) of an upload."""
        return f"{self.upload_dir(path)}/~part-{index:08d}"

    def compose_name(self, path: str, level: int, index: int) -> str:
        """An intermediate object of a chained compose at ``commit``."""
        return f"{self.upload_dir(path)}/~compose-{level}-{index:06d}"

    def upload_of(self, key: str) -> tuple[str, bool] | None:
        """The path whose pending upload owns ``key``, and whether it is the state object.

        None for a key that belongs to no upload (outside the uploads area, not
        a ``~`` object, or under a directory no valid path maps to).
        """
        entry = self.upload_entry(key)
        if entry is None or not entry[1].startswith("~"):
            return None
        return entry[0], entry[1] == STATE

    def owns(self, path: str, key: str) -> bool:
        """True when ``key`` belongs to the pending upload of ``path`` itself."""
        own = self.upload_dir(path) + "/~"
        return key.startswith(own) and "/" not in key[len(own) :]
