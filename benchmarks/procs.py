"""Measurements that need a fresh process: peak RSS of a big stream, and ``import regstore``.

``python -m benchmarks.procs rss SPEC`` streams through a driver and prints
the growth of peak RSS; ``python -m benchmarks.procs import`` prints how long
``import regstore`` took and which SDK modules it loaded.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from typing import Any

__all__ = ["import_time", "peak_rss"]

SDK_PREFIXES = ("boto3", "botocore", "s3transfer", "azure", "google", "urllib3", "requests")


def _current_rss() -> int:
    with open("/proc/self/statm") as file:
        return int(file.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _peak_rss() -> int:
    """Peak RSS since the last ``_reset_peak`` (Linux VmHWM), else since the process began."""
    try:
        with open("/proc/self/status") as file:
            for line in file:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _reset_peak() -> None:
    """Start the peak over from the current RSS (Linux: write 5 to clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as file:
            file.write("5")
    except OSError:
        pass


def _rss_child(spec: dict[str, Any]) -> dict[str, Any]:
    import regstore

    size, chunk = int(spec["size"]), 1 << 20
    block = os.urandom(4 << 20)
    buffer = bytearray(chunk)
    with regstore.create(spec["driver"], spec["parameters"]) as driver:
        driver.put_content("/warm", b"x")  # clients, pools and imports settle first
        driver.get_content("/warm")
        _reset_peak()
        before = _current_rss()
        writer = driver.writer("/big")
        view = memoryview(block)
        left = size
        while left > 0:
            take = min(left, chunk)
            start = (size - left) % len(block)
            piece = view[start : start + take] if start + take <= len(block) else view[:take]
            writer.write(piece)
            left -= take
        writer.commit()
        after_write = _peak_rss()
        _reset_peak()
        total = 0
        with driver.reader("/big") as reader:
            while n := reader.readinto(buffer):
                total += n
        after_read = _peak_rss()
        driver.delete("/big")
        driver.delete("/warm")
    if total != size:
        raise SystemExit(f"read back {total} bytes of {size}")
    return {
        "rss_before_bytes": before,
        "write_growth_bytes": max(0, after_write - before),
        "read_growth_bytes": max(0, after_read - before),
    }


def _import_child() -> dict[str, Any]:
    start = time.perf_counter()
    import regstore  # noqa: F401

    elapsed = time.perf_counter() - start
    sdks = sorted(
        name for name in sys.modules if name.split(".")[0] in SDK_PREFIXES and "." not in name
    )
    return {"seconds": elapsed, "sdk_modules": sdks}


def _run_child(args: list[str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.procs", *args],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
        env=os.environ.copy(),
    )
    if done.returncode != 0:
        raise RuntimeError(f"benchmarks.procs {args[0]} failed: {done.stderr.strip()[-800:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def peak_rss(driver: str, parameters: dict[str, Any], size: int) -> dict[str, Any]:
    """Peak RSS growth while ``size`` bytes are written and read through a fresh driver."""
    spec = {"driver": driver, "parameters": parameters, "size": size}
    return _run_child(["rss", json.dumps(spec)])


def import_time(rounds: int) -> dict[str, Any]:
    """Best ``import regstore`` time over ``rounds`` fresh interpreters, and the SDKs it loaded.

    It is an absolute time, so it follows the machine's load: the children alternate
    with bare interpreters (``python -c pass``), whose best start-up, timed from here,
    shows how loaded the machine was at the same moments.
    """
    results: list[dict[str, Any]] = []
    bare: list[float] = []
    for _ in range(rounds):
        results.append(_run_child(["import"]))
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True, timeout=120)
        bare.append(time.perf_counter() - start)
    best = min(results, key=lambda r: r["seconds"])
    return {
        "seconds": best["seconds"],
        "all_seconds": [r["seconds"] for r in results],
        "rounds": rounds,
        "sdk_modules": best["sdk_modules"],
        "bare_start_seconds": min(bare),
    }


if __name__ == "__main__":
    if sys.argv[1] == "rss":
        print(json.dumps(_rss_child(json.loads(sys.argv[2]))))
    else:
        print(json.dumps(_import_child()))
