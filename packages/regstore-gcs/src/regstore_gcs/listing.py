"""Object listings: the JSON API's pages, decoded into only the fields a caller reads.

The SDK's ``list_blobs`` decodes each page whole into dicts (every field of
every object: ids, checksums, ACLs on some servers) and then turns each object
into a ``Blob``. A directory listing needs one field of each object, a walk
three. So the pages are fetched through the SDK's own connection (its
credentials, endpoint, retries and timeout) as raw bytes, and decoded with
msgspec into small typed records; fields no record names are skipped without
being built. ``fields`` also asks GCS to send only those (the emulators ignore
it, which makes the saving larger there: 10,000 objects from fake-gcs-server
are 8 MB of JSON, 110 ms for ``json.loads`` and 7 ms for the typed decode).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, Generic, TypeVar

import msgspec
from google.cloud import storage

from regstore.errors import DriverError
from regstore.walking import EPOCH

__all__ = [
    "CHILD_FIELDS",
    "FILE_FIELDS",
    "NAME_FIELDS",
    "STAGED_FIELDS",
    "ListedFile",
    "Lister",
    "mod_time",
    "parse_time",
]

#: What a walk reads of each object; ``nextPageToken`` must stay, or paging stops.
FILE_FIELDS = "items(name,size,updated),nextPageToken"
#: What a delimited listing of a directory's children reads.
CHILD_FIELDS = "items(name),prefixes,nextPageToken"
#: What an existence check reads.
NAME_FIELDS = "items(name),nextPageToken"
#: What the pending-upload listings read: the state's metadata holds the size.
STAGED_FIELDS = "items(name,updated,generation,metadata),nextPageToken"

_FRACTION = re.compile(r"\.(\d+)")

Item = TypeVar("Item")


class _Named(msgspec.Struct):
    name: str


class ListedFile(msgspec.Struct):
    """An object as a walk lists it: its name, size and last update (RFC 3339 text)."""

    name: str
    #: GCS sends the size as a decimal string; an emulator may send a number.
    size: str | int = 0
    updated: str | None = None


class _Page(msgspec.Struct, Generic[Item], rename="camel"):
    """One page of a listing: its objects, the prefixes one level down, the next page's token."""

    items: list[Item] = msgspec.field(default_factory=list)
    prefixes: list[str] = msgspec.field(default_factory=list)
    next_page_token: str | None = None


_NAMES = msgspec.json.Decoder(_Page[_Named])
_FILES = msgspec.json.Decoder(_Page[ListedFile])
_RESOURCES = msgspec.json.Decoder(_Page[dict[str, Any]])


class Lister:
    """Lists one bucket's objects, page by page, in name order."""

    def __init__(self, client: storage.Client, bucket: storage.Bucket, *, retry: Any) -> None:
        # The connection the SDK's own listings use (``list_blobs`` calls the same method).
        self._request = client._connection.api_request
        self._path = f"{bucket.path}/o"
        self._bucket_name = bucket.name
        self._retry = retry

    def names(
        self, prefix: str, *, end_offset: str | None = None, max_results: int | None = None
    ) -> Iterator[str]:
        """Names of the objects whose name starts with ``prefix`` (at most ``max_results``)."""
        query = {"prefix": prefix, "fields": NAME_FIELDS}
        if end_offset is not None:
            query["endOffset"] = end_offset
        if max_results is not None:
            query["maxResults"] = str(max_results)
        left = max_results
        for page in self._pages(query, _NAMES):
            for item in page.items[:left]:
                yield item.name
            if left is not None:
                left -= len(page.items)
                if left <= 0:
                    return

    def files(self, prefix: str, *, start_offset: str | None = None) -> Iterator[ListedFile]:
        """The objects whose name starts with ``prefix`` (from ``start_offset``), for a walk."""
        query = {"prefix": prefix, "fields": FILE_FIELDS}
        if start_offset is not None:
            query["startOffset"] = start_offset
        for page in self._pages(query, _FILES):
            yield from page.items

    def objects(
        self, prefix: str, *, fields: str = STAGED_FIELDS, match_glob: str | None = None
    ) -> Iterator[Mapping[str, Any]]:
        """The objects whose name starts with ``prefix``, as JSON resources with ``fields``.

        ``match_glob`` narrows the listing on servers that support it; callers
        still filter, since fake-gcs-server ignores it.
        """
        query = {"prefix": prefix, "fields": fields}
        if match_glob is not None:
            query["matchGlob"] = match_glob
        for page in self._pages(query, _RESOURCES):
            yield from page.items

    def children(self, prefix: str) -> list[str]:
        """Names of the objects directly below ``prefix`` and of the prefixes one level down."""
        query = {"prefix": prefix, "delimiter": "/", "fields": CHILD_FIELDS}
        names: list[str] = []
        for page in self._pages(query, _NAMES):
            names.extend(item.name for item in page.items)
            names.extend(page.prefixes)
        return names

    def _pages(
        self, query: dict[str, str], decoder: msgspec.json.Decoder[_Page[Item]]
    ) -> Iterator[_Page[Item]]:
        """Every page of the listing ``query`` asks for, following the page tokens."""
        # ``noAcl`` is what ``list_blobs`` asks for: ACLs are never read here.
        query = {**query, "projection": "noAcl"}
        while True:
            body = self._request(
                method="GET", path=self._path, query_params=query, expect_json=False,
                retry=self._retry,
            )  # fmt: skip
            try:
                page = decoder.decode(body)
            except msgspec.DecodeError as exc:
                raise DriverError(
                    f"the listing of gs://{self._bucket_name}/{query['prefix']} answered with"
                    f" something other than a page of objects ({exc})"
                ) from exc
            yield page
            if not page.next_page_token:
                return
            query = {**query, "pageToken": page.next_page_token}


def mod_time(resource: Mapping[str, Any]) -> datetime:
    """An object's ``updated`` time (UTC) from its JSON resource; EPOCH when it has none."""
    text = resource.get("updated")
    return parse_time(text if isinstance(text, str) else None)


def parse_time(text: str | None) -> datetime:
    """An RFC 3339 time (UTC) as GCS writes it; EPOCH for None or text that is not one.

    ``datetime.fromisoformat`` reads RFC 3339 about 20x faster than the
    ``strptime`` behind ``Blob.updated``. Python 3.10 reads neither ``Z`` nor
    fractions of other than 3 or 6 digits, so those are rewritten first.
    """
    if text is None:
        return EPOCH
    text = text.replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(_FRACTION.sub(_micros, text, count=1))
    except ValueError:
        return EPOCH


def _micros(match: re.Match[str]) -> str:
    """A fraction of a second as exactly six digits (nanoseconds are cut, not rounded)."""
    return "." + match.group(1)[:6].ljust(6, "0")
