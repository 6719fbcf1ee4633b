"""``scripts/versions.py check`` finds a package under ``packages/`` that is not wired everywhere.

It runs on the real tree (which must pass) and on copies of it with one wire
cut each, where it must fail and print the line that is missing.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = Path("scripts") / "versions.py"


def check(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(tree / SCRIPT), "check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def copy_tree(into: Path) -> Path:
    """What the check reads: the root files, the script and every package folder."""
    tree = into / "repo"
    (tree / "scripts").mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, tree / name)
    shutil.copy(REPO / SCRIPT, tree / SCRIPT)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "configs")
    shutil.copytree(REPO / "packages", tree / "packages", ignore=ignore)
    return tree


def edit(path: Path, old: str, new: str = "") -> None:
    text = path.read_text()
    assert old in text, f"{path} no longer holds {old!r}: update the case"
    path.write_text(text.replace(old, new, 1))


def cut_testing_entry_point(tree: Path) -> None:
    edit(
        tree / "packages/regstore-gcs/pyproject.toml",
        '[project.entry-points."regstore.testing"]\ngcs = "regstore_gcs.testing:backends"\n',
    )


def cut_mypy_files(tree: Path) -> None:
    edit(tree / "pyproject.toml", '  "packages/regstore-azure/src",\n')


def cut_readme_row(tree: Path) -> None:
    readme = tree / "README.md"
    readme.write_text(
        re.sub(r"^\|[^\n]*`regstore-s3` \|[^\n]*\n", "", readme.read_text(), flags=re.M)
    )


def cut_known_extra(tree: Path) -> None:
    edit(tree / "packages/regstore/src/regstore/factory.py", '"s3aws": "s3", ')


def cut_core_extra(tree: Path) -> None:
    pyproject = tree / "packages/regstore/pyproject.toml"
    pyproject.write_text(
        re.sub(r'^gcs = \["regstore-gcs==[^"]+"\]\n', "", pyproject.read_text(), flags=re.M)
    )


def cut_conformance_binding(tree: Path) -> None:
    for test in (tree / "packages/regstore-azure/tests").glob("test_*.py"):
        if "BackendSuite" in test.read_text():
            test.unlink()


def add_bare_package(tree: Path) -> None:
    """A new driver folder with nothing but its metadata and version."""
    folder = tree / "packages/regstore-foo"
    (folder / "src/regstore_foo").mkdir(parents=True)
    shutil.copy(
        tree / "packages/regstore-s3/src/regstore_s3/__about__.py",
        folder / "src/regstore_foo/__about__.py",
    )
    (folder / "pyproject.toml").write_text(
        '[project]\nname = "regstore-foo"\ndependencies = []\n\n'
        '[project.entry-points."regstore.drivers"]\nfoo = "regstore_foo.driver:FooDriver"\n'
    )


CASES: dict[str, tuple[Callable[[Path], None], list[str]]] = {
    "testing entry point": (
        cut_testing_entry_point,
        [
            'packages/regstore-gcs/pyproject.toml [project.entry-points."regstore.testing"]'
            ' lacks: <name> = "regstore_gcs.testing:backends"'
        ],
    ),
    "mypy files": (
        cut_mypy_files,
        ['pyproject.toml [tool.mypy] files lacks: "packages/regstore-azure/src",'],
    ),
    "README driver row": (
        cut_readme_row,
        ["README.md driver table lacks: | `s3` `s3aws` | `regstore-s3` | <backend> |"],
    ),
    "KNOWN_EXTRAS": (
        cut_known_extra,
        ['factory.py KNOWN_EXTRAS lacks: "s3aws": "s3"'],
    ),
    "core extra": (
        cut_core_extra,
        ['[project.optional-dependencies] lacks: gcs = ["regstore-gcs=='],
    ),
    "conformance binding": (
        cut_conformance_binding,
        ["packages/regstore-azure/tests/ lacks: a test_*.py binding the conformance suite"],
    ),
    "new package": (
        add_bare_package,
        [
            '[tool.hatch.envs.default.workspace] members lacks: "packages/regstore-foo",',
            'known-first-party lacks: "regstore_foo",',
            '[tool.mypy] files lacks: "packages/regstore-foo/src",',
            'packages/regstore-foo/pyproject.toml [project.entry-points."regstore.testing"]',
            'optional-dependencies] lacks: foo = ["regstore-foo==',
            'optional-dependencies] all lacks: "regstore-foo==',
            'KNOWN_EXTRAS lacks: "foo": "foo"',
            "README.md driver table lacks: | `foo` | `regstore-foo` | <backend> |",
            "README.md repository tree lacks: packages/regstore-foo",
        ],
    ),
}


def test_the_real_tree_is_wired() -> None:
    done = check(REPO)
    assert done.returncode == 0, done.stderr


def test_a_copy_is_wired_until_a_wire_is_cut(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    done = check(tree)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_cut_wire_fails_the_check_naming_the_missing_line(tmp_path: Path, case: str) -> None:
    cut, expected = CASES[case]
    tree = copy_tree(tmp_path)
    cut(tree)
    done = check(tree)
    assert done.returncode == 1, f"the check passed with the {case} cut"
    missing = [line for line in expected if line not in done.stderr]
    assert not missing, f"the check did not print {missing}; it printed:\n{done.stderr}"
