"""Adds up the figures the robustness suites record (see ``faults/figures.py``)."""

from __future__ import annotations

import json
from typing import Any

from faults.figures import PROPERTY, summarize


def pytest_terminal_summary(terminalreporter: Any) -> None:
    entries = []
    for reports in terminalreporter.stats.values():
        for report in reports:
            # The teardown report carries what setup, call and teardown recorded.
            if getattr(report, "when", None) != "teardown":
                continue
            for name, value in getattr(report, "user_properties", ()):
                if name == PROPERTY:
                    entries.append(json.loads(value))
    if entries:
        terminalreporter.write_sep("=", "robustness figures")
        for line in summarize(entries):
            terminalreporter.write_line(line)
