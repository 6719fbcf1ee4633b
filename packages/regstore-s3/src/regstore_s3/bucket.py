"""What the writer and the server-side copy use of a driver: its bucket, client and upload book.

A structural type, so ``writer`` and ``copying`` need not import ``driver``
(which imports them): ``S3Driver`` satisfies it as it stands.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from .config import S3Config
from .layout import S3Layout
from .partbuffers import PartBuffers
from .uploads import Uploads

__all__ = ["Bucket"]


class Bucket(Protocol):
    """One driver's view of its bucket: configuration, client, key layout and uploads."""

    @property
    def config(self) -> S3Config:
        """The driver's validated parameters."""

    @property
    def client(self) -> Any:
        """The boto3 S3 client."""

    @property
    def bucket(self) -> str:
        """The bucket's name."""

    @property
    def chunksize(self) -> int:
        """Bytes per multipart part."""

    @property
    def layout(self) -> S3Layout:
        """Maps driver paths to object keys."""

    @property
    def uploads(self) -> Uploads:
        """The multipart uploads in progress."""

    @property
    def part_buffers(self) -> PartBuffers:
        """Spare part buffers the writers share."""

    @property
    def part_uploads(self) -> ThreadPoolExecutor:
        """The threads the writers upload parts on, shared by all of them."""
