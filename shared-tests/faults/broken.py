"""Deliberately broken drivers: the robustness suites must fail each of them.

``REGSTORE_BROKEN_DRIVER="<target label>=<module>:<class>"`` makes the suites
build that class where they would build the target's own driver (see
``faults.targets``); ``test_robustness_catches_broken_drivers.py`` uses it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from regstore import CheckedDriver
from regstore.driver import FileWriter
from regstore.drivers.filesystem import FilesystemDriver
from regstore.drivers.inmemory import InMemoryDriver

__all__ = ["EscapingFilesystem", "ForgetfulCloseFilesystem", "LaxPaths", "TornPutFilesystem"]


class TornPutFilesystem(FilesystemDriver):
    """``put_content`` rewrites the file in place, piece by piece (no temp file, no rename)."""

    def put_content(self, path: str, content: bytes | bytearray | memoryview) -> None:
        local = self.rootdirectory + path
        os.makedirs(os.path.dirname(local), exist_ok=True)
        view = memoryview(content).cast("B")
        with open(local, "wb") as file:
            for start in range(0, view.nbytes, 65_536):
                file.write(view[start : start + 65_536])
                file.flush()


class _Forgetful(FileWriter):
    """Holds the latest write back; ``close`` loses it, ``commit`` keeps it."""

    def __init__(self, inner: FileWriter, driver_name: str) -> None:
        super().__init__(inner.path, size=inner.size, driver_name=driver_name)
        self._inner = inner
        self._held = b""

    def _write(self, data: memoryview) -> None:
        self._inner.write(self._held)
        self._held = bytes(data)

    def _close(self) -> None:
        self._inner.close()

    def _commit(self) -> None:
        self._inner.write(self._held)
        self._inner.commit()

    def _cancel(self) -> None:
        self._inner.cancel()


class ForgetfulCloseFilesystem(FilesystemDriver):
    """A writer's ``close`` does not persist the last write: a resumed upload lacks it."""

    def writer(self, path: str, append: bool = False) -> FileWriter:
        return _Forgetful(super().writer(path, append), self.name)


class EscapingFilesystem(FilesystemDriver):
    """Follows symbolic links out of the root: the root's escape check is switched off."""

    def __init__(self, parameters: Mapping[str, Any] | None = None) -> None:
        super().__init__(parameters)
        self._root.check = lambda path, below: None  # type: ignore[method-assign]


class LaxPaths(CheckedDriver):
    """The wrapper around inmemory, with its path check switched off."""

    def __init__(self, parameters: Mapping[str, Any] | None = None) -> None:
        super().__init__(InMemoryDriver(parameters))

    def _path(self, path: object, *, allow_root: bool = False) -> str:
        return str(path)
