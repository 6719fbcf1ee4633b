"""A pytest plugin for ``regstore check``: each test's outcome as one JSON line on stdout.

The parent process reads the lines as they come (for its progress bar) and
builds its table from them; pytest's own terminal output is turned off.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

from ._check_protocol import MARKER


def _emit(event: dict[str, Any]) -> None:
    sys.__stdout__.write(MARKER + json.dumps(event) + "\n")  # type: ignore[union-attr]
    sys.__stdout__.flush()  # type: ignore[union-attr]


def pytest_collection_finish(session: pytest.Session) -> None:
    groups = {}
    for item in session.items:
        function = getattr(item, "function", None)
        qualname = getattr(function, "__qualname__", item.name)
        groups[item.nodeid] = qualname.split(".")[0] if "." in qualname else ""
    _emit({"event": "collected", "count": len(session.items), "groups": groups})


def _message(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple):  # a skip: (file, line, reason)
        return str(longrepr[2]).removeprefix("Skipped: ")
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message)
    return str(longrepr or "").strip().splitlines()[-1:][0] if longrepr else ""


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.passed and report.when != "call":
        return
    _emit(
        {
            "event": "report",
            "nodeid": report.nodeid,
            "when": report.when,
            "outcome": report.outcome,
            "duration": report.duration,
            "message": "" if report.passed else _message(report),
        }
    )


def pytest_runtest_logfinish(nodeid: str) -> None:
    _emit({"event": "finished", "nodeid": nodeid})
