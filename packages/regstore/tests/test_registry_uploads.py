"""The registry's _uploads purged by startedat, as the registry's own purger does."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from registry_helpers import make_driver, walk_files

from regstore.driver import StorageDriver
from regstore.registry import Layout
from regstore.registry.testing import build_tree
from regstore.registry.uploads import parse_rfc3339, purge_registry_uploads, registry_uploads

LAYOUT = Layout()


@pytest.fixture(params=["inmemory", "filesystem"])
def driver(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StorageDriver]:
    with make_driver(str(request.param), tmp_path) as made:
        yield made


def test_purge_by_startedat(driver: StorageDriver) -> None:
    tree = build_tree(driver, repositories=2)
    uploads = LAYOUT.repo(tree.repositories[1]) + "/_uploads"
    no_start = f"{uploads}/11111111-2222-3333-4444-555555555555"
    garbled = f"{uploads}/66666666-7777-8888-9999-000000000000"
    not_uuid = f"{uploads}/not-a-uuid"
    driver.put_content(f"{no_start}/data", b"x")
    driver.put_content(f"{garbled}/startedat", b"yesterday")
    driver.put_content(f"{not_uuid}/startedat", b"2000-01-01T00:00:00Z")
    before = datetime.now(timezone.utc) - timedelta(days=7)

    assert purge_registry_uploads(driver, before, dry_run=True) == tree.uploads_old
    assert list(walk_files(driver, tree.uploads_old[0]))  # the dry run deleted nothing

    assert purge_registry_uploads(driver, before) == tree.uploads_old
    assert not list(walk_files(driver, tree.uploads_old[0]))
    for kept in (*tree.uploads_fresh, no_start, garbled, not_uuid):
        assert list(walk_files(driver, kept)), kept
    problems = {u.path: u.problem for u in registry_uploads(driver)}
    assert problems[no_start] == "no startedat file"
    assert problems[garbled].startswith("startedat:")
    assert purge_registry_uploads(driver, before) == []


def test_purge_needs_an_aware_time(driver: StorageDriver) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        purge_registry_uploads(driver, datetime(2020, 1, 1))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-05T23:10:32Z", datetime(2026, 12, 5, 23, 10, 32, tzinfo=timezone.utc)),
        (
            "2026-12-05T23:10:32.5+01:00",
            datetime(2026, 12, 5, 22, 10, 32, 500000, tzinfo=timezone.utc),
        ),
        (
            "2026-12-05t23:10:32.123456789z",
            datetime(2026, 12, 5, 23, 10, 32, 123456, tzinfo=timezone.utc),
        ),
    ],
)
def test_rfc3339(text: str, expected: datetime) -> None:
    assert parse_rfc3339(text) == expected


@pytest.mark.parametrize("text", ["2026-12-05 23:10:32Z", "2026-12-05T23:10:32", "", "now"])
def test_rfc3339_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="RFC 3339"):
        parse_rfc3339(text)
