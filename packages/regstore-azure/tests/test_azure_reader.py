"""reader: ranged downloads fetched as the stream is read, never the whole blob at once."""

from __future__ import annotations

import re

from azure_helpers import DriverFactory, Interceptor, MiB, stream_bytes

from regstore import StorageDriver


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
    assert re.fullmatch(r"<_io\.BufferedReader.*>", repr(driver.reader("/lines")))
