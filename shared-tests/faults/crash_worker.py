"""What a crash test's child process does until it is killed with SIGKILL.

The child builds a driver from a ``Target.spec()``, says ``("ready",)`` and
runs one scenario, reporting each durable step over a pipe (each message is one
small write, so a kill never leaves half a message):

- ``upload``: a resumable upload in chunks, one writer per chunk, each closed
  (``("closed", size)``), then a last writer that commits it (``("committed", size)``).
- ``stream``: one new writer over committed content, written in pieces of
  several parts and committed without a close (``("committed", size)``): the
  path a registry's blob upload takes.
- ``put``: ``put_content`` of alternating versions, for a bounded time
  (``("putting",)`` once the versions are built, ``("put", index)`` after each).

``probe`` is another life: build a driver from possibly hostile parameters
under a cap on the address space, use it a little, and report what happened
(the hostile-input tests; a parent kills a child that hangs).
"""

from __future__ import annotations

import faulthandler
import importlib
import itertools
import os
import random
import resource
import time
import traceback
from multiprocessing.connection import Connection
from typing import Any

import regstore

__all__ = ["content", "pieces", "probe", "run"]


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
    if factory and spec["driver"] not in regstore.available_drivers():
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


def _stream(driver: regstore.StorageDriver, task: dict[str, Any], report: Connection) -> None:
    data = content(task["seed"], task["size"])
    writer = driver.writer(task["path"])
    for low, high in pieces(0, len(data), task["seed"], task["largest_write"]):
        writer.write(data[low:high])
    writer.commit()
    report.send(("committed", writer.size))


def _put(driver: regstore.StorageDriver, task: dict[str, Any], report: Connection) -> None:
    versions = [content(seed, size) for seed, size in task["versions"]]
    report.send(("putting",))
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
        scenarios = {"upload": _upload, "stream": _stream, "put": _put}
        scenarios[task["scenario"]](driver, task, report)
        driver.close()
        report.send(("done",))
    except BaseException:
        report.send(("error", traceback.format_exc()[-4000:]))
        raise


def _memory_cap(extra: int) -> None:
    """Cap the address space at what the process maps now plus ``extra`` bytes."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmSize:"):
                mapped = int(line.split()[1]) * 1024
                resource.setrlimit(resource.RLIMIT_AS, (mapped + extra, mapped + extra))
                return


def _round_trip(driver: regstore.StorageDriver) -> None:
    """A small put, read, resumable upload and delete; raises if any answer is wrong."""
    data = content(1, 70_000)
    driver.put_content("/probe/put", data)
    if driver.get_content("/probe/put") != data:
        raise AssertionError("get_content returned other bytes than were put")
    writer = driver.writer("/probe/upload")
    writer.write(data[:30_000])
    writer.close()
    writer = driver.writer("/probe/upload", append=True)
    writer.write(data[30_000:])
    writer.commit()
    writer.close()
    with driver.reader("/probe/upload", 5) as stream:
        if stream.read() != data[5:]:
            raise AssertionError("the reader returned other bytes than were written")
    driver.delete("/probe")


def probe(spec: dict[str, Any], task: dict[str, Any], report: Connection) -> None:
    """Build a driver from ``spec`` (parameters may be hostile) and use it a little.

    Reports ``("invalid", parameter, message)`` for an ``InvalidParameterError``,
    ``("ok",)`` after a correct round trip, ``("driver-error", class, message)``
    for a contract error while using it, or ``("raised", stage, class, message)``
    for anything else; then ``("done",)``. With ``stacks`` (a file) and
    ``stacks_after`` (seconds), every thread's stack is written there if the
    probe is still running then, so a parent that kills it can say where it hung.
    """
    report.send(("ready",))
    if task.get("stacks"):
        stacks = open(task["stacks"], "w")  # noqa: SIM115  # held open until the probe exits
        faulthandler.dump_traceback_later(task["stacks_after"], file=stacks)
    _memory_cap(task.get("extra_memory", 1 << 30))
    try:
        driver = _driver(spec)
    except regstore.InvalidParameterError as exc:
        report.send(("invalid", exc.parameter, str(exc)[:500]))
    except BaseException as exc:
        report.send(("raised", "create", type(exc).__name__, str(exc)[:500]))
    else:
        try:
            _round_trip(driver)
            report.send(("ok",))
        except regstore.StorageDriverError as exc:
            report.send(("driver-error", type(exc).__name__, str(exc)[:500]))
        except BaseException as exc:
            report.send(("raised", "use", type(exc).__name__, str(exc)[:500]))
        finally:
            try:
                driver.close()
            except BaseException as exc:
                report.send(("raised", "close", type(exc).__name__, str(exc)[:500]))
    report.send(("done",))
