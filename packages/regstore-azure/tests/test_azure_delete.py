"""delete: Blob Batch requests of up to 256 deletes, and single deletes where batches fail."""

from __future__ import annotations

import pytest
from azure_helpers import Answer, DriverFactory, Interceptor

from regstore import PathNotFoundError

BATCH = r"comp=batch"
FEATURE_NOT_SUPPORTED: Answer = (
    400,
    {"x-ms-error-code": "FeatureNotSupported", "Content-Type": "application/xml"},
    b'<?xml version="1.0" encoding="utf-8"?><Error><Code>FeatureNotSupported</Code>'
    b"<Message>Blob batch is not supported.</Message></Error>",
)


def test_deletes_go_in_batches_of_256(make_driver: DriverFactory, interceptor: Interceptor) -> None:
    driver = make_driver(serviceurl=interceptor.url)
    for index in range(300):
        driver.put_content(f"/many/{index // 50}/{index}", b"")
    driver.put_content("/many-other/file", b"kept")
    driver.delete("/many")
    # 301 names (the path itself is tried as a file too): two batch requests.
    assert len(interceptor.requests("POST", BATCH)) == 2
    assert interceptor.requests("DELETE") == []
    with pytest.raises(PathNotFoundError):
        driver.list("/many")
    assert driver.get_content("/many-other/file") == b"kept"


def test_accounts_without_batches_get_single_deletes(
    make_driver: DriverFactory, interceptor: Interceptor
) -> None:
    driver = make_driver(serviceurl=interceptor.url)
    for index in range(20):
        driver.put_content(f"/dir/{index}", b"x")
    interceptor.answer = lambda method, target: (
        FEATURE_NOT_SUPPORTED if method == "POST" and "comp=batch" in target else None
    )
    driver.delete("/dir")
    assert len(interceptor.requests("POST", BATCH)) == 1
    # The 20 files; the folder has no blob of its own (looked up, not deleted).
    assert _deleted_names(interceptor) == {str(index) for index in range(20)}
    with pytest.raises(PathNotFoundError):
        driver.stat("/dir")
    driver.put_content("/again/file", b"x")
    driver.delete("/again")
    assert len(interceptor.requests("POST", BATCH)) == 1  # batches are not tried again


def test_a_failed_batch_is_retried_as_single_deletes(
    make_driver: DriverFactory, interceptor: Interceptor
) -> None:
    driver = make_driver(serviceurl=interceptor.url)
    for index in range(5):
        driver.put_content(f"/dir/{index}", b"x")
    failures = iter([(500, {"x-ms-error-code": "InternalError"}, b"")])
    interceptor.answer = lambda method, target: (
        next(failures, None) if method == "POST" and "comp=batch" in target else None
    )
    driver.delete("/dir")
    assert len(interceptor.requests("POST", BATCH)) == 1  # not retried as a batch
    # One per file: the folder has no blob of its own.
    assert _deleted_names(interceptor) == {str(index) for index in range(5)}
    driver.put_content("/dir2/file", b"x")
    driver.put_content("/dir2/other", b"x")  # two names: one is sent as a single delete
    driver.delete("/dir2")
    assert len(interceptor.requests("POST", BATCH)) == 2  # a 500 does not disable batches
    with pytest.raises(PathNotFoundError):
        driver.stat("/dir")


def _deleted_names(interceptor: Interceptor) -> set[str]:
    """The names below ``/dir`` that single DELETE requests went to.

    A set: on a loaded machine the SDK sends a DELETE again when its answer is
    slow, and that retry is the SDK's, not a second delete of the driver's.
    """
    names = set()
    for target in interceptor.requests("DELETE"):
        container_path = target.split("?", 1)[0]
        assert "/dir/" in container_path, f"a DELETE outside the folder: {target}"
        names.add(container_path.rsplit("/dir/", 1)[1])
    return names
