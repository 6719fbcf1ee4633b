"""regstore-azure: the Azure Blob Storage driver, ``regstore.create("azure", parameters)``."""

from __future__ import annotations

from .__about__ import __version__
from .driver import AzureDriver

__all__ = ["AzureDriver", "__version__"]
