"""Server-side copies for ``move``: one CopyObject, or a parallel multipart copy.

Objects up to ``multipartcopythresholdsize`` are copied with one CopyObject
(which S3 allows up to 5 GiB); larger ones with ``UploadPartCopy`` ranges of
``multipartcopychunksize``, at most ``multipartcopymaxconcurrency`` at once.
Every request is conditional on the source's ETag, so a source replaced during
the copy fails it instead of mixing two versions. A failed multipart copy is
aborted: nothing is left behind.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from .uploads import complete_upload

if TYPE_CHECKING:
    from .bucket import Bucket

__all__ = ["server_side_copy"]

LOGGER = logging.getLogger("regstore_s3")


def server_side_copy(driver: Bucket, source: str, dest: str, size: int, etag: str) -> None:
    """Copy the object at ``source`` (``size`` bytes, ``etag``) to ``dest`` inside the bucket."""
    config = driver.config
    copy_source = {"Bucket": driver.bucket, "Key": driver.layout.key(source)}
    if size <= config.multipartcopythresholdsize:
        driver.client.copy_object(
            Bucket=driver.bucket,
            Key=driver.layout.key(dest),
            CopySource=copy_source,
            CopySourceIfMatch=etag,
            **config.write_arguments(),
        )
        return
    _multipart_copy(driver, source, dest, size, etag, copy_source)


def _multipart_copy(
    driver: Bucket, source: str, dest: str, size: int, etag: str, copy_source: dict[str, str]
) -> None:
    config, client, bucket = driver.config, driver.client, driver.bucket
    dest_key = driver.layout.key(dest)
    chunk = config.multipartcopychunksize
    ranges = [(start, min(start + chunk, size) - 1) for start in range(0, size, chunk)]
    upload_id = client.create_multipart_upload(
        Bucket=bucket, Key=dest_key, **config.write_arguments()
    )["UploadId"]

    def copy_part(number: int, first: int, last: int) -> str:
        answer = client.upload_part_copy(
            Bucket=bucket,
            Key=dest_key,
            UploadId=upload_id,
            PartNumber=number,
            CopySource=copy_source,
            CopySourceRange=f"bytes={first}-{last}",
            CopySourceIfMatch=etag,
        )
        return str(answer["CopyPartResult"]["ETag"])

    workers = min(config.multipartcopymaxconcurrency, len(ranges))
    pool = ThreadPoolExecutor(workers, thread_name_prefix="regstore-s3-copy")
    try:
        futures = [
            pool.submit(copy_part, number, first, last)
            for number, (first, last) in enumerate(ranges, start=1)
        ]
        etags = [future.result() for future in futures]
        complete_upload(client, bucket, dest_key, dest, upload_id, etags)
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        try:
            driver.uploads.abort(dest, upload_id)
        except (ClientError, BotoCoreError) as exc:
            LOGGER.warning("could not abort the failed copy to %s: %s", dest, exc)
        raise
    finally:
        pool.shutdown(wait=True)
