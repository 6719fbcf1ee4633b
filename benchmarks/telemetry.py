"""What OpenTelemetry costs the wrapper: 1 KiB put+get with and without it, in a fresh process.

OpenTelemetry's providers are process-wide and set once, so the contenders are
built in one child process, in order: a driver created before any OpenTelemetry
module is imported (the baseline), one created with the API imported but no SDK
configured (the case the 3% target is about: the API installed, nobody
exporting), and one created after the SDK's tracer and meter providers were
configured (spans and metrics recorded, exported nowhere: the cost of being on).
Their runs interleave, best of N rounds, as every other case.

    python -m benchmarks.telemetry OPS ROUNDS   # prints one JSON line
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from typing import Any

from .plan import KiB
from .timing import Result, Row, Timed, measure

__all__ = ["telemetry_rows"]

BASELINE = "no OpenTelemetry"
API_ONLY = "API, no SDK"
SDK_ON = "SDK on"
#: ``(backend, ops per timed run, ops under --quick)``: in memory a call is all CPU, so
#: any per-call cost shows in full (with real I/O below, an fsync or a request, the same
#: cost is a far smaller share, and hidden in that I/O's noise on a shared machine).
BACKENDS = (("inmemory", 500, 200),)
ROUNDS, QUICK_ROUNDS = 41, 5


def _put_get(driver: Any, ops: int) -> Callable[[], None]:
    data = os.urandom(KiB)
    paths = [f"/bench/f{i:05d}" for i in range(ops)]

    def run() -> None:
        for path in paths:
            driver.put_content(path, data)
            if len(driver.get_content(path)) != KiB:
                raise AssertionError("get returned the wrong size")

    return run


def _child(ops: dict[str, int], rounds: int) -> dict[str, Any]:
    import regstore

    if any(name.startswith("opentelemetry") for name in sys.modules):
        raise SystemExit("OpenTelemetry was imported before the baseline driver was made")
    folder = tempfile.mkdtemp(prefix="regstore-bench-otel-")

    def make(backend: str, label: str) -> regstore.StorageDriver:
        if backend == "inmemory":
            return regstore.create("inmemory")
        return regstore.create("filesystem", {"rootdirectory": f"{folder}/{label}"})

    drivers = {backend: {BASELINE: make(backend, "plain")} for backend in ops}
    for module in ("opentelemetry.trace", "opentelemetry.metrics"):
        importlib.import_module(module)  # as a library using the API would
    for backend in ops:
        drivers[backend][API_ONLY] = make(backend, "api")
    sdk = _configure_sdk()
    if sdk:
        for backend in ops:
            drivers[backend][SDK_ON] = make(backend, "sdk")
    results: dict[str, Any] = {"sdk": sdk, "rows": []}
    for backend, count in ops.items():
        made = drivers[backend]
        # Only the baseline may lack telemetry by construction; check the other two.
        instrumented = {label: _instrumented(driver) for label, driver in made.items()}
        roles = {BASELINE: "baseline", API_ONLY: "regstore", SDK_ON: "regstore"}
        timed = [
            Timed(label, roles[label], _put_get(driver, count)) for label, driver in made.items()
        ]
        for entry in timed:
            entry.run()  # warm up, untimed: the SDK makes its instruments on first use
        measured = measure(timed, rounds)
        results["rows"].append(
            {
                "backend": backend,
                "ops": count,
                "instrumented": instrumented,
                "results": [
                    {"label": r.label, "role": r.role, "times": r.times, "error": r.error}
                    for r in measured
                ],
            }
        )
        for driver in made.values():
            driver.close()
    shutil.rmtree(folder, ignore_errors=True)
    return results


def _instrumented(driver: Any) -> bool:
    return getattr(driver, "_telemetry", None) is not None


def _configure_sdk() -> bool:
    """SDK providers that record every span and measurement and export them nowhere."""
    try:
        from opentelemetry import metrics, trace
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
    except ImportError:
        return False
    trace.set_tracer_provider(TracerProvider())
    metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))
    return True


def telemetry_rows(quick: bool) -> tuple[list[Row], list[str]]:
    """One row per backend (ratios to the driver made without OpenTelemetry), and notes."""
    ops = {backend: (few if quick else many) for backend, many, few in BACKENDS}
    rounds = QUICK_ROUNDS if quick else ROUNDS
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.telemetry", json.dumps(ops), str(rounds)],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"benchmarks.telemetry failed: {done.stderr.strip()[-800:]}")
    found = json.loads(done.stdout.strip().splitlines()[-1])
    notes = [] if found["sdk"] else ["telemetry: opentelemetry-sdk not installed, 'SDK on' not run"]
    rows = []
    for entry in found["rows"]:
        wrong = [label for label, on in entry["instrumented"].items() if on != (label == SDK_ON)]
        if wrong:
            notes.append(f"telemetry ({entry['backend']}): instrumented not as expected: {wrong}")
        results = [
            Result(r["label"], r["role"], times=r["times"], error=r["error"])
            for r in entry["results"]
        ]
        row = Row(
            f"telemetry ({entry['backend']})",
            "telemetry",
            "put+get 1 KiB",
            BASELINE,
            results,
            f"{entry['ops']} x (put, get)",
        )
        row.note = (
            f"{API_ONLY}: a driver made with the OpenTelemetry API imported and no SDK"
            f" configured (the 3% target); {SDK_ON}: tracer and meter providers recording,"
            " exporting nowhere"
        )
        rows.append(row)
    return rows, notes


if __name__ == "__main__":
    print(json.dumps(_child(json.loads(sys.argv[1]), int(sys.argv[2]))))
