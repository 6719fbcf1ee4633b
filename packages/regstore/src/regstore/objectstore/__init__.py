"""The kit for object-store drivers: a key layout, the namespace over four primitives, uploads.

``ObjectStoreDriver`` gives ``stat``, ``list``, ``walk``, ``delete`` and signed
redirects over a backend's ``head_object``, ``list_objects``, ``list_level``
and ``delete_objects``; ``KeyLayout`` maps paths to keys under
``rootdirectory`` and names the private area; ``StagedObjectStore`` adds the
content methods and resumable uploads over ``get_object`` and ``put_object``
alone. See docs/writing-a-driver.md.
"""

from __future__ import annotations

from .base import ObjectEntry, ObjectStoreDriver
from .layout import PRIVATE_AREA, KeyLayout, check_rootdirectory
from .staged import StagedObjectStore, StagedWriter

__all__ = [
    "PRIVATE_AREA",
    "KeyLayout",
    "ObjectEntry",
    "ObjectStoreDriver",
    "StagedObjectStore",
    "StagedWriter",
    "check_rootdirectory",
]
