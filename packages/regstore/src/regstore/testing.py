"""The test backends of the drivers that ship with the core: inmemory and filesystem.

Found through the ``regstore.testing`` entry point group (see ``regstore.testsuite.backends``);
only tests import it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from .testsuite.backends import Store, TestBackend

__all__ = ["backends", "filesystem_leftovers", "filesystem_store"]


def filesystem_leftovers(root: Path) -> Callable[[], list[str]]:
    """The filesystem driver's own files under ``root``: pending uploads and temp files."""

    def leftovers() -> list[str]:
        if not root.exists():
            return []
        return sorted(
            str(path.relative_to(root))
            for path in root.rglob("*")
            if "~" in str(path.relative_to(root)) and not path.is_dir()
        )

    return leftovers


def filesystem_store(root: Path) -> Store:
    """The filesystem driver over ``root`` (created on first write)."""
    return Store("filesystem", {"rootdirectory": str(root)}, leftovers=filesystem_leftovers(root))


@contextmanager
def _filesystem(env: Mapping[str, str], workdir: Path) -> Iterator[Store]:
    yield filesystem_store(workdir / "root")


@contextmanager
def _inmemory(env: Mapping[str, str], workdir: Path) -> Iterator[Store]:
    yield Store("inmemory", {})


def backends() -> list[TestBackend]:
    """The core's backends: nothing to start, a fresh root or a fresh instance per test."""
    return [
        TestBackend(
            name="inmemory",
            title="InMemory",
            driver="inmemory",
            open=_inmemory,
            shared=False,
            unsupported={
                "test_resume_from_second_driver": "pending uploads belong to one inmemory instance"
            },
        ),
        TestBackend(
            name="filesystem",
            title="Filesystem",
            driver="filesystem",
            open=_filesystem,
            part_size=512 * 1024,
            preload=("regstore.drivers.filesystem",),
            fuzzed_parameters=("maxthreads",),
        ),
    ]
