"""``regstore check``: the conformance suite in a scratch prefix, passing and failing for real.

A good store (the filesystem driver) passes the whole suite; a broken driver,
installed through an entry point on PYTHONPATH, fails it with a non-zero exit
and a table naming the failed tests. Either way the scratch prefix is gone
afterwards and nothing outside it changed. (Cloud stores: test_cli_cloud.py.)
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # the conftest module is not importable by name when run with others
    from conftest import Ran, Store

Cli = Callable[..., "Ran"]

BROKEN = '''
from regstore.drivers.filesystem import FilesystemDriver


class NameOrderWalk(FilesystemDriver):
    """Walks in plain name order, so "/a" comes before "/a-1": the catalog bug of #4904."""

    def walk(self, path, *, start_after=None, prune=None):
        entries = list(super().walk(path, start_after=start_after, prune=prune))
        return iter(sorted(entries, key=lambda info: info.path))
'''


@pytest.fixture
def fs_with_data(make_store: Callable[..., Store], registry_tree: Callable[..., object]) -> Path:
    """A filesystem store that already holds a registry's files (check must not touch them)."""
    store = make_store("filesystem", "existing")
    with store.open() as driver:
        registry_tree(driver, repositories=1)
    return Path(store.parameters["rootdirectory"])


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _dirs(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_dir())


def test_check_passes_on_a_good_store_and_leaves_nothing(cli: Cli, fs_with_data: Path) -> None:
    before, dirs = _tree(fs_with_data), _dirs(fs_with_data)
    ran = cli("--driver", "filesystem", "--param", f"rootdirectory={fs_with_data}", "check")
    assert ran.code == 0, ran.out + ran.err
    assert "conformance of the filesystem driver" in ran.out
    summary = ran.out.strip().splitlines()[-1]
    assert summary.startswith("check: ")
    assert " passed, 0 failed, 0 skipped" in summary
    assert int(summary.split()[1]) > 100
    assert f"inside {fs_with_data}/regstore-check-" in ran.err
    assert _tree(fs_with_data) == before
    assert _dirs(fs_with_data) == dirs


def test_check_fails_on_a_broken_driver(fs_with_data: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "regstore_broken.py").write_text(BROKEN, encoding="utf-8")
    info = site / "regstore_broken-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: regstore-broken\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[regstore.drivers]\nbrokenfs = regstore_broken:NameOrderWalk\n"
    )
    before, dirs = _tree(fs_with_data), _dirs(fs_with_data)
    env = {**os.environ, "PYTHONPATH": str(site), "COLUMNS": "200"}
    command = [sys.executable, "-m", "regstore.cli", "--driver", "brokenfs"]
    result = subprocess.run(
        [*command, "--param", f"rootdirectory={fs_with_data}", "check", "-k", "walk"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=600,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "failures" in result.stdout
    assert "test_walk_byte_order_example" in result.stdout
    summary = result.stdout.strip().splitlines()[-1]
    assert " 0 failed" not in summary
    assert "Traceback" not in result.stderr
    assert _tree(fs_with_data) == before
    assert _dirs(fs_with_data) == dirs


def test_check_needs_a_rootdirectory_parameter(cli: Cli) -> None:
    ran = cli("--driver", "inmemory", "check")
    assert ran.code == 1
    assert "which the inmemory driver does not take" in ran.err


def test_check_with_a_keyword_that_matches_nothing(cli: Cli, fs_with_data: Path) -> None:
    root = f"rootdirectory={fs_with_data}"
    ran = cli("--driver", "filesystem", "--param", root, "check", "-k", "nosuchtest")
    assert ran.code == 1
    assert "no conformance test matched -k 'nosuchtest'" in ran.err
