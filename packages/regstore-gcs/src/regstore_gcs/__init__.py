"""regstore-gcs: the Google Cloud Storage driver for regstore.

Installed, it registers the driver name ``gcs`` with ``regstore.create``::

    import regstore
    driver = regstore.create("gcs", {"bucket": "my-registry", "rootdirectory": "/registry"})
"""

from __future__ import annotations

from .__about__ import __version__
from .driver import GCSDriver

__all__ = ["GCSDriver", "__version__"]
