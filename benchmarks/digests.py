"""What hashing costs a stream on the filesystem driver: the same write with and without a digest.

One stream (4 MiB writes of bytes, as a registry's chunked upload hands them
over) is written and committed through a writer opened without a digest (the
baseline), with ``digest="sha256"`` and committed with ``expected_digest``
(what a registry does), and the same with ``sha512``. Runs interleave, best of
N rounds; ``os.sync()`` runs untimed after each, so no run pays for the
writeback of another. The target: sha256 costs at most 10% of the throughput.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from typing import Any

import regstore

from .plan import MiB, human
from .timing import Row, Timed, measure

__all__ = ["BASELINE", "DIGEST_CASE", "SHA256", "digest_rows"]

#: How the row's case name starts (``targets`` finds it by that).
DIGEST_CASE = "digest: stream write"
BASELINE = "no digest"
SHA256 = "sha256, checked commit"
SHA512 = "sha512, checked commit"
#: Stream size and rounds: full run, then --quick.
SIZE, QUICK_SIZE = 256 * MiB, 16 * MiB
ROUNDS, QUICK_ROUNDS = 7, 2
WRITE = 4 * MiB


def _stream(driver: Any, path: str, size: int, algorithm: str | None) -> Callable[[], None]:
    """Write ``size`` bytes and commit; with ``algorithm``, a commit that checks the digest."""
    block = os.urandom(WRITE)
    pieces = [block] * (size // WRITE) + ([block[: size % WRITE]] if size % WRITE else [])
    expected = None
    if algorithm is not None:
        whole = hashlib.new(algorithm)
        for piece in pieces:
            whole.update(piece)
        expected = f"{algorithm}:{whole.hexdigest()}"

    def run() -> None:
        writer = driver.writer(path, digest=algorithm) if algorithm else driver.writer(path)
        for piece in pieces:
            writer.write(piece)
        writer.commit(expected_digest=expected)

    return run


def digest_rows(quick: bool) -> tuple[list[Row], list[str]]:
    """One row: the stream's time with each digest, as a ratio to the one without."""
    size = QUICK_SIZE if quick else SIZE
    rounds = QUICK_ROUNDS if quick else ROUNDS
    folder = tempfile.mkdtemp(prefix="regstore-bench-digest-", dir=os.environ.get("BENCH_TMP"))
    driver = regstore.create("filesystem", {"rootdirectory": folder})
    contenders: list[Timed] = []
    try:
        for label, algorithm in ((BASELINE, None), (SHA256, "sha256"), (SHA512, "sha512")):
            path = f"/digest/{label.split(',')[0].replace(' ', '-')}"
            run = _stream(driver, path, size, algorithm)
            role = "baseline" if algorithm is None else "regstore"
            contenders.append(
                Timed(label, role, run, cleanup=lambda p=path: driver.delete(p), settle=os.sync)
            )
        results = measure(contenders, rounds)
    finally:
        driver.close()
        shutil.rmtree(folder, ignore_errors=True)
    row = Row(
        "filesystem",
        "digest",
        f"{DIGEST_CASE} {human(size)}",
        BASELINE,
        results,
        f"1 x (stream of {human(size)} in {human(WRITE)} writes, commit)",
    )
    row.note = (
        "the hash runs on a helper thread while the driver writes and fsyncs; "
        "checked commit: commit(expected_digest=...)"
    )
    return [row], []
