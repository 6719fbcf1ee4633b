"""Wall time of each stage of a run (emulator start, cases, peak RSS, import), for the summary."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Stage", "Stages"]


@dataclass
class Stage:
    """One stage: its wall time, the load average when it ended, its parts (e.g. cases)."""

    name: str
    seconds: float = 0.0
    load_at_end: float = 0.0
    parts: dict[str, float] = field(default_factory=dict)
    #: Of ``seconds``, the sum of the timed runs (what no harness change can make shorter).
    timed: float | None = None


class Stages:
    """The stages of a run in order, timed by ``with stages.stage(name):``."""

    def __init__(self) -> None:
        self.began = time.monotonic()
        self.done: list[Stage] = []

    @contextmanager
    def stage(self, name: str) -> Iterator[Stage]:
        current = Stage(name)
        start = time.monotonic()
        try:
            yield current
        finally:
            current.seconds = time.monotonic() - start
            current.load_at_end = os.getloadavg()[0]
            self.done.append(current)

    def elapsed(self) -> float:
        """Seconds since the run began."""
        return time.monotonic() - self.began

    def to_json(self) -> list[dict[str, Any]]:
        return [
            {
                "stage": s.name,
                "seconds": round(s.seconds, 2),
                "load_at_end": s.load_at_end,
                "parts": {k: round(v, 2) for k, v in s.parts.items()},
                "timed_seconds": None if s.timed is None else round(s.timed, 2),
            }
            for s in self.done
        ] + [{"stage": "whole run", "seconds": round(self.elapsed(), 2)}]
