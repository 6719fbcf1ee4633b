"""``RegistryStore``: what the registry's catalog and tag list answer, read from storage."""

from __future__ import annotations

from collections.abc import Iterator

from ..driver import StorageDriver
from ..errors import PathNotFoundError
from .layout import DEFAULT_ROOT, Layout, check_repository, parse_digest
from .scan import scan

__all__ = ["RegistryStore", "RepositoryNotFoundError"]


class RepositoryNotFoundError(PathNotFoundError):
    """No repository of that name: neither ``_layers`` nor ``_manifests`` exists for it."""

    def __str__(self) -> str:
        return self.message


class RegistryStore:
    """Read-only views of a registry's storage through any driver (the public API only)."""

    def __init__(self, driver: StorageDriver, root: str = DEFAULT_ROOT) -> None:
        self.driver = driver
        self.layout = Layout(root.rstrip("/") or DEFAULT_ROOT)

    def repositories(self) -> Iterator[str]:
        """Every repository, in the catalog's order (component by component).

        A repository is a directory holding ``_layers`` (what registry 2.8
        lists) or ``_manifests`` (what 3.x lists); one holding only
        ``_uploads`` (a push aborted before any blob) is not listed, as by both.
        """
        names = {
            entry.repo
            for entry in scan(self.driver, self.layout, layers=False, manifests=False)
            if entry.what == "repo-dir" and entry.kind in ("_layers", "_manifests")
        }
        yield from sorted(names, key=lambda name: name.split("/"))

    def exists(self, repo: str) -> bool:
        """True when ``repo`` has ``_layers`` or ``_manifests``."""
        check_repository(repo)
        for kind in ("_manifests", "_layers"):
            try:
                if self.driver.stat(f"{self.layout.repo(repo)}/{kind}").is_dir:
                    return True
            except PathNotFoundError:
                continue
        return False

    def tags(self, repo: str) -> list[str]:
        """The tag names of ``repo``, sorted; ``RepositoryNotFoundError`` when it does not exist.

        Like the registry's tag list, a tag directory counts even without its
        ``current/link``.
        """
        check_repository(repo)
        try:
            children = self.driver.list(self.layout.tags_dir(repo))
        except PathNotFoundError:
            if self.exists(repo):
                return []
            raise RepositoryNotFoundError(
                self.layout.repo(repo), message=f"repository not found: {repo}"
            ) from None
        return sorted(child.rsplit("/", 1)[-1] for child in children)

    def resolve(self, repo: str, tag: str) -> str:
        """The digest ``repo:tag`` points to (its ``current/link``)."""
        check_repository(repo)
        path = self.layout.tag_current(repo, tag)
        try:
            content = self.driver.get_content(path)
        except PathNotFoundError:
            raise PathNotFoundError(path, message=f"tag not found: {repo}:{tag}") from None
        return parse_digest(content.decode("utf-8", "replace").strip())
