"""reader: ranged downloads fetched as the stream is read, never the whole blob at once."""

from __future__ import annotations

import io
import re
import sys

import pytest
from azure.storage.blob import ContainerClient
from azure_helpers import DriverFactory, Interceptor, MiB, stream_bytes

from regstore import DriverError, StorageDriver


def ranges_read(interceptor: Interceptor) -> int:
    return len(interceptor.requests("GET", r"/big$"))


def test_reading_the_start_of_a_large_blob_fetches_one_range(
    make_driver: DriverFactory, interceptor: Interceptor
) -> None:
    driver = make_driver(serviceurl=interceptor.url)
    content = b"".join(stream_bytes(6, 0, 10 * MiB))
    driver.put_content("/big", content)
    with driver.reader("/big", 1000) as stream:
        assert stream.read(10) == content[1000:1010]
        assert ranges_read(interceptor) == 1  # one 4 MiB range, not 10 MiB
        rest = stream.read()
    assert rest == content[1010:]
    assert ranges_read(interceptor) == 3  # ceil((10 MiB - 1000) / 4 MiB)


def test_offsets_at_and_past_the_end(driver: StorageDriver) -> None:
    driver.put_content("/empty", b"")
    driver.put_content("/file", b"abc")
    for path, offset in (("/empty", 0), ("/empty", 5), ("/file", 3), ("/file", 4)):
        with driver.reader(path, offset) as stream:
            assert stream.read() == b""
    assert driver.reader("/file", 2).read() == b"c"


def test_the_stream_is_a_binary_file_object(driver: StorageDriver) -> None:
    driver.put_content("/lines", b"one\ntwo\nthree")
    with driver.reader("/lines") as stream:
        assert stream.readable()
        assert list(stream) == [b"one\n", b"two\n", b"three"]
    assert stream.closed
    with driver.reader("/lines") as stream:
        assert isinstance(stream, io.BufferedIOBase)
        shown = repr(stream)
        assert "http" not in shown  # no URL
        assert "sig=" not in shown  # no signature


def replace_at_range(
    interceptor: Interceptor, container: ContainerClient, versions: list[bytes], every: int
) -> None:
    """Before every ``every``-th range read of ``/big``, put the next of ``versions`` in its place.

    A GET asking for the same range as the one before is the SDK's retry of
    it (an answer slower than its timeout on a busy machine), not a new range.
    """
    count = 0
    last_range: str | None = None

    def observe(method: str, target: str, headers: dict[str, str]) -> None:
        nonlocal count, last_range
        if method == "GET" and re.search(r"/big$", target):
            asked = next((v for k, v in headers.items() if k.lower() == "x-ms-range"), None)
            if asked is not None and asked == last_range:
                return
            last_range = asked
            count += 1
            if count % every == 0 and versions:
                container.get_blob_client("big").upload_blob(versions.pop(0), overwrite=True)

    interceptor.observe = observe


def test_get_content_of_a_blob_replaced_between_ranges_is_the_new_version(
    make_driver: DriverFactory, interceptor: Interceptor, container: ContainerClient
) -> None:
    driver = make_driver(serviceurl=interceptor.url)
    old, new = b"".join(stream_bytes(10, 0, 9 * MiB)), b"".join(stream_bytes(11, 0, 5 * MiB))
    driver.put_content("/big", old)
    replace_at_range(interceptor, container, [new], every=2)
    assert driver.get_content("/big") == new
    # Two ranges of the old version (the second refused), then two of the new.
    assert ranges_read(interceptor) == 4


def test_get_content_gives_up_on_a_blob_replaced_again_and_again(
    make_driver: DriverFactory, interceptor: Interceptor, container: ContainerClient
) -> None:
    driver = make_driver(serviceurl=interceptor.url)
    versions = [b"".join(stream_bytes(seed, 0, 5 * MiB)) for seed in range(12, 19)]
    driver.put_content("/big", versions.pop())
    replace_at_range(interceptor, container, versions, every=2)
    with pytest.raises(DriverError, match=r"/big was replaced 5 times while it was read"):
        driver.get_content("/big")


def test_a_reader_of_a_blob_replaced_between_ranges_raises_driver_error(
    make_driver: DriverFactory, interceptor: Interceptor, container: ContainerClient
) -> None:
    driver = make_driver(serviceurl=interceptor.url)
    old, new = b"".join(stream_bytes(20, 0, 9 * MiB)), b"".join(stream_bytes(21, 0, 9 * MiB))
    driver.put_content("/big", old)
    replace_at_range(interceptor, container, [new], every=2)
    read = bytearray()

    def read_all() -> None:
        with driver.reader("/big") as stream:
            while chunk := stream.read(MiB):
                read.extend(chunk)

    with pytest.raises(DriverError) as caught:
        read_all()
    assert re.fullmatch(
        r"azure: /big was replaced while it was read \(at byte 4194304\); read it again",
        str(caught.value),
    )
    assert bytes(read) == old[: len(read)]  # never a byte of the new version


@pytest.mark.parametrize("size", [2**31, 2**40, 2**62, sys.maxsize])
def test_huge_read_sizes_return_the_rest(driver: StorageDriver, size: int) -> None:
    content = b"".join(stream_bytes(22, 0, 5 * MiB))
    driver.put_content("/file", content)
    with driver.reader("/file", 10) as stream:
        assert stream.read1(size)  # some bytes, never an allocation of ``size``
    with driver.reader("/file", 10) as stream:
        assert stream.read(100) == content[10:110]
        assert stream.read(size) == content[110:]
        assert stream.read(size) == b""
