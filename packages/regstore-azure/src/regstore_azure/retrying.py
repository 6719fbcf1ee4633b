"""The SDK's exponential retry policy, extended to 429 answers and ``Retry-After``.

azure-storage-blob's policy treats every 4xx answer but 408 as final, so a
``429 Too Many Requests`` (from a gateway in front of the account, or an
account-level limit) failed the call at once; and it ignores ``Retry-After``,
so a throttled request was retried sooner than the service asked. The SDK's
``send`` decides with a module-level check that cannot be overridden, so
``send`` is written again here, as a short loop over the policy's own
methods (``increment`` with its counters and body rewinds, the retry hook,
``get_backoff_time``); only which answers are retried and how long to wait
before them differ.
"""

from __future__ import annotations

import time
from typing import Any

from azure.core.exceptions import AzureError
from azure.core.pipeline import PipelineContext, PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import RetryPolicy
from azure.storage.blob import ExponentialRetry

# A request that could not be signed fails the same way every time; the SDK's
# own loop does not retry it either (it has no public name).
from azure.storage.blob._shared.authentication import AzureSigningError

__all__ = ["MAX_RETRY_AFTER", "ThrottleAwareRetry", "retries_done"]

#: The longest ``Retry-After`` wait honoured (a longer one is cut to this).
MAX_RETRY_AFTER = 60.0
#: Answers a retry can help: timeouts, throttling and server errors (not
#: ``501 Not Implemented`` or ``505 HTTP Version Not Supported``).
_FINAL_SERVER_ERRORS = frozenset({501, 505})
_TRANSIENT_COPY_SOURCE_CODES = frozenset({"OperationTimedOut", "InternalError", "ServerBusy"})
#: Attribute set on a failed answer or error: how many retries came before it.
_RETRIES_ATTRIBUTE = "regstore_retries_done"
#: azure-core's parser of ``Retry-After`` (seconds or HTTP date, and the ``-ms`` variants).
_RETRY_AFTER = RetryPolicy()


def retryable(response: Any) -> bool:
    """Whether an HTTP answer is worth retrying: 408, 429, 5xx but 501/505, a busy copy source."""
    status = int(response.status_code)
    if status in (408, 429):
        return True
    if status >= 500:
        return status not in _FINAL_SERVER_ERRORS
    if status >= 400:
        code = response.headers.get("x-ms-copy-source-error-code")
        return code in _TRANSIENT_COPY_SOURCE_CODES
    return False


def retries_done(failure: object) -> int | None:
    """How many retries preceded a failed answer or error (None: not known).

    ``failure`` is an SDK exception or the HTTP response it carries.
    """
    for candidate in (failure, getattr(failure, "response", None)):
        done = getattr(candidate, _RETRIES_ATTRIBUTE, None)
        if isinstance(done, int):
            return done
    return None


class ThrottleAwareRetry(ExponentialRetry):
    """``ExponentialRetry`` that also retries 429 and waits at least what ``Retry-After`` asks."""

    def get_backoff_time(self, settings: dict[str, Any]) -> float:
        """The exponential backoff, or the last answer's ``Retry-After`` if that is longer."""
        backoff = float(super().get_backoff_time(settings))
        history = settings.get("history") or []
        last = history[-1].http_response if history else None
        if last is None:
            return backoff
        asked = _RETRY_AFTER.get_retry_after(
            PipelineResponse(last.request, last, PipelineContext(None))
        )
        if asked is None:
            return backoff
        return max(backoff, min(asked, MAX_RETRY_AFTER))

    def send(self, request: PipelineRequest[Any]) -> PipelineResponse[Any, Any]:
        """Send ``request``, retrying transient answers and errors as the settings allow."""
        settings = self.configure_retries(request)
        while True:
            try:
                response = self.next.send(request)
            except AzureError as error:
                if isinstance(error, AzureSigningError):
                    raise
                if not self._again(settings, request, None, error):
                    setattr(error, _RETRIES_ATTRIBUTE, settings["count"])
                    raise
                continue
            if retryable(response.http_response) and self._again(
                settings, request, response.http_response, None
            ):
                continue
            break
        if settings["history"]:
            response.context["history"] = settings["history"]
        response.http_response.location_mode = settings["mode"]
        setattr(response.http_response, _RETRIES_ATTRIBUTE, settings["count"])
        return response

    def _again(
        self,
        settings: dict[str, Any],
        request: PipelineRequest[Any],
        answer: Any,
        error: AzureError | None,
    ) -> bool:
        """Count one failed attempt; if retries remain, call the retry hook, wait, and say so."""
        if not self.increment(settings, request=request.http_request, response=answer, error=error):
            return False
        hook = settings["hook"]
        if hook:
            hook(
                retry_count=settings["count"] - 1,
                location_mode=settings["mode"],
                request=request.http_request,
                response=answer,
                error=error,
            )
        backoff = self.get_backoff_time(settings)
        if backoff > 0:
            time.sleep(backoff)  # the sync transport's sleep
        return True
