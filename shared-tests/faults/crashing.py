"""Run a scenario in a child process and SIGKILL it at a chosen moment.

Children come from a ``forkserver`` that has already imported regstore and the
SDKs, so a round costs a fork, not an interpreter start, and the kill lands in
the scenario rather than in imports: the delay counts from the child's
``("ready",)``.
"""

from __future__ import annotations

import multiprocessing
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from regstore.testsuite.backends import declared_backends

from . import crash_worker

__all__ = ["Crasher", "Outcome"]

#: What the fork server imports once: the worker, the core, and each declared backend's driver.
PRELOAD = list(
    dict.fromkeys(
        [
            "faults.crash_worker",
            "regstore",
            *(module for backend in declared_backends() for module in backend.preload),
        ]
    )
)
STARTUP_SECONDS = 60.0


@dataclass
class Outcome:
    """What one child said before it died, and how it died."""

    messages: list[tuple[Any, ...]] = field(default_factory=list)
    #: Arrival of each report after ``ready``, in seconds (while the parent followed).
    times: list[float] = field(default_factory=list)
    killed: bool = False
    seconds: float = 0.0

    def last(self, kind: str) -> Any:
        """The value of the last message of ``kind``, or None."""
        values = [message[1] for message in self.messages if message[0] == kind]
        return values[-1] if values else None

    def said(self, kind: str) -> bool:
        return any(message[0] == kind for message in self.messages)


class Crasher:
    """Starts children from a preloaded forkserver and kills them on cue."""

    def __init__(self) -> None:
        self.context = multiprocessing.get_context("forkserver")
        # Only the first call in a process counts: the forkserver starts once.
        self.context.set_forkserver_preload(PRELOAD)

    def run(
        self,
        spec: dict[str, Any],
        task: dict[str, Any],
        kill_after: float | None,
        *,
        after_messages: int = 0,
        entry: Callable[[dict[str, Any], dict[str, Any], Connection], None] = crash_worker.run,
    ) -> Outcome:
        """Run ``task`` in a child and SIGKILL it ``kill_after`` seconds after its
        ``after_messages``-th report (0: after it is ready); None lets it finish.
        """
        reader, writer = self.context.Pipe(duplex=False)
        child = self.context.Process(target=entry, args=(spec, task, writer), daemon=True)
        child.start()
        writer.close()
        outcome = Outcome()
        try:
            if not reader.poll(STARTUP_SECONDS):
                raise AssertionError("the child did not start in time")
            outcome.messages.append(reader.recv())
            if outcome.messages[0][0] != "ready":
                raise AssertionError(f"the child failed to start: {outcome.messages[0]}")
            started = time.monotonic()
            wanted = after_messages if kill_after is not None else None
            self._follow(reader, outcome, started, wanted)
            if kill_after is not None:
                child.join(kill_after)
                child.kill()
            child.join(STARTUP_SECONDS)
            outcome.seconds = time.monotonic() - started
        finally:
            if child.is_alive():
                child.kill()
                child.join(10)
            self._follow(reader, outcome, None, None)
            reader.close()
        outcome.killed = child.exitcode == -signal.SIGKILL
        errors = [message[1] for message in outcome.messages if message[0] == "error"]
        if errors:
            raise AssertionError(f"the child failed before the kill:\n{errors[0]}")
        if not outcome.killed and not outcome.said("done"):
            raise AssertionError(f"the child exited with {child.exitcode} before finishing")
        return outcome

    @staticmethod
    def _follow(
        reader: Connection, outcome: Outcome, started: float | None, wanted: int | None
    ) -> None:
        """Read reports as they come: ``wanted`` of them (None: until the child is gone).

        With ``started``, each report's arrival time (seconds after ready) is kept.
        """
        count = 0
        while wanted is None or count < wanted:
            if not reader.poll(STARTUP_SECONDS if started is not None else 0):
                return
            try:
                message = reader.recv()
            except EOFError:
                return
            outcome.messages.append(message)
            if started is not None:
                outcome.times.append(time.monotonic() - started)
            count += 1
            if message[0] in ("done", "error"):
                return
