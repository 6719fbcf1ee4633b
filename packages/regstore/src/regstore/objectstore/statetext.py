"""A pending upload's hash state as text, for backends that keep it in metadata or JSON.

``FileWriter.upload_state`` is opaque bytes; HTTP metadata headers and JSON
carry ASCII only, so drivers keep it base64. A state that does not decode
costs only the hash: the core then reads the upload back where it can.
"""

from __future__ import annotations

import base64
import binascii

__all__ = ["state_from_text", "state_to_text"]


def state_to_text(state: bytes | None, max_length: int | None = None) -> str | None:
    """``state`` as base64; None when there is none, or it would exceed ``max_length``."""
    if not state:
        return None
    text = base64.b64encode(state).decode("ascii")
    if max_length is not None and len(text) > max_length:
        return None
    return text


def state_from_text(text: object) -> bytes | None:
    """The state ``state_to_text`` gave; None for no text or text that is not base64.

    The core checks the bytes (algorithm, size, checksum) before it uses them.
    """
    if not isinstance(text, str) or not text:
        return None
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
