"""``purge_registry_uploads``: the registry's upload purger, run once, walking only ``_uploads``.

Like the registry, an upload's age counts from its ``startedat`` file (RFC
3339); an upload whose ``startedat`` is missing or unreadable is kept. Only
directories named by a canonical UUID below ``_uploads`` are uploads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from ..driver import StorageDriver
from ..errors import PathNotFoundError
from .layout import DEFAULT_ROOT, Layout
from .scan import scan

__all__ = ["RegistryUpload", "parse_rfc3339", "purge_registry_uploads", "registry_uploads"]

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))"
)


def parse_rfc3339(text: str) -> datetime:
    """An RFC 3339 time (``2026-12-05T23:10:32Z``, fractions and offsets too), else ValueError."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise ValueError(f"{text[:64]!r} is not an RFC 3339 time such as 2026-12-05T23:10:32Z")
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    micro = int((match.group(7) or "0")[:6].ljust(6, "0"))
    offset = timedelta(0)
    if match.group(9):
        offset = timedelta(hours=int(match.group(10)), minutes=int(match.group(11)))
        if match.group(9) == "-":
            offset = -offset
    moment = datetime(year, month, day, hour, minute, second, micro, tzinfo=timezone(offset))
    return moment.astimezone(timezone.utc)


@dataclass(frozen=True)
class RegistryUpload:
    """One ``_uploads/<uuid>`` directory: where it is, and when it started (None: unknown)."""

    repo: str
    uuid: str
    path: str
    started: datetime | None
    problem: str = ""


def registry_uploads(driver: StorageDriver, root: str = DEFAULT_ROOT) -> list[RegistryUpload]:
    """Every registry upload directory, with its start time read from ``startedat``."""
    layout = Layout(root.rstrip("/") or DEFAULT_ROOT)
    found: dict[str, tuple[str, str, bool]] = {}
    for entry in scan(driver, layout, layers=False, manifests=False, uploads=True):
        if entry.what == "upload-dir" and _UUID.fullmatch(entry.name):
            found.setdefault(entry.path, (entry.repo, entry.name, False))
        elif entry.what == "startedat" and _UUID.fullmatch(entry.name):
            directory = entry.path.rsplit("/", 1)[0]
            found[directory] = (entry.repo, entry.name, True)
    uploads = []
    for path, (repo, uuid, has_start) in sorted(found.items()):
        started, problem = None, "no startedat file"
        if has_start:
            started, problem = _started(driver, f"{path}/startedat")
        uploads.append(RegistryUpload(repo, uuid, path, started, problem))
    return uploads


def _started(driver: StorageDriver, path: str) -> tuple[datetime | None, str]:
    try:
        text = driver.get_content(path).decode("utf-8", "replace").strip()
    except PathNotFoundError:
        return None, "no startedat file"
    try:
        return parse_rfc3339(text), ""
    except ValueError as exc:
        return None, f"startedat: {exc}"


def purge_registry_uploads(
    driver: StorageDriver,
    before: datetime,
    dry_run: bool = False,
    *,
    root: str = DEFAULT_ROOT,
) -> list[str]:
    """Delete every ``_uploads/<uuid>`` started before ``before``; return their paths, sorted.

    ``before`` must be timezone-aware. Uploads without a readable
    ``startedat`` are kept, as by the registry.
    """
    if before.tzinfo is None or before.utcoffset() is None:
        raise ValueError("before must be a timezone-aware datetime (e.g. with tzinfo=timezone.utc)")
    purged = []
    for upload in registry_uploads(driver, root):
        if upload.started is None or upload.started >= before:
            continue
        if not dry_run:
            try:
                driver.delete(upload.path)
            except PathNotFoundError:
                continue  # finished or purged by someone else meanwhile
        purged.append(upload.path)
    return purged
