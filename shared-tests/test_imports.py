"""No module imports itself through others: scripts/import_cycles.py on the tree, and on a cycle."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("grimp")

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "import_cycles.py"


def _check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=False
    )


def test_packages_and_shared_tests_have_no_import_cycle() -> None:
    result = _check()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no import cycles" in result.stdout


def test_each_cycle_is_listed_with_its_import_lines(tmp_path: Path) -> None:
    package = tmp_path / "looped"
    package.mkdir()
    files = {
        "__init__.py": "",
        "a.py": "from . import b\n",
        # A lazy import closes a cycle as surely as a module-level one.
        "b.py": "def f():\n    from . import a\n    return a\n",
        "c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .d import D\n",
        "d.py": "from . import c\nclass D: ...\n",
        "e.py": "from . import a\n",
    }
    for name, text in files.items():
        (package / name).write_text(textwrap.dedent(text))
    result = _check("--path", str(tmp_path), "looped")
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert "2 import cycle(s)" in out
    assert "looped.a -> looped.b -> looped.a" in out
    assert "looped.b imports looped.a: line 2" in out
    assert "looped.c -> looped.d -> looped.c" in out
    assert "looped.e" not in out  # importing into a cycle is not one
