"""What a crash test's child process does until it is killed with SIGKILL.

The child builds a driver from a ``Target.spec()``, says ``("ready",)`` and
runs one scenario, reporting each durable step over a pipe (each message is one
small write, so a kill never leaves half a message):

- ``upload``: a resumable upload in chunks, one writer per chunk, each closed
  (``("closed", size)``), then a last writer that commits it (``("committed", size)``).
- ``put``: ``put_content`` of alternating versions, for a bounded time
  (``("put", index)`` after each).
"""

from __future__ import annotations

import importlib
import itertools
import os
import random
import time
import traceback
from multiprocessing.connection import Connection
from typing import Any

import regstore

__all__ = ["content", "pieces", "run"]


def content(seed: int, size: int) -> bytes:
    """Reproducible bytes: the parent and the child compute the same versions."""
    return random.Random(seed).randbytes(size)


def pieces(start: int, end: int, seed: int, largest: int) -> list[tuple[int, int]]:
    """Split ``[start, end)`` into writes of random sizes up to ``largest``."""
    rng = random.Random(seed)
    cuts = []
    while start < end:
        step = min(end - start, rng.randint(1, largest))
        cuts.append((start, start + step))
        start += step
    return cuts


def _driver(spec: dict[str, Any]) -> regstore.StorageDriver:
    os.environ.update(spec.get("env", {}))
    factory = spec.get("factory")
    if factory:
        module, _, attribute = factory.partition(":")
        regstore.register(spec["driver"], getattr(importlib.import_module(module), attribute))
    return regstore.create(spec["driver"], spec["parameters"])


def _upload(driver: regstore.StorageDriver, task: dict[str, Any], report: Connection) -> None:
    path = task["path"]
    data = content(task["seed"], task["size"])
    bounds: list[int] = task["bounds"]
    for index, (start, end) in enumerate(itertools.pairwise(bounds)):
        writer = driver.writer(path, append=index > 0)
        if writer.size != start:
            raise AssertionError(f"resumed at {writer.size}, expected {start}")
        for low, high in pieces(start, end, task["seed"] + index, task["largest_write"]):
            writer.write(data[low:high])
        writer.close()
        report.send(("closed", end))
    writer = driver.writer(path, append=True)
    writer.commit()
    report.send(("committed", writer.size))


def _put(driver: regstore.StorageDriver, task: dict[str, Any], report: Connection) -> None:
    versions = [content(seed, size) for seed, size in task["versions"]]
    deadline = time.monotonic() + task["seconds"]
    index = 0
    while time.monotonic() < deadline:
        index = (index + 1) % len(versions)
        driver.put_content(task["path"], versions[index])
        report.send(("put", index))


def run(spec: dict[str, Any], task: dict[str, Any], report: Connection) -> None:
    """The child's whole life: build the driver, run the scenario, report every step."""
    try:
        driver = _driver(spec)
        report.send(("ready",))
        if task["scenario"] == "upload":
            _upload(driver, task, report)
        else:
            _put(driver, task, report)
        driver.close()
        report.send(("done",))
    except BaseException:
        report.send(("error", traceback.format_exc()[-4000:]))
        raise
