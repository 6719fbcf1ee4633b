"""The conformance suite against the drivers that ship with the core, sync and through aio."""

from __future__ import annotations

from regstore.testsuite.binding import BackendSuite


class TestInMemory(BackendSuite):
    backend = "inmemory"


class TestFilesystem(BackendSuite):
    backend = "filesystem"


class TestInMemoryAsync(TestInMemory):
    """The suite through ``regstore.aio``: every call awaited on an event-loop thread."""

    asynchronous = True


class TestFilesystemAsync(TestFilesystem):
    """The suite through ``regstore.aio``, two async drivers over one root."""

    asynchronous = True
