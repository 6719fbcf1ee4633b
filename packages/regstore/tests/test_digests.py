"""Digests in the core: the hash state across processes, torn state, drivers without the hook."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import regstore
from regstore import CheckedDriver
from regstore.driver import FileWriter
from regstore.drivers.inmemory import InMemoryDriver, _InMemoryWriter
from regstore.middleware.base import RedirectsDisabled

MiB = 1 << 20


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _run(code: str, source: str = "") -> str:
    env = {**os.environ, "REGSTORE_HASH_SOURCE": source}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _pending_data(root: Path) -> Path:
    [data] = (root / "~uploads").glob("*~~data")
    return data


def test_resumed_hash_crosses_processes_without_reading_back(tmp_path: Path) -> None:
    root = tmp_path / "registry"
    first, second = os.urandom(3 * MiB + 1), os.urandom(MiB + 7)
    with regstore.create("filesystem", {"rootdirectory": str(root)}) as driver:
        writer = driver.writer("/blob", digest="sha256")
        writer.write(first)
        writer.close()
    # Same size, other bytes: only a resume that reads the upload back would see them.
    data = _pending_data(root)
    data.write_bytes(bytes(len(first)))
    second_file = tmp_path / "second"
    second_file.write_bytes(second)
    reported = _run(
        f"""
        import regstore
        with regstore.create("filesystem", {{"rootdirectory": {str(root)!r}}}) as driver:
            writer = driver.writer("/blob", append=True, digest="sha256")
            writer.write(open({str(second_file)!r}, "rb").read())
            writer.close()
            print(writer.digest)
        """
    )
    assert reported == _sha256(first + second)
    with regstore.create("filesystem", {"rootdirectory": str(root)}) as driver:
        resumed = driver.writer("/blob", append=True, digest="sha256")
        assert resumed.digest == _sha256(first + second)
        resumed.cancel()


@pytest.mark.parametrize(("first", "then"), [("openssl", "rehashes"), ("rehashes", "openssl")])
def test_state_from_the_other_hash_source_is_rebuilt(tmp_path: Path, first: str, then: str) -> None:
    root = tmp_path / "registry"
    script = f"""
        import sys
        import regstore
        with regstore.create("filesystem", {{"rootdirectory": {str(root)!r}}}) as driver:
            writer = driver.writer("/blob", append=True, digest="sha256")
            writer.write(sys.argv[0].encode() * 100_000)
            writer.close()
            print(writer.digest)
        """
    one = _run(script, source=first)
    two = _run(script, source=then)
    written = b"-c" * 200_000
    assert one == _sha256(written[: len(written) // 2])
    assert two == _sha256(written), f"{then} resumed a state {first} saved"


def test_torn_state_is_rebuilt_by_reading_the_upload(tmp_path: Path) -> None:
    root = tmp_path / "registry"
    content = os.urandom(MiB + 3)
    with regstore.create("filesystem", {"rootdirectory": str(root)}) as driver:
        writer = driver.writer("/blob", digest="sha512")
        writer.write(content)
        writer.close()
        [state] = (root / "~uploads").glob("*~~state")
        state.write_bytes(state.read_bytes()[:-9] + b"\x00" * 9)
        resumed = driver.writer("/blob", append=True, digest="sha512")
        assert resumed.digest == "sha512:" + hashlib.sha512(content).hexdigest()
        resumed.commit()
        assert not list((root / "~uploads").iterdir()), "commit leaves no state behind"


class _NoHookWriter(_InMemoryWriter):
    """Keeps no hash state and cannot read a pending upload back."""

    _read_upload = FileWriter._read_upload

    def _close(self) -> None:
        self._driver._keep_pending(self.path, self._buffer, None)
        self._buffer = bytearray()


class _NoHookDriver(InMemoryDriver):
    def writer(self, path: str, append: bool = False) -> FileWriter:
        plain = super().writer(path, append)
        assert isinstance(plain, _InMemoryWriter)
        return _NoHookWriter(self, path, plain._buffer)


def test_driver_without_the_hook_refuses_a_resumed_digest_clearly() -> None:
    driver = CheckedDriver(_NoHookDriver())
    fresh = driver.writer("/blob", digest="sha256")
    fresh.write(b"abc")
    assert fresh.digest == _sha256(b"abc"), "a fresh upload needs no hook"
    fresh.close()
    with pytest.raises(regstore.UnsupportedMethodError) as caught:
        driver.writer("/blob", append=True, digest="sha256")
    message = str(caught.value)
    assert message.startswith("inmemory: ")
    assert "upload_state" in message
    assert "_read_upload" in message
    resumed = driver.writer("/blob", append=True)
    assert resumed.size == 3, "the refused resume left the upload as it was"
    resumed.cancel()


class _StateOnlyWriter(_InMemoryWriter):
    _read_upload = FileWriter._read_upload


class _StateOnlyDriver(InMemoryDriver):
    def writer(self, path: str, append: bool = False) -> FileWriter:
        plain = super().writer(path, append)
        assert isinstance(plain, _InMemoryWriter)
        return _StateOnlyWriter(self, path, plain._buffer, plain.upload_state)


def test_the_state_hook_alone_resumes_a_digest() -> None:
    driver = CheckedDriver(_StateOnlyDriver())
    writer = driver.writer("/blob", digest="sha256")
    writer.write(b"first ")
    writer.close()
    resumed = driver.writer("/blob", append=True, digest="sha256")
    resumed.write(b"second")
    resumed.commit(expected_digest=_sha256(b"first second"))
    assert driver.get_content("/blob") == b"first second"


def test_middleware_passes_digest_through() -> None:
    driver = RedirectsDisabled(regstore.create("inmemory"))
    writer = driver.writer("/blob", digest="sha256")
    writer.write(b"through")
    with pytest.raises(regstore.DigestMismatchError):
        writer.commit(expected_digest=_sha256(b"other"))
    writer.commit(expected_digest=_sha256(b"through"))
    assert driver.get_content("/blob") == b"through"


def test_missing_hash_package_names_the_install() -> None:
    out = _run(
        """
        import sys
        sys.modules["rehashes"] = None
        import regstore
        driver = regstore.create("inmemory")
        try:
            driver.writer("/blob", digest="sha256")
        except regstore.UnsupportedMethodError as error:
            print(error)
        print(driver.writer("/blob").digest)
        """,
        source="rehashes",
    )
    assert "inmemory: unsupported method: writer(digest=...) needs OpenSSL" in out
    assert 'pip install "regstore[digest]"' in out
    assert out.endswith("None"), "writers without a digest need no hash package"
