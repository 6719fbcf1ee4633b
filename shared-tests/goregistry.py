"""Debian's Go distribution registry (``docker-registry`` 2.8.2) as a test reference.

``filesystem_storage``/``s3_storage`` build the ``storage`` section, ``write_config``
the whole ``config.yml`` (deletes enabled, the upload purger off, HTTP on a free
loopback port); ``GoRegistry`` runs ``docker-registry serve`` and always stops it
by PID; ``garbage_collect`` runs ``docker-registry garbage-collect``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from testenv import backend_env

__all__ = [
    "BINARY",
    "GoRegistry",
    "binary_or_skip",
    "filesystem_storage",
    "free_port",
    "garbage_collect",
    "rgw_connection",
    "s3_storage",
    "write_config",
]

BINARY = "docker-registry"
#: How long ``serve`` may take to answer ``/v2/``.
START_TIMEOUT = 30.0


def binary_or_skip(*tools: str) -> None:
    """Skip (or fail under ``REGSTORE_REQUIRE_ALL_BACKENDS=1``) when a reference tool is missing."""
    missing = [tool for tool in (BINARY, *tools) if shutil.which(tool) is None]
    if missing:
        message = f"{', '.join(missing)} not installed; run scripts/install-emulators as root"
        if os.environ.get("REGSTORE_REQUIRE_ALL_BACKENDS") == "1":
            pytest.fail(message)
        pytest.skip(message)


def rgw_connection() -> dict[str, str]:
    """Endpoint and keys of the running Ceph radosgw (skips or fails when it is not running)."""
    env = backend_env("rgw")
    return {
        "endpoint": env["REGSTORE_TEST_RGW_ENDPOINT"],
        "accesskey": env["REGSTORE_TEST_RGW_ACCESS_KEY"],
        "secretkey": env["REGSTORE_TEST_RGW_SECRET_KEY"],
    }


def filesystem_storage(root: Path) -> dict[str, Any]:
    """The registry's filesystem driver rooted at ``root``."""
    return {"filesystem": {"rootdirectory": str(root)}}


def s3_storage(connection: Mapping[str, str], bucket: str, rootdirectory: str) -> dict[str, Any]:
    """The registry's S3 driver on a local S3 server (path style, plain HTTP, SigV4)."""
    return {
        "s3": {
            "region": "us-east-1",
            "regionendpoint": connection["endpoint"],
            "accesskey": connection["accesskey"],
            "secretkey": connection["secretkey"],
            "bucket": bucket,
            "rootdirectory": rootdirectory,
            "forcepathstyle": True,
            "secure": False,
            "v4auth": True,
            "chunksize": 5 << 20,
        }
    }


def environment() -> dict[str, str]:
    """The environment for ``docker-registry``: without ``AWS_CA_BUNDLE``.

    The registry talks plain HTTP to a loopback S3; under ``serve`` its AWS SDK
    panics on a CA bundle it cannot load into the registry's own transport.
    """
    return {key: value for key, value in os.environ.items() if key != "AWS_CA_BUNDLE"}


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def write_config(path: Path, storage: Mapping[str, Any], port: int | None = None) -> Path:
    """Write a registry ``config.yml`` for ``storage``: deletes on, no purger, loopback HTTP."""
    config = {
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {
            **storage,
            "delete": {"enabled": True},
            "cache": {"blobdescriptor": "inmemory"},
            # The purger would race the tests' own uploads; all four keys are required.
            "maintenance": {
                "uploadpurging": {
                    "enabled": False,
                    "age": "168h",
                    "interval": "24h",
                    "dryrun": False,
                }
            },
        },
        "http": {"addr": f"127.0.0.1:{port or free_port()}"},
        "health": {"storagedriver": {"enabled": False}},
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _addr(config: Path) -> str:
    loaded = yaml.safe_load(config.read_text())
    return str(loaded["http"]["addr"])


class GoRegistry:
    """``docker-registry serve CONFIG`` as a context manager; ``url``/``host`` once it answers."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.host = _addr(config)
        self.url = f"http://{self.host}"
        self.log = config.with_suffix(".log")
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> GoRegistry:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Start the server and wait until ``/v2/`` answers 200 (its log is in ``self.log``)."""
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                [BINARY, "serve", str(self.config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=environment(),
            )
        try:
            self._wait()
        except BaseException:
            self.stop()
            raise

    def _wait(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"docker-registry exited with {self._process.returncode}: {self.tail()}"
                )
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{self.url}/v2/", timeout=2) as answer,
            ):
                if answer.status == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"docker-registry did not answer on {self.url} in time: {self.tail()}")

    def tail(self) -> str:
        """The end of the server's log, for failure messages."""
        with contextlib.suppress(OSError):
            return self.log.read_text(errors="replace")[-2000:]
        return ""

    def stop(self) -> None:
        """Stop the server this object started (by its PID), waiting for it to exit."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def restart(self) -> None:
        """Stop and start again: forgets the blob descriptor cache after an offline deletion."""
        self.stop()
        self.start()


@contextlib.contextmanager
def serving(config: Path) -> Iterator[GoRegistry]:
    """A running registry for the duration of the block."""
    with GoRegistry(config) as registry:
        yield registry


def garbage_collect(
    config: Path, *, delete_untagged: bool = False, dry_run: bool = False, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run ``docker-registry garbage-collect`` on ``config``; a failure raises with its output."""
    command = [BINARY, "garbage-collect"]
    if delete_untagged:
        command.append("--delete-untagged")
    if dry_run:
        command.append("--dry-run")
    command.append(str(config))
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, check=False, env=environment()
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} failed ({done.returncode}): {done.stdout[-1500:]}"
            f" {done.stderr[-1500:]}"
        )
    return done


def http(
    method: str, url: str, body: bytes = b"", headers: Mapping[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request to the registry: status, headers (names lowercase), body (errors too)."""
    request = urllib.request.Request(url, data=body or None, method=method)
    if body:
        request.add_header("Content-Type", "application/octet-stream")
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, _lower(answer.headers.items()), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, _lower(error.headers.items()), error.read()


def _lower(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    return {name.lower(): value for name, value in items}
