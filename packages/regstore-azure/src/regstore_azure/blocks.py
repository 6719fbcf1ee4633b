"""Block sizes and block ids for uploads staged as block blobs.

A block blob holds at most 50,000 committed blocks. A stream's total size is
unknown while it is written, so each block is sized from the bytes before it:
1/2000 of them, between 4 MiB and 100 MiB. Memory stays at one block per
writer, a 5 GiB upload takes 1,280 blocks, and about 4.2 TiB fit in 50,000.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

__all__ = [
    "COPY_RANGE",
    "MAX_BLOCKS",
    "MAX_BLOCK_SIZE",
    "MIN_BLOCK_SIZE",
    "SYNC_COPY_LIMIT",
    "Block",
    "block_size_at",
    "blocks_for",
    "copy_ranges",
    "new_block_id",
]

MiB = 1 << 20
MIN_BLOCK_SIZE = 4 * MiB
MAX_BLOCK_SIZE = 100 * MiB
#: A block is this fraction of the bytes before it (within the bounds above).
GROWTH_DIVISOR = 2000
#: Azure's limit of committed blocks per blob.
MAX_BLOCKS = 50_000
#: Bytes one server-side ``Put Block From URL`` copies (every service version takes 100 MiB).
COPY_RANGE = 100 * MiB
#: The largest source ``Copy Blob From URL`` copies in one synchronous, atomic request.
SYNC_COPY_LIMIT = 256 * MiB


@dataclass(frozen=True)
class Block:
    """A block of a staging blob: its id and its size in bytes."""

    id: str
    size: int


def block_size_at(offset: int) -> int:
    """The size of the block that starts at byte ``offset`` of an upload (whole MiB)."""
    wanted = -(-offset // GROWTH_DIVISOR)  # ceiling division
    whole_mib = -(-wanted // MiB) * MiB
    return min(MAX_BLOCK_SIZE, max(MIN_BLOCK_SIZE, whole_mib))


def blocks_for(total: int) -> int:
    """How many blocks an upload of ``total`` bytes written in one stream takes."""
    count = 0
    offset = 0
    while offset < total:
        offset += block_size_at(offset)
        count += 1
    return count


def copy_ranges(total: int) -> list[tuple[int, int]]:
    """``(offset, length)`` pieces of ``total`` bytes for server-side block copies."""
    return [(start, min(COPY_RANGE, total - start)) for start in range(0, total, COPY_RANGE)]


def new_block_id() -> str:
    """A fresh block id: random, so no two writers collide, and always 32 characters.

    Azure wants ids of one length within a blob; the SDK base64-encodes them.
    """
    return uuid.uuid4().hex
