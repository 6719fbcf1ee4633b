"""The conformance suite against the S3 driver, on moto and on Ceph radosgw.

Each test gets a fresh bucket and root from the package's test backends
(``regstore_s3.testing``); the leftovers check lists upload state and tail
objects under ``~regstore/`` and open multipart uploads.
"""

from __future__ import annotations

from regstore.testsuite.binding import BackendSuite


class TestS3Moto(BackendSuite):
    backend = "s3-moto"


class TestS3Radosgw(BackendSuite):
    backend = "s3-rgw"


class TestS3MotoAsync(TestS3Moto):
    """The suite through ``regstore.aio`` on moto."""

    asynchronous = True
