"""Conformance tests of digests: ``writer(path, digest=...)``, ``digest``, checked commits.

Every digest is checked against ``hashlib``. A resumed upload's digest covers
the resumed bytes, whichever instance resumes it; a mismatch commits nothing
and leaves the upload pending, to resume or to cancel.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable

import pytest

from ..driver import FileWriter, StorageDriver
from ..errors import DigestMismatchError, DriverError, InvalidParameterError, PathNotFoundError
from ._support import SuiteBase, random_bytes

KiB = 1 << 10
MiB = 1 << 20
#: Sizes around the hash blocks (64 and 128 bytes), the background threshold and a MiB.
SIZES = (0, 1, 63, 64, 65, 127, 128, 129, 1000, 256 * KiB - 1, 256 * KiB, MiB + 17, 3 * MiB + 5)


def _expected(algorithm: str, data: bytes) -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def _writer(
    driver: StorageDriver, path: str, *, append: bool = False, digest: object = None
) -> FileWriter:
    """``driver.writer(path, append, digest=...)``; ``digest`` is the wrapper's (``create``)."""
    open_writer: Callable[..., FileWriter] = driver.writer
    return open_writer(path, append, digest=digest)


def _write_in_pieces(writer: FileWriter, data: bytes, rng: random.Random) -> None:
    """``data`` in pieces of random sizes, as bytes, bytearray and memoryview."""
    view = memoryview(data)
    at = 0
    while at < len(data):
        size = min(len(data) - at, rng.choice((1, 7, 64, 1000, 70 * KiB, 300 * KiB, MiB)))
        piece = view[at : at + size]
        kind = rng.randrange(3)
        writer.write(bytes(piece) if kind == 0 else bytearray(piece) if kind == 1 else piece)
        at += size


class DigestTests(SuiteBase):
    """Digests of fresh and resumed uploads, and commits that check them."""

    def test_digest_of_fresh_upload(self, driver: StorageDriver, base: str) -> None:
        path = f"{base}/blob"
        data = random_bytes(2 * MiB + 3, 11)
        writer = _writer(driver, path, digest="sha256")
        assert writer.digest == _expected("sha256", b"")
        _write_in_pieces(writer, data, random.Random(1))
        assert writer.digest == _expected("sha256", data)
        writer.commit(expected_digest=_expected("sha256", data))
        assert writer.digest == _expected("sha256", data), "digest must still answer after commit"
        assert driver.get_content(path) == data

    def test_writer_without_digest_has_none(self, driver: StorageDriver, base: str) -> None:
        writer = driver.writer(f"{base}/plain")
        writer.write(b"abc")
        assert writer.digest is None
        with pytest.raises(InvalidParameterError, match="expected_digest"):
            writer.commit(expected_digest=_expected("sha256", b"abc"))
        writer.cancel()

    def test_digest_of_resumed_upload(self, driver: StorageDriver, base: str) -> None:
        path = f"{base}/blob"
        first, second = random_bytes(MiB + 1, 1), random_bytes(300 * KiB, 2)
        writer = _writer(driver, path, digest="sha256")
        writer.write(first)
        writer.close()
        assert writer.digest == _expected("sha256", first)
        resumed = _writer(driver, path, append=True, digest="sha256")
        assert resumed.size == len(first)
        assert resumed.digest == _expected("sha256", first)
        resumed.write(second)
        assert resumed.digest == _expected("sha256", first + second)
        resumed.commit(expected_digest=_expected("sha256", first + second))
        assert driver.get_content(path) == first + second

    def test_digest_resumed_from_second_driver(
        self, driver: StorageDriver, second_driver: StorageDriver, base: str
    ) -> None:
        path = f"{base}/blob"
        parts = [random_bytes(size, seed) for seed, size in enumerate((700 * KiB, 5, MiB))]
        writer = _writer(driver, path, digest="sha256")
        writer.write(parts[0])
        writer.close()
        other = _writer(second_driver, path, append=True, digest="sha256")
        other.write(parts[1])
        other.close()
        last = _writer(driver, path, append=True, digest="sha256")
        last.write(parts[2])
        whole = b"".join(parts)
        assert last.digest == _expected("sha256", whole)
        last.commit(expected_digest=_expected("sha256", whole))
        assert second_driver.get_content(path) == whole

    def test_sha512_digest(self, driver: StorageDriver, base: str) -> None:
        path = f"{base}/blob"
        first, second = random_bytes(500 * KiB, 3), random_bytes(129, 4)
        writer = _writer(driver, path, digest="sha512")
        writer.write(first)
        writer.close()
        resumed = _writer(driver, path, append=True, digest="sha512")
        resumed.write(second)
        assert resumed.digest == _expected("sha512", first + second)
        resumed.commit(expected_digest=_expected("sha512", first + second))
        assert driver.get_content(path) == first + second

    def test_digest_mismatch_leaves_upload_pending(self, driver: StorageDriver, base: str) -> None:
        path = f"{base}/blob"
        data = random_bytes(400 * KiB, 5)
        wrong = _expected("sha256", b"something else")
        writer = _writer(driver, path, digest="sha256")
        writer.write(data)
        with pytest.raises(DigestMismatchError) as caught:
            writer.commit(expected_digest=wrong)
        error = caught.value
        assert isinstance(error, DriverError)
        assert wrong in str(error)
        assert _expected("sha256", data) in str(error)
        assert str(error).startswith(f"{driver.name}: ")
        assert (error.expected, error.actual) == (wrong, _expected("sha256", data))
        with pytest.raises(PathNotFoundError):
            driver.get_content(path)
        assert not writer.closed, "after a mismatch the writer stays open"
        writer.write(b"more")
        writer.close()
        resumed = _writer(driver, path, append=True, digest="sha256")
        assert resumed.size == len(data) + 4
        assert resumed.digest == _expected("sha256", data + b"more")
        resumed.commit(expected_digest=_expected("sha256", data + b"more"))
        assert driver.get_content(path) == data + b"more"

    def test_cancel_after_digest_mismatch(self, driver: StorageDriver, base: str) -> None:
        path = f"{base}/blob"
        driver.put_content(path, b"committed")
        writer = _writer(driver, path, digest="sha256")
        writer.write(random_bytes(300 * KiB, 6))
        with pytest.raises(DigestMismatchError):
            writer.commit(expected_digest=_expected("sha256", b""))
        writer.cancel()
        assert driver.get_content(path) == b"committed"
        driver.delete(path)
        restarted = _writer(driver, path, append=True, digest="sha256")
        assert restarted.size == 0
        assert restarted.digest == _expected("sha256", b"")
        restarted.cancel()

    def test_invalid_digest_names_rejected(self, driver: StorageDriver, base: str) -> None:
        for name in ("md5", "SHA256", "sha-256", "", 256):
            with pytest.raises(InvalidParameterError, match="sha256") as caught:
                _writer(driver, f"{base}/blob", digest=name)
            assert str(caught.value).startswith(f"{driver.name}: ")
        writer = _writer(driver, f"{base}/blob", digest="sha256")
        writer.write(b"abc")
        good = _expected("sha256", b"abc")
        for expected in (
            good.upper(),
            good[:-1],
            good + "0",
            good.replace("sha256:", ""),
            good.replace("sha256:", "sha512:"),
            _expected("sha512", b"abc"),
            b"sha256:00",
        ):
            with pytest.raises(InvalidParameterError, match="expected_digest"):
                writer.commit(expected_digest=expected)  # type: ignore[arg-type]
        assert not writer.closed
        writer.cancel()

    @pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
    def test_digest_equals_hashlib_for_random_sizes(
        self, driver: StorageDriver, base: str, algorithm: str
    ) -> None:
        rng = random.Random(algorithm)
        for index, size in enumerate(SIZES):
            path = f"{base}/blob{index}"
            data = random_bytes(size, index)
            cut = rng.randint(0, size)
            writer = _writer(driver, path, digest=algorithm)
            _write_in_pieces(writer, data[:cut], rng)
            writer.close()
            resumed = _writer(driver, path, append=True, digest=algorithm)
            _write_in_pieces(resumed, data[cut:], rng)
            assert resumed.digest == _expected(algorithm, data), f"size {size}, resumed at {cut}"
            resumed.commit(expected_digest=_expected(algorithm, data))
            assert driver.get_content(path) == data

    def test_digest_of_upload_written_without_one(self, driver: StorageDriver, base: str) -> None:
        path = f"{base}/blob"
        first = random_bytes(MiB + 3, 7)
        writer = driver.writer(path)
        writer.write(first)
        writer.close()
        resumed = _writer(driver, path, append=True, digest="sha256")
        assert resumed.digest == _expected("sha256", first)
        resumed.write(b"tail")
        resumed.commit(expected_digest=_expected("sha256", first + b"tail"))

    def test_digest_after_resume_without_one(self, driver: StorageDriver, base: str) -> None:
        path = f"{base}/blob"
        writer = _writer(driver, path, digest="sha256")
        writer.write(b"hashed")
        writer.close()
        plain = driver.writer(path, append=True)
        plain.write(b" then not")
        plain.close()
        resumed = _writer(driver, path, append=True, digest="sha256")
        assert resumed.digest == _expected("sha256", b"hashed then not")
        resumed.cancel()
