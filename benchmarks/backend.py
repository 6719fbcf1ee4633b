"""A backend under test: its contenders, and the untimed calls that prepare and clean up cases."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .clients import Client

__all__ = ["Backend"]


@dataclass
class Backend:
    """The contenders of one backend (the baseline first) and how their data is made.

    ``shared``: every contender works in one namespace (the same folder, bucket
    prefix or container), so one tree made through the baseline's raw calls
    serves every contender that only reads it, and clean-up goes through the
    baseline's raw deletes. The in-memory contenders each keep their own store,
    so there every contender makes and removes its own data.
    """

    label: str
    contenders: Sequence[Client]
    shared: bool = True
    #: The backend has a page cache (the filesystem): a tree to delete is made right before
    #: its contender's delete, as today's runs did, so whether its pages were written back
    #: yet is the same for every contender; elsewhere a round's trees are made in parallel.
    page_cache: bool = False
    #: The regstore driver's parameters (the peak-RSS child builds its own driver from them).
    parameters: dict[str, Any] = field(default_factory=dict)
    remove: Callable[[], None] = lambda: None

    @property
    def baseline(self) -> Client:
        return self.contenders[0]

    def maker(self, client: Client) -> Client:
        """The client that creates and removes data ``client`` will read."""
        return self.baseline if self.shared else client

    def populate(self, client: Client, rels: Iterable[str], data: bytes) -> None:
        """Create files that ``client`` will see, untimed."""
        self.maker(client).populate(rels, data)

    def discard(self, client: Client, rel: str) -> None:
        """Remove a directory of ``client``'s untimed; a contender that failed may have none."""
        with contextlib.suppress(Exception):  # its error, if any, is recorded by the case
            self.maker(client).discard(rel)

    def close(self) -> None:
        """Close every contender, then remove the bucket, container or folder."""
        for client in self.contenders:
            client.close()
        self.remove()
