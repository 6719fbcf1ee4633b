"""``InFlight``: a writer's background calls, at most ``limit`` at a time, with a failure latch.

Writers upload parts while the caller goes on writing. Each call's payload is
held until it is sent, so the bound on calls in flight is the bound on the
writer's memory; the first failure is latched, so later writes, ``close`` and
``commit`` fail with it instead of publishing an upload with a hole.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:  # the pool is imported on first use: import regstore stays light
    from concurrent.futures import Future, ThreadPoolExecutor

__all__ = ["InFlight"]

T = TypeVar("T")


class InFlight(Generic[T]):
    """Background calls returning ``T``, in submission order; the pool starts on first use.

    ``executor`` shares a driver's pool (its size then bounds nothing: ``limit``
    does); without one, ``InFlight`` starts ``limit`` threads of its own.
    """

    def __init__(
        self, limit: int, name: str = "regstore-writer", executor: ThreadPoolExecutor | None = None
    ) -> None:
        if limit < 1:
            raise ValueError(f"an in-flight limit is at least 1, got {limit}")
        self.limit = limit
        self._name = name
        self._shared = executor
        self._own: ThreadPoolExecutor | None = None
        self._pending: deque[Future[T]] = deque()
        #: The first error of any call, kept until ``reset``.
        self.failure: BaseException | None = None

    def submit(self, call: Callable[[], T]) -> Future[T]:
        """Run ``call`` in the background; first wait for the oldest call when ``limit`` run.

        Raises the latched failure (and never starts ``call``) once any call failed.
        """
        self.make_room()
        future = self._executor().submit(call)
        self._pending.append(future)
        return future

    def make_room(self) -> None:
        """Wait for the oldest calls until fewer than ``limit`` run.

        For a call about to run outside the pool that counts against the same
        limit. Raises the latched failure, if any, as soon as it is seen.
        """
        self.check()
        while len(self._pending) >= self.limit:
            self._settle(self._pending.popleft())
            self.check()

    def wait(self) -> list[T]:
        """Wait for every call in flight and return their results in submission order.

        Raises the first failure once all have finished (the others must not be
        left writing while the caller reacts).
        """
        results: list[T] = []
        while self._pending:
            result = self._settle(self._pending.popleft())
            if self.failure is None:
                results.append(result)  # type: ignore[arg-type]
        self.check()
        return results

    def check(self) -> None:
        """Raise the latched failure, if any."""
        if self.failure is not None:
            raise self.failure

    def reset(self) -> None:
        """Forget the latched failure (after the caller rebuilt what it broke)."""
        self.failure = None

    def shutdown(self) -> None:
        """Wait for calls in flight, ignoring their errors, and stop the threads of its own."""
        while self._pending:
            self._settle(self._pending.popleft())
        if self._own is not None:
            self._own.shutdown(wait=True)
            self._own = None

    @property
    def busy(self) -> int:
        """Calls submitted and not yet waited for."""
        return len(self._pending)

    def _settle(self, future: Future[T]) -> T | None:
        try:
            return future.result()
        except Exception as exc:  # a cancelled call's CancelledError included
            if self.failure is None:
                self.failure = exc
            return None

    def _executor(self) -> ThreadPoolExecutor:
        if self._shared is not None:
            return self._shared
        if self._own is None:
            from concurrent.futures import ThreadPoolExecutor

            self._own = ThreadPoolExecutor(self.limit, thread_name_prefix=self._name)
        return self._own
