"""Resource errors of the filesystem driver: one clear sentence each, and no damage.

Disk full, a file size limit, a read-only filesystem, permission denied, and a
root that cannot be created. Each must name the driver path and the storage
root, carry the ``OSError`` as its cause, and leave committed content intact.
Conditions a root user cannot provoke with ``chmod`` are made real in a child
process: a private mount namespace (read-only bind, tiny tmpfs), a resource
limit, or a switch to an unprivileged user.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import regstore
from regstore import DriverError, PathNotFoundError, StorageDriver

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "registry"


@pytest.fixture
def driver(root: Path) -> StorageDriver:
    return regstore.create("filesystem", {"rootdirectory": str(root)})


def files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def errors_of(
    root: Path, calls: str, *, before: str = "", prefix: list[str] | None = None
) -> dict[str, str]:
    """Run driver ``calls`` (one per line) in a child process; each line's error (or ``ok``).

    ``before`` runs first in the child (resource limits); ``prefix`` is a
    command that wraps the child (a mount namespace, dropped privileges).
    """
    lines = [line.strip() for line in textwrap.dedent(calls).strip().splitlines()]
    code = f"""
import json, regstore
{before}
driver = regstore.create("filesystem", {{"rootdirectory": {str(root)!r}}})
found = {{}}
for line in {lines!r}:
    try:
        exec(line, {{"driver": driver}})
        found[line] = "ok"
    except regstore.DriverError as exc:
        assert isinstance(exc.__cause__, OSError), repr(exc.__cause__)
        found[line] = str(exc)
    except AssertionError as exc:
        found[line] = f"assertion failed: {{exc}}"
print(json.dumps(found))
"""
    done = subprocess.run(
        [*(prefix or []), sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, str] = json.loads(done.stdout)
    return result


def can_use_mount_namespace() -> bool:
    if not IS_ROOT or shutil.which("unshare") is None or shutil.which("mount") is None:
        return False
    probe = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "true"], capture_output=True, check=False
    )
    return probe.returncode == 0


def in_mount_namespace(setup: str) -> list[str]:
    """A command prefix running the child in a private mount namespace after ``setup``."""
    return [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-ec",
        f'{setup}\nexec "$@"',
        "sh",
    ]


needs_mounts = pytest.mark.skipif(
    not can_use_mount_namespace(), reason="needs root and unshare for a private mount namespace"
)


# -- read-only filesystem -----------------------------------------------------------


@needs_mounts
def test_read_only_filesystem_is_named_and_reads_still_work(
    driver: StorageDriver, root: Path
) -> None:
    driver.put_content("/repo/link", b"committed")
    with driver.writer("/repo/upload") as upload:
        upload.write(b"pending")
    found = errors_of(
        root,
        """
        driver.put_content("/repo/link", b"new")
        driver.put_content("/new/file", b"new")
        driver.writer("/repo/upload", append=True).write(b"more")
        driver.writer("/repo/other")
        driver.move("/repo/link", "/moved")
        driver.delete("/repo/link")
        assert driver.get_content("/repo/link") == b"committed"
        """,
        prefix=in_mount_namespace(f"mount --bind {root} {root}; mount -o remount,ro,bind {root}"),
    )
    reads = found.pop('assert driver.get_content("/repo/link") == b"committed"')
    assert reads == "ok"
    for line, message in found.items():
        assert f"the storage root {root} is on a read-only filesystem" in message, line
        assert message.startswith("filesystem: cannot ")
    assert "/new/file" in found['driver.put_content("/new/file", b"new")']
    assert driver.get_content("/repo/link") == b"committed"
    assert files(root) == ["repo/link", "~uploads/repo~upload~~data", "~uploads/repo~upload~~size"]


# -- permission denied --------------------------------------------------------------


def without_privileges() -> list[str] | None:
    """A command prefix under which ``chmod`` binds this user (None: not available)."""
    if not IS_ROOT:
        return []
    if shutil.which("setpriv") is None:
        return None
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]


@pytest.mark.skipif(without_privileges() is None, reason="root needs setpriv to drop privileges")
def test_permission_denied_is_named_and_reads_still_work(driver: StorageDriver, root: Path) -> None:
    driver.put_content("/repo/link", b"committed")
    (root / "repo").chmod(0o555)
    root.chmod(0o555)
    try:
        found = errors_of(
            root,
            """
            driver.put_content("/repo/link", b"new")
            driver.put_content("/other", b"new")
            driver.writer("/repo/upload")
            driver.delete("/repo/link")
            assert driver.get_content("/repo/link") == b"committed"
            """,
            prefix=without_privileges(),
        )
    finally:
        root.chmod(0o755)
        (root / "repo").chmod(0o755)
    assert found['assert driver.get_content("/repo/link") == b"committed"'] == "ok"
    assert found['driver.put_content("/repo/link", b"new")'] == (
        f"filesystem: cannot store /repo/link: permission denied in {root}/repo"
        f" (storage root {root})"
    )
    for line in ('driver.put_content("/other", b"new")', 'driver.writer("/repo/upload")'):
        assert f"the storage root {root} is not writable" in found[line], line
    assert "permission denied" in found['driver.delete("/repo/link")']
    assert driver.get_content("/repo/link") == b"committed"
    assert files(root) == ["repo/link"]


# -- disk full and size limits ------------------------------------------------------


def test_a_file_size_limit_fails_cleanly_and_keeps_committed_content(
    driver: StorageDriver, root: Path
) -> None:
    driver.put_content("/blob", b"committed")
    with driver.writer("/upload") as upload:
        upload.write(b"p" * 1000)
    found = errors_of(
        root,
        """
        driver.put_content("/blob", b"x" * (3 << 20))
        w = driver.writer("/upload", append=True); w.write(b"y" * (3 << 20))
        w = driver.writer("/upload", append=True); w.write(b"z" * 10); w.close()
        """,
        before=(
            "import resource, signal\n"
            "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
            "resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))"
        ),
    )
    messages = list(found.values())
    assert messages[2] == "ok"
    for message in messages[:2]:
        assert "file size limit" in message
        assert str(root) in message
    assert "/blob" in messages[0]
    assert "/upload" in messages[1]
    assert driver.get_content("/blob") == b"committed"
    # The failed write was cut off whole: the upload holds what came before and after it.
    with driver.writer("/upload", append=True) as upload:
        assert upload.size == 1010
        upload.commit()
    assert driver.get_content("/upload") == b"p" * 1000 + b"z" * 10
    assert files(root) == ["blob", "upload"]


@needs_mounts
def test_a_full_disk_fails_cleanly_and_keeps_committed_content(
    driver: StorageDriver, root: Path
) -> None:
    found = errors_of(
        root,
        """
        driver.put_content("/small", b"committed")
        driver.put_content("/small", b"x" * (2 << 20))
        driver.put_content("/big", b"x" * (2 << 20))
        w = driver.writer("/upload"); w.write(b"y" * (2 << 20))
        assert driver.get_content("/small") == b"committed"
        import os; assert "~tmp" not in str(os.listdir(driver.inner.rootdirectory))
        """,
        prefix=in_mount_namespace(f"mkdir -p {root}; mount -t tmpfs -o size=1m tmpfs {root}"),
    )
    lines = list(found)
    assert found[lines[0]] == "ok"
    for line in lines[1:4]:
        assert f"the disk holding the storage root {root} is full" in found[line], line
    assert found[lines[4]] == "ok"
    assert found[lines[5]] == "ok"


# -- directories and files in the wrong place ------------------------------------


def test_a_directory_where_a_file_is_expected(driver: StorageDriver, root: Path) -> None:
    driver.put_content("/dir/file", b"1")
    with pytest.raises(DriverError) as caught:
        driver.put_content("/dir", b"2")
    assert str(caught.value) == (
        f"filesystem: cannot store /dir: it is a directory, where a file is expected"
        f" (storage root {root})"
    )
    assert isinstance(caught.value.__cause__, IsADirectoryError)
    with pytest.raises(PathNotFoundError):
        driver.get_content("/dir")
    with pytest.raises(PathNotFoundError):
        driver.reader("/dir")
    assert files(root) == ["dir/file"]


def test_a_file_where_a_directory_is_expected(driver: StorageDriver, root: Path) -> None:
    driver.put_content("/file", b"1")
    with pytest.raises(DriverError, match="a part of the path is a file") as caught:
        driver.put_content("/file/below", b"2")
    assert "/file/below" in str(caught.value)
    with pytest.raises(DriverError, match="a part of the path is a file"):
        driver.writer("/file/upload", append=False).commit()
    with pytest.raises(PathNotFoundError):
        driver.get_content("/file/below")
    with pytest.raises(PathNotFoundError):
        driver.stat("/file/below")
    driver.delete("/file")
    assert files(root) == []


def test_a_root_that_cannot_be_created_is_named(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    root = tmp_path / "file" / "registry"
    driver = regstore.create("filesystem", {"rootdirectory": str(root)})
    for call in (lambda: driver.put_content("/a/b", b"1"), lambda: driver.writer("/a")):
        with pytest.raises(DriverError) as caught:
            call()
        assert f"the storage root {root} cannot be created or written" in str(caught.value)
        assert isinstance(caught.value.__cause__, OSError)
