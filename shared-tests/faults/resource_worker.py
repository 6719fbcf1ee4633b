"""Run filesystem-driver steps in a process whose resources the parent constrained.

The parent starts this script under a file-size limit, inside a private mount
namespace (a small or read-only tmpfs), or as an unprivileged user, and gives
it the root directory and a JSON list of steps on the command line. It prints
one JSON outcome per step: ``{"ok": true, "value": ...}`` or ``{"ok": false,
"error": <class name>, "message": <str(error)>}``.

Steps: ``["put", path, seed, size]``, ``["get", path]`` (value: SHA-256),
``["write", path, append, seed, size, "close"|"commit"]``, ``["size", path]``
(of the pending upload, by a resumed writer that writes nothing), ``["delete",
path]``, ``["move", source, dest]``, ``["list", path]``, ``["hidden"]`` (the
driver's own files under the root, e.g. temp files).

A third argument names a user to become once the driver is built (the parent
runs as root; the interpreter itself may live where that user cannot read, so
the switch comes after every import). ``REGSTORE_BROKEN_DRIVER`` naming the
filesystem target puts a deliberately broken driver in its place.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import pwd
import random
import sys
from typing import Any

import regstore


def _data(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


def _step(driver: regstore.StorageDriver, root: str, step: list[Any]) -> Any:
    name, *args = step
    if name == "put":
        driver.put_content(args[0], _data(args[1], args[2]))
        return None
    if name == "get":
        return hashlib.sha256(driver.get_content(args[0])).hexdigest()
    if name == "write":
        path, append, seed, size, end = args
        writer = driver.writer(path, append=append)
        try:
            writer.write(_data(seed, size))
            if end == "commit":
                writer.commit()
        finally:
            writer.close()
        return writer.size
    if name == "size":
        writer = driver.writer(args[0], append=True)
        writer.close()
        return writer.size
    if name == "delete":
        driver.delete(args[0])
        return None
    if name == "move":
        driver.move(args[0], args[1])
        return None
    if name == "list":
        return driver.list(args[0])
    if name == "hidden":
        found: list[str] = []
        for directory, _, files in os.walk(root):
            found.extend(
                os.path.relpath(os.path.join(directory, file), root)
                for file in files
                if "~" in os.path.relpath(os.path.join(directory, file), root)
            )
        return sorted(found)
    raise ValueError(f"unknown step {name!r}")


def main() -> None:
    root, steps = sys.argv[1], json.loads(sys.argv[2])
    named, _, factory = os.environ.get("REGSTORE_BROKEN_DRIVER", "").partition("=")
    name = "filesystem"
    if named == "filesystem" and factory:
        module, _, attribute = factory.partition(":")
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        name = "broken-filesystem"
        regstore.register(name, getattr(importlib.import_module(module), attribute))
    driver = regstore.create(name, {"rootdirectory": root})
    if len(sys.argv) > 3:
        user = pwd.getpwnam(sys.argv[3])
        os.setgroups([])
        os.setgid(user.pw_gid)
        os.setuid(user.pw_uid)
    for step in steps:
        try:
            outcome = {"ok": True, "value": _step(driver, root, step)}
        except regstore.StorageDriverError as error:
            outcome = {"ok": False, "error": type(error).__name__, "message": str(error)}
        except Exception as error:
            outcome = {"ok": False, "error": type(error).__name__, "message": repr(error)}
        print(json.dumps({"step": step, **outcome}), flush=True)


if __name__ == "__main__":
    main()
