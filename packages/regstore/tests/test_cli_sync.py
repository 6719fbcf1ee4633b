"""``regstore sync`` interrupted for real (SIGKILL, SIGTERM) and resumed, on every backend.

The sync runs as a child process reading from ``slowfs`` (the filesystem
driver, slowed down, installed through an entry point on PYTHONPATH) so the
signal lands mid-way; its per-file log on stderr says when. The second run
reads the same folder with the plain filesystem driver. Both stores are then
compared byte for byte, and the source must be exactly as it was.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import regstore
from regstore.cli.syncer import MAX_STREAMS, SMALL_FILE, Syncer
from regstore.driver import FileWriter
from regstore.drivers.inmemory import InMemoryDriver

if TYPE_CHECKING:  # the conftest module is not importable by name when run with others
    from conftest import Ran, Store

Cli = Callable[..., "Ran"]
Tree = Callable[..., dict[str, bytes]]
BACKENDS = ("filesystem", "s3", "azure", "gcs")


def _snapshot(root: Path) -> dict[str, tuple[int, int, bytes]]:
    found = {}
    for path in root.rglob("*"):
        if path.is_file():
            st = path.stat()
            found[str(path.relative_to(root))] = (st.st_size, st.st_mtime_ns, path.read_bytes())
    return found


def _start(
    source: Store, dest: Store, site: Path, delay: float, *extra: str
) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])),
        "SLOWFS_DELAY": str(delay),
    }
    command = [
        sys.executable,
        "-m",
        "regstore.cli",
        "--driver",
        "slowfs",
        "--param",
        f"rootdirectory={source.parameters['rootdirectory']}",
        "sync",
        "--to-config",
        str(dest.config),
        "--verbose",
        *extra,
    ]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _read_until(process: subprocess.Popen[str], done: Callable[[list[str]], bool]) -> list[str]:
    """Stderr lines until ``done(lines)``; fails if the process ends first."""
    assert process.stderr is not None
    lines: list[str] = []
    for line in process.stderr:
        lines.append(line.rstrip("\n"))
        if done(lines):
            return lines
    process.wait()
    pytest.fail(f"the sync ended (status {process.returncode}) first:\n" + "\n".join(lines))


@pytest.mark.parametrize("backend", BACKENDS)
def test_sync_killed_then_run_again_copies_the_rest(
    backend: str,
    cli: Cli,
    make_store: Callable[..., Store],
    registry_tree: Tree,
    read_tree: Tree,
    slowfs_site: Path,
) -> None:
    source, dest = make_store("filesystem", "source"), make_store(backend, "dest")
    with source.open() as driver:
        files = registry_tree(driver, repositories=8)
    before = _snapshot(Path(source.parameters["rootdirectory"]))

    process = _start(source, dest, slowfs_site, 0.05, "-j", "2")
    _read_until(process, lambda lines: sum(line.startswith("copied ") for line in lines) >= 6)
    process.kill()  # no chance to clean up
    process.wait()
    with dest.open() as driver:
        partial = read_tree(driver)
    assert 6 <= len(partial) < len(files)
    assert all(files[path] == data for path, data in partial.items())  # complete or absent

    ran = cli("--config", source.config, "sync", "--to-config", dest.config)
    assert ran.code == 0, ran.err
    assert f"skipped {len(partial)} already there" in ran.out
    assert f"copied {len(files) - len(partial)} file" in ran.out
    with dest.open() as driver:
        assert read_tree(driver) == files
    assert _snapshot(Path(source.parameters["rootdirectory"])) == before


@pytest.mark.parametrize("backend", BACKENDS)
def test_sync_terminated_mid_file_resumes_the_upload(
    backend: str,
    cli: Cli,
    make_store: Callable[..., Store],
    registry_tree: Tree,
    read_tree: Tree,
    slowfs_site: Path,
) -> None:
    source, dest = make_store("filesystem", "source"), make_store(backend, "dest")
    with source.open() as driver:
        files = registry_tree(driver, repositories=1, big=3 << 20)
    big = max(files, key=lambda path: len(files[path]))
    before = _snapshot(Path(source.parameters["rootdirectory"]))

    # 64 KiB per read, 30 ms each: the 3 MiB blob takes about 1.5 s.
    process = _start(source, dest, slowfs_site, 0.03, "-j", "1")
    _read_until(process, lambda lines: lines[-1].startswith(f"copying  {big} "))
    time.sleep(0.4)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "sync: interrupted; run the same command again to resume" in err
    assert "sync: copied" in out  # the summary still comes
    with dest.open() as driver:
        assert big not in read_tree(driver)  # uploads stay invisible until complete

    ran = cli("--config", source.config, "sync", "--to-config", dest.config, "-j", "1")
    assert ran.code == 0, ran.err
    assert "resumed 1 interrupted upload (" in ran.out
    with dest.open() as driver:
        assert read_tree(driver) == files
    assert _snapshot(Path(source.parameters["rootdirectory"])) == before


class _CountingStore(InMemoryDriver):
    """The inmemory driver, noting how many of its writers are open at once."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.open = 0
        self.peak = 0

    def writer(self, path: str, append: bool = False) -> FileWriter:
        opened = super().writer(path, append)
        with self.lock:
            self.open += 1
            self.peak = max(self.peak, self.open)
        commit = opened.commit

        def counted_commit(*args: Any, **kwargs: Any) -> None:
            time.sleep(0.05)  # long enough for every worker's stream to overlap
            try:
                commit(*args, **kwargs)
            finally:
                with self.lock:
                    self.open -= 1

        opened.commit = counted_commit  # type: ignore[method-assign]
        return opened


def test_sync_streams_at_most_a_few_large_files_at_once_whatever_the_jobs() -> None:
    # Each stream holds a destination writer's buffers (100 MiB on S3): many jobs
    # must not mean that many writers at once, while small files use them all.
    source = regstore.create("inmemory")
    large = {f"/blobs/b{n:02d}": bytes([n]) * (SMALL_FILE + 1) for n in range(12)}
    small = {f"/links/l{n:03d}": b"sha256:%03d" % n for n in range(40)}
    for path, data in {**large, **small}.items():
        source.put_content(path, data)
    dest = _CountingStore()

    result = Syncer(source, dest, jobs=16).run()

    assert result.copied == len(large) + len(small)
    assert result.failures == []
    assert {p: dest.get_content(p) for p in {**large, **small}} == {**large, **small}
    assert 1 < dest.peak <= MAX_STREAMS
