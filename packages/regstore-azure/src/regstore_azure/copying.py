"""Waiting for a server-side copy (``start_copy_from_url``) to leave the pending state."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["CopyState", "wait_for_copy"]


@dataclass(frozen=True)
class CopyState:
    """A copy's status (``pending``, ``success``, ``aborted``, ``failed``) and its description."""

    status: str
    description: str | None = None


def wait_for_copy(
    poll: Callable[[], CopyState],
    *,
    max_retries: int,
    retry_delay: float,
    sleep: Callable[[float], None] = time.sleep,
) -> CopyState:
    """Poll until the copy is no longer pending, at most ``max_retries`` times.

    Waits grow linearly (``retry_delay`` times the attempt number), as the Go
    driver does. Returns the last state seen, ``pending`` if it never changed.
    """
    state = CopyState("pending")
    for attempt in range(1, max_retries + 1):
        sleep(retry_delay * attempt)
        state = poll()
        if state.status != "pending":
            return state
    return state
