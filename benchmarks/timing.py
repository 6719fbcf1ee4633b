"""Timing: interleaved repetitions, best and median, and the result rows.

On a shared 2-core machine absolute times are noise, so every contender of a
case runs once per round, in a rotating order, and the best of the rounds is
kept: interference only ever adds time. Ratios are ``baseline / contender``
(higher is faster; the baseline is 1.00).
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["SLOW_PEER", "Result", "Row", "Timed", "measure"]


@dataclass
class Timed:
    """One contender's part in a case: untimed ``setup``, then the timed ``run``."""

    label: str
    role: str  # "baseline", "regstore" or "peer"
    run: Callable[[], object]
    setup: Callable[[], object] | None = None
    cleanup: Callable[[], object] | None = None
    #: Untimed, after every run: e.g. write back dirty pages, so a contender that does not
    #: fsync leaves no writeback behind for the next contender to pay for.
    settle: Callable[[], object] | None = None


@dataclass
class Result:
    """The times of one contender in one case."""

    label: str
    role: str
    times: list[float] = field(default_factory=list)
    error: str | None = None
    #: Not repeated after its first run: more than ``SLOW_PEER`` times the baseline.
    capped: bool = False

    @property
    def best(self) -> float | None:
        return min(self.times) if self.times else None

    @property
    def median(self) -> float | None:
        return statistics.median(self.times) if self.times else None


@dataclass
class Row:
    """One case on one backend: every contender's best time and its ratio to the baseline."""

    backend: str
    group: str
    case: str
    baseline: str
    results: list[Result]
    work: str = ""  # what one timed run does, e.g. "50 x (put+get)"
    note: str = ""

    def ratio(self, label: str) -> float | None:
        """``baseline best / contender best``; None when either is missing."""
        return _quotient(self.best(self.baseline), self.best(label))

    def median_ratio(self, label: str) -> float | None:
        """``baseline median / contender median``: the typical round, where best rounds tie."""
        base, other = self._result(self.baseline), self._result(label)
        if base is None or other is None:
            return None
        return _quotient(base.median, other.median)

    def best(self, label: str) -> float | None:
        """The best time of a contender; None when it has none."""
        result = self._result(label)
        return None if result is None else result.best

    def _result(self, label: str) -> Result | None:
        return next((r for r in self.results if r.label == label), None)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["results"] = [
            {
                "label": r.label,
                "role": r.role,
                "best_s": r.best,
                "median_s": r.median,
                "times_s": r.times,
                "ratio": self.ratio(r.label),
                "error": r.error,
                "capped": r.capped,
            }
            for r in self.results
        ]
        return data


def _quotient(base: float | None, other: float | None) -> float | None:
    if base is None or other is None or other <= 0:
        return None
    return base / other


#: A peer slower than this many times the baseline in its first run is not run again:
#: best-of-N cannot move a ratio that far from 1 enough to matter, and the rounds cost minutes.
SLOW_PEER = 10.0


def measure(
    contenders: Sequence[Timed],
    rounds: int,
    before_round: Callable[[list[int]], object] | None = None,
) -> list[Result]:
    """Run every contender ``rounds`` times, interleaved; a failing contender is recorded.

    ``before_round`` (untimed) gets the indices of the contenders that run in the
    coming round, e.g. to create each one a fresh tree to delete.
    """
    results = [Result(c.label, c.role) for c in contenders]
    for round_no in range(rounds):
        shift = round_no % len(contenders)
        order = list(range(len(contenders)))[shift:] + list(range(len(contenders)))[:shift]
        order = [i for i in order if results[i].error is None and not results[i].capped]
        if not order:
            break
        if before_round is not None:
            try:
                before_round(order)
            except Exception as exc:
                for index in order:
                    results[index].error = f"setup failed: {type(exc).__name__}: {exc}"[:300]
                break
        for index in order:
            _run_once(contenders[index], results[index])
        if round_no + 1 < rounds:
            _cap_slow_peers(results)
    return results


def _run_once(contender: Timed, result: Result) -> None:
    try:
        if contender.setup is not None:
            contender.setup()
        gc.collect()
        start = time.perf_counter()
        contender.run()
        result.times.append(time.perf_counter() - start)
        if contender.cleanup is not None:
            contender.cleanup()
        if contender.settle is not None:
            contender.settle()
    except Exception as exc:  # a peer that breaks is reported, not fatal
        name = "" if type(exc).__name__ == "NotMeasured" else f"{type(exc).__name__}: "
        result.error = f"{name}{exc}"[:300]


def _cap_slow_peers(results: Sequence[Result]) -> None:
    base = results[0].best
    if base is None or base <= 0:
        return
    for result in results:
        if result.role == "peer" and result.best is not None and result.best > SLOW_PEER * base:
            result.capped = True
