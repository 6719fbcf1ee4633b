"""The ``regstore`` command: browse, copy, migrate and check a registry's storage.

Its dependencies (click, rich, PyYAML, pytest) come with ``pip install
"regstore[cli]"``; the library itself needs none of them.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command with ``argv`` (default: ``sys.argv[1:]``) and return the exit status."""
    try:
        from .app import run
    except ImportError as exc:
        missing = exc.name or "a dependency"
        hint = 'pip install "regstore[cli]"'
        print(
            f"regstore: the command needs its extra (missing: {missing}): {hint}", file=sys.stderr
        )
        return 1
    return run(argv)
