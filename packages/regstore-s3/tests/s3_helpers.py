"""Helpers for the S3 driver's tests: backends, a raw boto3 client to look into the bucket."""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from regstore_s3.testing import admin_client, moto_connection, rgw_connection
from testenv import backend_env

MiB = 1 << 20
#: The smallest chunksize S3 allows, so multipart tests move little data.
CHUNK = 5 * MiB


@dataclass
class Backend:
    """A running S3 server with a bucket for this session."""

    name: str
    connection: dict[str, str]
    bucket: str
    client: Any

    def parameters(self, **extra: Any) -> dict[str, Any]:
        """Driver parameters for this backend's bucket."""
        return {**self.connection, "bucket": self.bucket, **extra}


def connection(name: str) -> dict[str, str]:
    """Endpoint and credentials of a running backend; skips (or fails in CI) without it."""
    env = backend_env(name)
    return moto_connection(env) if name == "moto" else rgw_connection(env)


def raw_client(connection: dict[str, str]) -> Any:
    """A plain boto3 client, independent of the driver, to look into the bucket."""
    return admin_client(connection)


def keys_under(client: Any, bucket: str, prefix: str) -> list[str]:
    """Every object key below ``prefix``."""
    keys: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(item["Key"] for item in page.get("Contents", ()))
    return keys


def uploads_under(client: Any, bucket: str, prefix: str) -> list[tuple[str, str]]:
    """Every open multipart upload (key, upload id) below ``prefix``."""
    found: list[tuple[str, str]] = []
    pages = client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket, Prefix=prefix)
    for page in pages:
        found.extend((u["Key"], u["UploadId"]) for u in page.get("Uploads", ()))
    return found


def wipe(client: Any, bucket: str, prefix: str) -> None:
    """Abort the uploads and delete the objects below ``prefix``."""
    for key, upload_id in uploads_under(client, bucket, prefix):
        client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
    keys = keys_under(client, bucket, prefix)
    for start in range(0, len(keys), 1000):
        batch = [{"Key": key} for key in keys[start : start + 1000]]
        client.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})


def leftovers(backend: Backend, root: str) -> list[str]:
    """Upload bookkeeping the driver keeps under ``root``: state/tail objects, multipart uploads."""
    found = [f"object {key}" for key in keys_under(backend.client, backend.bucket, f"{root}/~")]
    found += [f"upload {key}" for key, _ in uploads_under(backend.client, backend.bucket, root)]
    return found


class CuttingProxy:
    """A TCP relay to an S3 server that drops connections part-way through the answer.

    It stands for a network that fails in the middle of a download: the
    request reaches the real server, the answer stops after ``cuts[n]`` bytes
    on the n-th connection (the last value for every later one).
    """

    def __init__(self, upstream: str, cuts: list[int]) -> None:
        parts = urlsplit(upstream)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._cuts = cuts
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            cut = self._cuts[min(self.connections, len(self._cuts) - 1)]
            self.connections += 1
            server = socket.create_connection(self._upstream)
            threading.Thread(target=self._pipe, args=(client, server, None), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, cut), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket, limit: int | None) -> None:
        sent = 0
        try:
            while limit is None or sent < limit:
                data = source.recv(64 * 1024 if limit is None else min(64 * 1024, limit - sent))
                if not data:
                    break
                sink.sendall(data)
                sent += len(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
                end.close()
