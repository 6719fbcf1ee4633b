"""Adds up the figures the robustness suites record (see ``faults/figures.py``), and
deselects the cases a suite class keeps out of the default run (its ``collected``)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from faults.figures import PROPERTY, summarize


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    kept, dropped = [], []
    for item in items:
        collected = getattr(getattr(item, "cls", None), "collected", None)
        (kept if collected is None or collected(item) else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


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
