"""The issues' targets, checked against the rows of a run (every target is a ratio).

Where issue #15 (speed, round two) sets a goal for a case, its goal is the
one checked: the filesystem walk (0.8x scandir), 1 KiB put+get (0.85x) and
big stream (0.95x, write and read together); S3 download, walk and delete at
least raw boto3; the GCS big list at least the raw SDK. The other goals are
the first round's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .digests import DIGEST_CASE, SHA256
from .telemetry import API_ONLY
from .timing import Row

__all__ = ["Verdict", "check_targets"]


@dataclass
class Verdict:
    """One target on one backend: the measured figure and whether it is met."""

    backend: str
    target: str
    measured: float | None
    goal: float
    higher_is_better: bool = True
    detail: str = ""

    @property
    def met(self) -> bool | None:
        if self.measured is None:
            return None
        return self.measured >= self.goal if self.higher_is_better else self.measured <= self.goal

    def to_json(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "target": self.target,
            "measured": self.measured,
            "goal": self.goal,
            "higher_is_better": self.higher_is_better,
            "met": self.met,
            "detail": self.detail,
        }


def _rows(rows: Sequence[Row], backend: str, starts: str) -> list[Row]:
    return [r for r in rows if r.backend == backend and r.case.startswith(starts)]


def _ratio(rows: Sequence[Row], backend: str, starts: str, label: str = "regstore") -> float | None:
    found = _rows(rows, backend, starts)
    return found[0].ratio(label) if found else None


def _versus(rows: Sequence[Row], backend: str, starts: str, peer: str) -> float | None:
    """regstore's speed over a peer's, in the same case (both ratios share the baseline)."""
    mine, theirs = _ratio(rows, backend, starts), _ratio(rows, backend, starts, peer)
    if mine is None or theirs is None or theirs == 0:
        return None
    return mine / theirs


def _median(rows: Sequence[Row], backend: str, starts: str, peer: str = "") -> str:
    """The same figure by the median rounds, for a detail column: "median 0.97x".

    Where the best rounds tie (the server, not the client, sets the pace), the
    median says which contender is ahead in a typical round.
    """
    found = _rows(rows, backend, starts)
    return _median_of(found[0], peer) if found else ""


def _median_of(row: Row | None, peer: str = "") -> str:
    """``_median`` for a row already found; "" when there is none."""
    if row is None:
        return ""
    mine = row.median_ratio("regstore")
    theirs = row.median_ratio(peer) if peer else 1.0
    if mine is None or not theirs:
        return ""
    return f"median {mine / theirs:.2f}x"


def _together(rows: Sequence[Row], backend: str, cases: Sequence[str]) -> float | None:
    """regstore's ratio over several cases run one after the other: summed best times."""
    found = [_rows(rows, backend, case) for case in cases]
    if not all(found):
        return None
    total_base = total_mine = 0.0
    for row in (match[0] for match in found):
        base, mine = row.best(row.baseline), row.best("regstore")
        if base is None or mine is None:
            return None
        total_base, total_mine = total_base + base, total_mine + mine
    return total_base / total_mine if total_mine else None


def _big_delete(rows: Sequence[Row], backend: str) -> Row | None:
    found = [r for r in _rows(rows, backend, "delete ") if "tree" in r.case]
    return found[0] if found else None


def _regstore_ratio(row: Row | None) -> float | None:
    return row.ratio("regstore") if row is not None else None


def check_targets(
    rows: Sequence[Row], memory: dict[str, dict[str, Any]], imports: dict[str, Any] | None
) -> list[Verdict]:
    """Every target whose backend was measured in this run."""
    out: list[Verdict] = []
    backends = {r.backend for r in rows}
    fs = "filesystem"
    if fs in backends:
        big = _rows(rows, fs, "stream write ")
        size = big[0].case.removeprefix("stream write ") if big else "big"
        out.append(
            Verdict(
                fs,
                f"stream write+read {size} >= 0.95x raw with fsync",
                _together(rows, fs, ("stream write ", "stream read ")),
                0.95,
            )
        )
        case = "stream write+read 1 MiB"
        out.append(Verdict(fs, f"{case} >= 0.9x raw I/O", _ratio(rows, fs, case), 0.9))
        for case, goal in (("put+get 1 KiB", 0.85), ("2,000 x 1 KiB", 0.8), ("20 x 1 KiB", 0.8)):
            if _rows(rows, fs, case):
                out.append(
                    Verdict(fs, f"{case} >= {goal}x raw atomic write", _ratio(rows, fs, case), goal)
                )
        out.append(Verdict(fs, "walk >= 0.8x os.scandir walk", _ratio(rows, fs, "walk "), 0.8))
        if _rows(rows, fs, DIGEST_CASE):
            ratio = _ratio(rows, fs, DIGEST_CASE, SHA256)
            out.append(Verdict(fs, "stream with sha256 within 1.1x of none", ratio, 1 / 1.1))
        out.append(
            Verdict(fs, "walk >= 2x fsspec find", _versus(rows, fs, "walk ", "fsspec local"), 2.0)
        )
    for backend in sorted(b for b in backends if b.startswith("s3")):
        big_delete = _big_delete(rows, backend)
        out.append(
            Verdict(
                backend,
                "stream upload >= raw upload_fileobj",
                _ratio(rows, backend, "stream write "),
                1.0,
            )
        )
        out.append(
            Verdict(
                backend,
                "stream upload >= obstore",
                _versus(rows, backend, "stream write ", "obstore"),
                1.0,
                detail=_median(rows, backend, "stream write ", "obstore"),
            )
        )
        out.append(
            Verdict(
                backend,
                "download >= raw get_object",
                _ratio(rows, backend, "stream read "),
                1.0,
                detail=_median(rows, backend, "stream read "),
            )
        )
        out.append(
            Verdict(backend, "walk >= the raw paginator", _ratio(rows, backend, "walk "), 1.0)
        )
        out.append(
            Verdict(
                backend,
                "delete >= delete_objects batches",
                _regstore_ratio(big_delete),
                1.0,
                detail=_median_of(big_delete),
            )
        )
    for backend in sorted(b for b in backends if b in ("azure", "gcs")):
        out.append(
            Verdict(
                backend,
                "stream upload >= the SDK's chunked upload",
                _ratio(rows, backend, "stream write "),
                1.0,
            )
        )
        big_list = [r for r in _rows(rows, backend, "list ") if "-entry directory" in r.case]
        # Issue #15 asks GCS's big list to reach the raw SDK's; Azure keeps round one's 1.1x.
        label, goal = (
            ("big list >= raw SDK listing", 1.0)
            if backend == "gcs"
            else ("big list within 1.1x of raw SDK listing", 1 / 1.1)
        )
        row = big_list[0] if big_list else None
        out.append(Verdict(backend, label, _regstore_ratio(row), goal, detail=_median_of(row)))
        out.append(
            Verdict(
                backend,
                "walk within 1.1x of raw SDK listing",
                _ratio(rows, backend, "walk "),
                1 / 1.1,
            )
        )
        out.append(
            Verdict(
                backend,
                "delete within 1.1x of raw SDK deletes",
                _regstore_ratio(_big_delete(rows, backend)),
                1 / 1.1,
            )
        )
    for row in (r for r in rows if r.group == "telemetry"):
        ratio = row.ratio(API_ONLY)
        out.append(
            Verdict(
                row.backend,
                "OpenTelemetry API without an SDK costs < 3% on 1 KiB put+get",
                ratio,
                1 / 1.03,
                detail="" if ratio is None else f"{(1 / ratio - 1) * 100:+.1f}% time",
            )
        )
    for backend, figures in memory.items():
        if "error" in figures:
            out.append(
                Verdict(
                    backend,
                    "stream peak RSS < 4x chunk x parts in flight",
                    None,
                    1.0,
                    detail=str(figures["error"]),
                )
            )
            continue
        growth = max(figures["write_growth_bytes"], figures["read_growth_bytes"])
        bound = figures["bound_bytes"]
        out.append(
            Verdict(
                backend,
                "stream peak RSS < 4x chunk x parts in flight",
                bound / growth if growth else float("inf"),
                1.0,
                detail=f"grew {growth / 2**20:.1f} MiB; bound {bound / 2**20:.0f} MiB"
                f" ({figures['bound_rule']})",
            )
        )
    if imports is not None:
        out.append(
            Verdict(
                "core",
                "import regstore under 50 ms (ratio: 50 ms / measured)",
                0.050 / imports["seconds"] if imports["seconds"] else None,
                1.0,
                detail=f"{imports['seconds'] * 1000:.1f} ms, best of {imports['rounds']} fresh"
                f" interpreters (bare start-up {imports['bare_start_seconds'] * 1000:.0f} ms)",
            )
        )
        out.append(
            Verdict(
                "core",
                "import regstore loads no SDK (count of SDK modules)",
                float(len(imports["sdk_modules"])),
                0.0,
                higher_is_better=False,
                detail=", ".join(imports["sdk_modules"]) or "none",
            )
        )
    return out
