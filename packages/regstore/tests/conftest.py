"""Fixtures for the core's tests.

Config files, a clean environment, a loopback web server, the ``regstore``
command run in-process, registry-shaped trees, and fresh stores on every
backend whose driver is installed (skipped, or failed under
``REGSTORE_REQUIRE_ALL_BACKENDS=1``, when its emulator is not running).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.server
import json
import os
import random
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import regstore
from regstore.driver import StorageDriver
from regstore.errors import PathNotFoundError
from testenv import backend_env, fresh_container, unique_name

CONFIGS = Path(__file__).parent / "configs"


@pytest.fixture
def configs() -> Path:
    """The folder of registry-shaped ``config.yml`` files."""
    return CONFIGS


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No ``REGISTRY_*`` or ``REGSTORE_DATA`` variable from the caller's environment leaks in."""
    for name in list(os.environ):
        if name.startswith("REGISTRY_") or name == "REGSTORE_DATA":
            monkeypatch.delenv(name)
    return monkeypatch


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def serve_directory() -> Iterator[Callable[[Path], str]]:
    """Serve a local folder over HTTP on 127.0.0.1; returns its base URL."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def serve(directory: Path) -> str:
        directory.mkdir(parents=True, exist_ok=True)
        handler = functools.partial(_QuietHandler, directory=str(directory))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


# -- the regstore command ------------------------------------------------------------------


@dataclasses.dataclass
class Ran:
    """One run of the command: exit status, stdout (text and bytes), stderr."""

    code: int
    out: str
    err: str
    raw: bytes


@pytest.fixture
def cli(
    capsysbinary: pytest.CaptureFixture[bytes], clean_env: pytest.MonkeyPatch
) -> Callable[..., Ran]:
    """Run ``regstore ARGS...`` in this process, as the console script does."""
    from regstore.cli import main

    clean_env.setenv("COLUMNS", "200")  # rich tables without wrapping

    def run(*args: object) -> Ran:
        code = main([str(arg) for arg in args])
        out, err = capsysbinary.readouterr()
        return Ran(code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), out)

    return run


def write_registry_tree(
    driver: StorageDriver, *, repositories: int = 3, big: int = 0, seed: int = 1
) -> dict[str, bytes]:
    """Store a tree shaped like a registry's (blobs, links, tags); returns path -> content."""
    rnd = random.Random(seed)
    base = "/docker/registry/v2"
    files: dict[str, bytes] = {}

    def blob(data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        files[f"{base}/blobs/sha256/{digest[:2]}/{digest}/data"] = data
        return digest

    if big:
        blob(rnd.randbytes(big))
    for index in range(repositories):
        repo = f"{base}/repositories/team{index}/app"
        for tag in ("latest", "1.0"):
            layer = blob(rnd.randbytes(rnd.randint(10, 4000)))
            manifest = blob(json.dumps({"layers": [f"sha256:{layer}"], "tag": tag}).encode())
            files[f"{repo}/_layers/sha256/{layer}/link"] = f"sha256:{layer}".encode()
            files[f"{repo}/_manifests/revisions/sha256/{manifest}/link"] = (
                f"sha256:{manifest}".encode()
            )
            files[f"{repo}/_manifests/tags/{tag}/current/link"] = f"sha256:{manifest}".encode()
    for path, data in files.items():
        driver.put_content(path, data)
    return files


def tree_of(driver: StorageDriver, path: str = "/") -> dict[str, bytes]:
    """Every file below ``path`` with its content (empty when ``path`` is missing)."""
    try:
        infos = [info for info in driver.walk(path) if not info.is_dir]
    except PathNotFoundError:
        return {}
    return {info.path: driver.get_content(info.path) for info in infos}


@pytest.fixture
def registry_tree() -> Callable[..., dict[str, bytes]]:
    """``write_registry_tree``: a registry-shaped tree written through a driver."""
    return write_registry_tree


@pytest.fixture
def read_tree() -> Callable[..., dict[str, bytes]]:
    """``tree_of``: every file of a store with its content."""
    return tree_of


# -- stores on each backend the installed drivers use ---------------------------------------

BACKENDS = ("filesystem", "s3", "azure", "gcs")


@dataclasses.dataclass
class Store:
    """A fresh, empty store on one backend, and the registry config.yml that names it."""

    backend: str
    parameters: dict[str, Any]
    config: Path

    def open(self) -> StorageDriver:
        """A driver over the store (close it when done)."""
        return regstore.from_config(self.config, {})


def _s3_parameters() -> dict[str, Any]:
    pytest.importorskip("regstore_s3")
    import boto3
    from botocore.config import Config

    endpoint = backend_env("moto")["REGSTORE_TEST_MOTO_ENDPOINT"]
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(s3={"addressing_style": "path"}),
    )
    bucket = unique_name("cli")
    client.create_bucket(Bucket=bucket)
    return {
        "region": "us-east-1",
        "bucket": bucket,
        "regionendpoint": endpoint,
        "accesskey": "testing",
        "secretkey": "testing",
        "rootdirectory": "/registry",
        "chunksize": 5 << 20,
    }


def _azure_parameters() -> dict[str, Any]:
    pytest.importorskip("regstore_azure")
    from azure.storage.blob import BlobServiceClient

    connection = backend_env("azurite")["REGSTORE_TEST_AZURITE_CONNECTION_STRING"]
    with BlobServiceClient.from_connection_string(connection) as service:
        container = fresh_container(service, "cli").container_name
    return {"connectionstring": connection, "container": container, "rootdirectory": "/registry"}


def _gcs_parameters(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    pytest.importorskip("regstore_gcs")
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    from regstore_gcs.testing import service_account

    endpoint = backend_env("fakegcs")["REGSTORE_TEST_FAKEGCS_ENDPOINT"]
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", endpoint)
    admin = storage.Client(
        project="test",
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options={"api_endpoint": endpoint},
    )
    bucket = admin.create_bucket(unique_name("cli"))
    return {"bucket": bucket.name, "credentials": dict(service_account())}


@pytest.fixture
def make_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Store]:
    """``make_store(backend, name)``: a fresh store (its bucket, container or folder)."""

    def make(backend: str, name: str = "store") -> Store:
        if backend == "filesystem":
            parameters: dict[str, Any] = {"rootdirectory": str(tmp_path / name)}
        elif backend == "s3":
            parameters = _s3_parameters()
        elif backend == "azure":
            parameters = _azure_parameters()
        elif backend == "gcs":
            parameters = _gcs_parameters(monkeypatch)
        else:
            raise ValueError(backend)
        config = tmp_path / f"{name}.yml"
        document = {"version": 0.1, "storage": {backend: parameters}}
        config.write_text(yaml.safe_dump(document), encoding="utf-8")
        return Store(backend, parameters, config)

    return make


# -- a slow source, to interrupt a sync at a known moment ------------------------------------

SLOWFS = '''
import os
import time

from regstore.drivers.filesystem import FilesystemDriver

DELAY = float(os.environ.get("SLOWFS_DELAY", "0.02"))


class _SlowReader:
    def __init__(self, raw):
        self._raw = raw

    def read(self, size=-1):
        time.sleep(DELAY)
        if size is None or size < 0:
            return self._raw.read()
        return self._raw.read(min(size, 65536))

    def close(self):
        self._raw.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class SlowFilesystem(FilesystemDriver):
    """The filesystem driver, reading 64 KiB per call after a pause."""

    def get_content(self, path):
        time.sleep(DELAY)
        return super().get_content(path)

    def reader(self, path, offset=0):
        return _SlowReader(super().reader(path, offset))
'''


@pytest.fixture
def slowfs_site(tmp_path: Path) -> Path:
    """A folder for PYTHONPATH that installs the ``slowfs`` driver (an entry point)."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "regstore_slowfs.py").write_text(SLOWFS, encoding="utf-8")
    info = site / "regstore_slowfs-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: regstore-slowfs\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[regstore.drivers]\nslowfs = regstore_slowfs:SlowFilesystem\n"
    )
    return site
