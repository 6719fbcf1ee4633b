"""regstore-skeleton: the skeleton storage driver for regstore.

Installed, it registers the driver name ``skeleton`` with ``regstore.create``::

    import regstore
    driver = regstore.create("skeleton", {"bucket": "registry", "rootdirectory": "/registry"})
"""

from __future__ import annotations

from .__about__ import __version__
from .driver import SkeletonDriver

__all__ = ["SkeletonDriver", "__version__"]
