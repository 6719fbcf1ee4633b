"""The object-store kit's own rules: the root check, key mapping, the in-flight latch, translate.

The whole contract over the kit is proved by the template driver's conformance
run (``shared-tests/test_new_driver.py``) and by the three cloud drivers; these
cases pin what a fork relies on when it calls the kit's pieces directly.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import IO

import pytest

from regstore import CheckedDriver
from regstore.driver import FileWriter
from regstore.drivers.inmemory import InMemoryDriver
from regstore.errors import DriverError, InvalidParameterError, PathNotFoundError
from regstore.inflight import InFlight
from regstore.objectstore import KeyLayout, check_rootdirectory


@pytest.mark.parametrize(
    ("given", "root"),
    [("", ""), ("/", ""), ("registry", "registry"), ("/team/registry/", "team/registry")],
)
def test_rootdirectory_accepts_plain_roots(given: str, root: str) -> None:
    assert check_rootdirectory("acme", given) == root


@pytest.mark.parametrize(
    ("given", "complaint"),
    [
        ("\x19b", "control character '\\x19' at offset 0"),
        ("team/reg\nistry", "control character '\\n' at offset 8"),
        ("a\x7f", "control character '\\x7f'"),
        ("a//b", "empty, '.' or '..' component"),
        ("a/../b", "empty, '.' or '..' component"),
    ],
)
def test_rootdirectory_refuses_what_listings_cannot_carry(given: str, complaint: str) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        KeyLayout(given, "acme")
    assert caught.value.parameter == "rootdirectory"
    assert str(caught.value).startswith("acme: parameter 'rootdirectory': ")
    assert complaint in str(caught.value)


def test_keys_map_to_paths_and_back_under_the_root() -> None:
    layout = KeyLayout("/root/", "acme")
    assert layout.key("/a/b") == "root/a/b"
    assert layout.path_of("root/a/b") == "/a/b"
    assert layout.dir_prefix("/") == "root/"
    assert layout.dir_prefix("/a") == "root/a/"
    # Keys no valid path maps to: another root, the private area, bad characters, dots.
    for key in ("rooty/a", "root/~regstore/uploads/a/~state", "root/a b", "root/a/../b", "root/."):
        assert layout.path_of(key) is None, key
    assert layout.is_private("root/~regstore/uploads/a")


def test_children_of_a_level_are_sorted_distinct_and_valid_only() -> None:
    layout = KeyLayout("r", "acme")
    names = ["r/a/b", "r/a/c/", "r/a/c/", "r/a/~regstore/", "r/a/bad name", "r/a/..", "r/a/.d"]
    assert layout.children("/a", names) == ["/a/.d", "/a/b", "/a/c"]
    assert layout.children("/a", ["r/a/x\n/a/y"]) == []


def test_listing_start_covers_every_path_after_the_marker() -> None:
    layout = KeyLayout("r", "acme")
    assert layout.listing_start("") is None
    assert layout.listing_start("/a/b") == "r/a/b"
    assert layout.listing_start("zzz") == "r/~"  # sorts after every path
    assert layout.after_every_path("zzz")
    assert not layout.after_every_path("/zzz")


def test_upload_area_names_the_path_of_each_upload() -> None:
    layout = KeyLayout("r", "acme")
    assert layout.upload_dir("/a/b") == "r/~regstore/uploads/a/b"
    assert layout.uploads_below("/") == "r/~regstore/uploads/"
    assert layout.uploads_below("/a") == "r/~regstore/uploads/a/"
    assert layout.upload_entry("r/~regstore/uploads/a/b/~state") == ("/a/b", "~state")
    assert layout.upload_entry("r/~regstore/uploads/a/b c/~state") is None


def test_in_flight_latches_the_first_failure_and_keeps_order() -> None:
    pool: InFlight[int] = InFlight(2)

    def square(n: int) -> Callable[[], int]:
        return lambda: n * n

    assert [pool.submit(square(n)) for n in range(4)][-1].result() == 9
    assert pool.wait() == [4, 9]  # the first two were settled while the last were submitted

    def boom() -> int:
        raise OSError("part 3 refused")

    pool.submit(boom)
    with pytest.raises(OSError, match="part 3 refused"):
        pool.wait()
    ran = threading.Event()
    with pytest.raises(OSError, match="part 3 refused"):
        pool.submit(lambda: ran.set() or 0)  # type: ignore[func-returns-value]
    assert not ran.is_set(), "a latched pool must not start new calls"
    pool.shutdown()


def test_in_flight_never_runs_more_than_its_limit() -> None:
    running = 0
    most = 0
    lock = threading.Lock()
    release = threading.Event()

    def part() -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        release.wait(5)
        with lock:
            running -= 1
        return 0

    with ThreadPoolExecutor(8) as shared:
        pool: InFlight[int] = InFlight(3, executor=shared)
        submitter = threading.Thread(target=lambda: [pool.submit(part) for _ in range(6)])
        submitter.start()
        submitter.join(0.5)
        assert submitter.is_alive(), "the fourth submit must wait for a free slot"
        release.set()
        submitter.join(5)
        pool.wait()
    assert most == 3


class _PartWriter(FileWriter):
    """Sends each write as a background part; the second part fails."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.parts = 0
        self.started: list[int] = []

    def _write(self, data: memoryview) -> None:
        self.parts += 1
        number = self.parts

        def upload() -> None:
            self.started.append(number)
            if number == 2:
                raise ConnectionResetError("part 2: connection reset")

        self._in_flight(1).submit(upload)

    def _close(self) -> None:
        self._in_flight(1).wait()

    def _commit(self) -> None:
        self._in_flight(1).wait()

    def _cancel(self) -> None:
        pass


def test_a_failed_part_fails_every_later_write_and_the_commit() -> None:
    writer = _PartWriter("/blob")
    writer.driver_name = "acme"
    writer.write(b"one")
    writer.write(b"two")
    with pytest.raises(DriverError, match="part 2: connection reset") as caught:
        writer.write(b"three")  # the second part failed meanwhile: nothing more is taken
    assert str(caught.value).startswith("acme: ")
    assert writer.started == [1, 2], "no part may start after one failed"
    assert writer.size == 6
    with pytest.raises(DriverError, match="part 2"):
        writer.commit()


class _BackendMissing(Exception):
    """What a backend SDK raises for a missing object."""


class _MappingDriver(InMemoryDriver):
    """An in-memory driver whose "SDK" raises its own errors, mapped by ``translate`` alone."""

    def translate(self, exc: Exception, operation: str, path: str | None) -> Exception | None:
        if isinstance(exc, _BackendMissing):
            return PathNotFoundError(path or "?")
        return None

    def stat(self, path: str):  # type: ignore[no-untyped-def]
        if path == "/gone":
            raise _BackendMissing(path)
        return super().stat(path)

    def reader(self, path: str, offset: int = 0) -> IO[bytes]:
        inner = super().reader(path, offset)

        class Cut:
            def read(self, size: int = -1) -> bytes:
                raise _BackendMissing(path)

            def close(self) -> None:
                inner.close()

        return Cut()  # type: ignore[return-value]

    def walk(self, path: str, **options: object) -> Iterator:  # type: ignore[type-arg]
        yield from super().walk(path, **options)  # type: ignore[arg-type]
        raise _BackendMissing(path)


def test_translate_maps_backend_errors_of_methods_readers_and_iterators() -> None:
    driver = CheckedDriver(_MappingDriver())
    driver.put_content("/a/b", b"x")
    with pytest.raises(PathNotFoundError) as caught:
        driver.stat("/gone")
    assert str(caught.value) == "inmemory: path not found: /gone"
    with driver.reader("/a/b") as stream, pytest.raises(PathNotFoundError, match="/a/b"):
        stream.read()
    with pytest.raises(PathNotFoundError, match="inmemory: path not found: /a"):
        list(driver.walk("/a"))


def test_unclaimed_errors_become_driver_errors_naming_the_operation() -> None:
    driver = CheckedDriver(_MappingDriver())

    class Odd(InMemoryDriver):
        def get_content(self, path: str) -> bytes:
            raise RuntimeError("socket closed")

    with pytest.raises(DriverError, match=r"^inmemory: get_content /x failed: socket closed$"):
        CheckedDriver(Odd()).get_content("/x")
    with pytest.raises(PathNotFoundError):
        driver.get_content("/missing")


def test_a_mapped_reader_refuses_bad_sizes_as_a_file_object_does() -> None:
    class Mapping(InMemoryDriver):
        def translate(self, exc: Exception, operation: str, path: str | None) -> Exception | None:
            return DriverError(f"mapped {exc!r}")

        def reader(self, path: str, offset: int = 0) -> IO[bytes]:
            return io.BufferedReader(super().reader(path, offset))  # type: ignore[type-var]

    driver = CheckedDriver(Mapping())
    driver.put_content("/a", b"xyz")
    with driver.reader("/a") as mapped:
        assert type(mapped).__name__ == "TranslatingReader"
        with pytest.raises(ValueError) as caught:
            mapped.read(-2)  # io's rule for buffered files: -1 or more
        assert not isinstance(caught.value, DriverError)
        assert mapped.read() == b"xyz"
