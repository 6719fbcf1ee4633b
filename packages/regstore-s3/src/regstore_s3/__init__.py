"""regstore-s3: the S3 storage driver for regstore (Amazon S3 and S3-compatible servers).

Installed with ``pip install "regstore[s3]"`` and built by name::

    import regstore
    driver = regstore.create("s3", {"bucket": "registry", "region": "us-east-1"})
"""

from __future__ import annotations

from .__about__ import __version__
from .driver import S3AWSDriver, S3Driver

__all__ = ["S3AWSDriver", "S3Driver", "__version__"]
