"""A minimal OCI distribution registry (push and pull) over ``regstore.aio``.

It stores what the CNCF distribution registry stores, where it stores it
(``/docker/registry/v2/...``), so either server can serve what the other wrote.
``create_app`` builds the aiohttp application; ``python -m regstore_registry``
runs it.
"""

from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]
