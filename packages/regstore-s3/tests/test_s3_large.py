"""A large upload written half by one process and resumed by another, with bounded memory.

Sized by ``REGSTORE_S3_RESUME_SIZE`` (bytes). The default, 192 MiB, keeps the
default run short while each half is still larger than the memory bound, so a
writer that buffered its stream would fail; the issue's figure comes from a
run by hand with 1 GiB::

    REGSTORE_S3_RESUME_SIZE=1073741824 pytest -s -m slow packages/regstore-s3/tests/test_s3_large.py
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

import pytest
from s3_helpers import CHUNK, Backend, MiB, leftovers
from s3_writer_process import PIECE, pieces
from test_s3_writer import run_writer

import regstore
from regstore_s3.writer import PARTS_IN_FLIGHT

SIZE = int(os.environ.get("REGSTORE_S3_RESUME_SIZE", str(192 * MiB)))
#: What a writer may hold beyond its start-up footprint: the parts in flight,
#: the part being filled, and room for the SDK's own buffers.
MEMORY_BOUND_KIB = ((PARTS_IN_FLIGHT + 1) * CHUNK + 40 * MiB) // 1024


@pytest.mark.slow
def test_large_upload_resumed_by_another_process_in_bounded_memory(
    backend: Backend,
    driver: regstore.StorageDriver,
    parameters: dict[str, Any],
    root: str,
) -> None:
    total = SIZE // PIECE
    half = total // 2
    path = "/uploads/large/data"
    spec = {"driver": "s3", "parameters": parameters, "path": path}
    first = run_writer({**spec, "append": False, "first": 0, "count": half})
    rest = {"first": half, "count": total - half, "commit": True}
    second = run_writer({**spec, "append": True, **rest})
    assert first["size"] == half * PIECE
    assert second["size_before"] == half * PIECE
    assert second["size"] == total * PIECE
    assert driver.stat(path).size == total * PIECE

    expected = hashlib.sha256()
    for piece in pieces(0, total):
        expected.update(piece)
    digest = hashlib.sha256()
    with driver.reader(path) as stream:
        while block := stream.read(4 * MiB):
            digest.update(block)
    assert digest.hexdigest() == expected.hexdigest()
    assert leftovers(backend, root) == []

    for name, report in (("first half", first), ("resumed half", second)):
        growth = report["peak_rss_kib"] - report["baseline_rss_kib"]
        print(
            f"\n{backend.name}: {name} of {SIZE // MiB} MiB: peak RSS"
            f" {report['peak_rss_kib'] // 1024} MiB (before writing"
            f" {report['baseline_rss_kib'] // 1024} MiB, growth {growth // 1024} MiB,"
            f" bound {MEMORY_BOUND_KIB // 1024} MiB)"
        )
        assert growth < MEMORY_BOUND_KIB, f"{name}: the writer grew by {growth} KiB"
    driver.delete(path)
