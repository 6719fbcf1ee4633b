"""Maintenance of a distribution registry's v2 storage layout through any storage driver.

``RegistryStore`` answers the catalog and tag lists from storage;
``regstore.registry.gc.collect`` is the registry's ``garbage-collect`` with a
grace period for online use; ``regstore.registry.verify.verify`` checks
content and links; ``regstore.registry.uploads.purge_registry_uploads`` is the
registry's upload purger as a one-shot call.
"""

from __future__ import annotations

from .layout import DEFAULT_ROOT, Layout
from .store import RegistryStore, RepositoryNotFoundError

__all__ = ["DEFAULT_ROOT", "Layout", "RegistryStore", "RepositoryNotFoundError"]
