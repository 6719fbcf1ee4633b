"""What every handler needs: the storage, and where upload ``Location`` headers point."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from .storage import Storage

__all__ = ["SETTINGS", "Settings", "settings"]


@dataclass
class Settings:
    """The application's state; ``upload_url`` is the base URL of upload ``Location`` headers.

    ``upload_url`` None: the origin the client used. Set it to another
    server over the same store to hand uploads over to it.
    """

    storage: Storage | None = None
    upload_url: str | None = None

    def store(self) -> Storage:
        """The storage, once the application has started."""
        if self.storage is None:
            raise RuntimeError("the registry's storage is opened when the application starts")
        return self.storage


SETTINGS = web.AppKey("settings", Settings)


def settings(request: web.Request) -> Settings:
    """The settings of the application serving ``request``."""
    return request.app[SETTINGS]
