"""Figures the robustness suites report: requests faulted, crashes survived, cases tried.

A test calls ``record(request, kind, **numbers)``; the numbers travel with the
test's report (also from pytest-xdist workers), and ``shared-tests/conftest.py``
adds them up in the terminal summary. With ``REGSTORE_FIGURES_FILE`` set, every
record is also appended to that file as one JSON line.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import Any

import pytest

__all__ = ["PROPERTY", "record", "summarize"]

PROPERTY = "regstore-figures"


def record(request: pytest.FixtureRequest, kind: str, **numbers: Any) -> None:
    """Attach ``numbers`` (JSON-ready) under ``kind`` to the running test's report."""
    entry = {"kind": kind, "test": request.node.nodeid, **numbers}
    request.node.user_properties.append((PROPERTY, json.dumps(entry)))
    path = os.environ.get("REGSTORE_FIGURES_FILE")
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(entry) + "\n")


def _add(total: dict[str, Any], numbers: dict[str, Any]) -> None:
    for key, value in numbers.items():
        if isinstance(value, bool) or key in ("kind", "test", "target", "seed"):
            continue
        if isinstance(value, (int, float)):
            total[key] = total.get(key, 0) + value
        elif isinstance(value, dict):
            _add(total.setdefault(key, {}), value)


def summarize(entries: Iterable[dict[str, Any]]) -> list[str]:
    """One line per kind and target: the summed numbers."""
    totals: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in entries:
        key = (entry["kind"], str(entry.get("target", "")))
        _add(totals.setdefault(key, {}), entry)
    lines = []
    for (kind, target), numbers in sorted(totals.items()):
        label = f"{kind} [{target}]" if target else kind
        lines.append(f"{label}: {json.dumps(numbers, sort_keys=True)}")
    return lines
