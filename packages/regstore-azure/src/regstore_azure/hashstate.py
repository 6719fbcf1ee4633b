"""The digest hash state of a pending upload, kept as metadata of its staging blob.

A ``close`` commits the staging blob's block list with one ``Put Block List``;
the hash state (``FileWriter.upload_state``, opaque bytes) rides on that same
request as one metadata entry, so keeping it costs no request of its own, and
the state and the block list it belongs to are committed together, atomically.
A ``Put Block List`` without metadata drops an earlier state with the old list.

Metadata values travel as HTTP headers: ASCII only, so the state is base64.
Azure allows 8 KiB of metadata per blob (names and values together); a state
that would not fit is not kept, and a resumed writer then reads the upload back.
"""

from __future__ import annotations

from collections.abc import Mapping

from regstore.objectstore.statetext import state_from_text, state_to_text

__all__ = ["METADATA_KEY", "MAX_ENCODED", "state_from_metadata", "state_metadata"]

#: The metadata name (a C# identifier, lowercase as Azure returns names).
METADATA_KEY = "regstorehashstate"
#: Azure's limit on a blob's metadata, names and values together.
METADATA_LIMIT = 8 * 1024
#: The longest base64 value kept under ``METADATA_KEY``.
MAX_ENCODED = METADATA_LIMIT - len(METADATA_KEY)


def state_metadata(state: bytes | None) -> dict[str, str] | None:
    """The metadata that keeps ``state`` (None: none to keep, or too large for Azure)."""
    encoded = state_to_text(state, MAX_ENCODED)
    return None if encoded is None else {METADATA_KEY: encoded}


def state_from_metadata(metadata: Mapping[str, str] | None) -> bytes | None:
    """The state kept in a staging blob's metadata, or None when it holds none that decodes.

    The core checks the bytes before it uses them (algorithm, size, checksum).
    """
    if not metadata:
        return None
    # Names are case-insensitive on the service; look the key up regardless of case.
    encoded = next(
        (value for name, value in metadata.items() if name.lower() == METADATA_KEY), None
    )
    return state_from_text(encoded)
