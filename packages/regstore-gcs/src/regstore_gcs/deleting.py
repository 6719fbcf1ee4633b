"""Delete many objects: JSON batch requests where the server has them, else parallel singles.

Real GCS and gcp-storage-emulator answer ``POST /batch/storage/v1`` with a
multipart response; fake-gcs-server has no batch endpoint and answers with a
plain body. The first batch that comes back as anything but a multipart
response switches this deleter to bounded-concurrency single deletes for the
rest of its life, so no parameter is needed to pick the mode. A batch that
fails in transit (a reset connection, a lost answer) is finished by single
deletes too: deleting is idempotent, so objects the batch already removed are
simply found gone.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from concurrent.futures import Executor, wait

import requests
from google.api_core import exceptions as api
from google.api_core.retry import Retry
from google.cloud import storage

__all__ = ["BATCH_LIMIT", "Deleter"]

#: Calls GCS accepts in one batch request.
BATCH_LIMIT = 100


class Deleter:
    """Deletes object names in one bucket; objects already gone are not an error."""

    def __init__(
        self,
        client: storage.Client,
        bucket: storage.Bucket,
        executor: Executor,
        *,
        retry: Retry,
        use_batches: bool = True,
    ) -> None:
        self._client = client
        self._bucket = bucket
        self._executor = executor
        self._retry = retry
        self._lock = threading.Lock()
        self._use_batches = use_batches

    @property
    def batches(self) -> bool:
        """True while batch requests are in use (False once the server lacked them)."""
        with self._lock:
            return self._use_batches

    def delete(self, names: Sequence[str]) -> None:
        """Delete every name; raise the first failure other than "already gone"."""
        self.delete_versions([(name, None) for name in names])

    def delete_versions(self, objects: Sequence[tuple[str, int | None]]) -> None:
        """Delete each ``(name, generation)``; a generation other than the live one is left alone.

        With a generation the delete is conditional (``ifGenerationMatch``): an
        object written again since it was listed is someone else's now, so its
        precondition failure is skipped like "already gone". None deletes
        whatever is there.
        """
        if len(objects) == 1:
            self._delete_one(*objects[0])
            return
        groups = [
            objects[start : start + BATCH_LIMIT] for start in range(0, len(objects), BATCH_LIMIT)
        ]
        for group in groups:
            if self.batches and len(group) > 1 and self._delete_batch(group):
                continue
            self._delete_singles(group)

    def _delete_batch(self, objects: Sequence[tuple[str, int | None]]) -> bool:
        """Delete ``objects`` in one batch request; False when singles must finish the job."""
        try:
            with self._client.batch(raise_exception=True):
                for name, generation in objects:
                    self._bucket.blob(name).delete(retry=None, if_generation_match=generation)
        except ValueError as exc:
            if "multi-part" in str(exc):
                # "Bad response: not multi-part": the server has no batch endpoint.
                with self._lock:
                    self._use_batches = False
            return False  # else an answer garbled in transit: singles finish the job
        except api.GoogleAPICallError:
            # Some call failed (often: already gone). Singles retry transient
            # failures, skip the gone ones and report the rest exactly.
            return False
        except (requests.RequestException, ConnectionError):
            # The batch request or its answer was lost in transit: some, all or none
            # of its deletes happened, and singles (which skip the gone) finish the job.
            return False
        return True

    def _delete_singles(self, objects: Sequence[tuple[str, int | None]]) -> None:
        futures = [self._executor.submit(self._delete_one, *item) for item in objects]
        wait(futures)
        for future in futures:
            future.result()  # the first failure, once every delete has finished

    def _delete_one(self, name: str, generation: int | None = None) -> None:
        with contextlib.suppress(api.NotFound, api.PreconditionFailed):
            self._bucket.blob(name).delete(retry=self._retry, if_generation_match=generation)
