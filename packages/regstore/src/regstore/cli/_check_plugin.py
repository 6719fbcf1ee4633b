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

# The suite's asserts say what differed only when pytest rewrites them; a
# plugin module is imported before the suite, in time to ask for it.
pytest.register_assert_rewrite("regstore.testsuite")

#: The longest message kept for the table (the first line of the failure).
MESSAGE_LIMIT = 240


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
    text = str(crash.message) if crash is not None else str(longrepr or "")
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    # The assertion, then pytest's first word on the difference ("At index 0 diff: ...").
    summary = "; ".join(lines[:2])
    return summary if len(summary) <= MESSAGE_LIMIT else summary[: MESSAGE_LIMIT - 3] + "..."


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
