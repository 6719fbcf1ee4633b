"""Where the distribution registry keeps things under ``/docker/registry/v2``, and digest rules.

Paths follow the registry's ``paths.go``: two-level blob paths
(``blobs/<alg>/<hex[0:2]>/<hex>/data``), one-level link paths. Digests are the
three algorithms go-digest accepts, in lowercase hex.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import InvalidPathError

__all__ = [
    "DEFAULT_ROOT",
    "HEX_LENGTHS",
    "Layout",
    "RepoEntry",
    "check_repository",
    "classify",
    "is_digest",
    "parse_digest",
]

DEFAULT_ROOT = "/docker/registry/v2"

#: The digest algorithms go-digest validates, and the length of their hex part.
HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}

_HEX = re.compile(r"[0-9a-f]+")
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN = (
    r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
)
_REPOSITORY = re.compile(rf"(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*")


def is_digest(text: str) -> bool:
    """True for ``<alg>:<hex>`` with a known algorithm and lowercase hex of its length."""
    alg, sep, hexpart = text.partition(":")
    return (
        bool(sep) and HEX_LENGTHS.get(alg) == len(hexpart) and _HEX.fullmatch(hexpart) is not None
    )


def parse_digest(text: str) -> str:
    """``text`` as a digest, else ValueError saying what a digest looks like."""
    if not is_digest(text):
        shown = text if len(text) <= 80 else text[:77] + "..."
        message = (
            f"{shown!r} is not a digest (sha256:, sha384: or sha512: followed by lowercase hex"
            " of the algorithm's length)"
        )
        raise ValueError(message)
    return text


def check_repository(name: str) -> str:
    """``name`` if it is a valid repository name, else ``InvalidPathError`` saying the rule."""
    if len(name) > 255 or _REPOSITORY.fullmatch(name) is None:
        raise InvalidPathError(
            name,
            reason=(
                "a repository name is lowercase components [a-z0-9] joined by '.', '_', '__'"
                " or '-', separated by '/', at most 255 characters"
            ),
        )
    return name


@dataclass(frozen=True)
class Layout:
    """The paths of one registry root (``/docker/registry/v2`` unless configured otherwise)."""

    root: str = DEFAULT_ROOT

    @property
    def blobs(self) -> str:
        """The directory holding every blob."""
        return f"{self.root}/blobs"

    @property
    def repositories(self) -> str:
        """The directory holding every repository."""
        return f"{self.root}/repositories"

    def blob_dir(self, digest: str) -> str:
        """``blobs/<alg>/<hex[0:2]>/<hex>``: the unit garbage collection deletes."""
        alg, _, hexpart = digest.partition(":")
        return f"{self.blobs}/{alg}/{hexpart[:2]}/{hexpart}"

    def blob_data(self, digest: str) -> str:
        """``blobs/<alg>/<hex[0:2]>/<hex>/data``: the blob's bytes."""
        return self.blob_dir(digest) + "/data"

    def repo(self, name: str) -> str:
        """A repository's directory."""
        return f"{self.repositories}/{name}"

    def revision_dir(self, repo: str, digest: str) -> str:
        """``_manifests/revisions/<alg>/<hex>``: what an untagged-manifest sweep deletes."""
        alg, _, hexpart = digest.partition(":")
        return f"{self.repo(repo)}/_manifests/revisions/{alg}/{hexpart}"

    def revision_link(self, repo: str, digest: str) -> str:
        """The link file that makes a manifest part of a repository."""
        return self.revision_dir(repo, digest) + "/link"

    def tags_dir(self, repo: str) -> str:
        """``_manifests/tags``: one directory per tag."""
        return f"{self.repo(repo)}/_manifests/tags"

    def tag_current(self, repo: str, tag: str) -> str:
        """The link holding the digest a tag points to now."""
        return f"{self.tags_dir(repo)}/{tag}/current/link"

    def tag_index_dir(self, repo: str, tag: str, digest: str) -> str:
        """``tags/<tag>/index/<alg>/<hex>``: one entry of a tag's history."""
        alg, _, hexpart = digest.partition(":")
        return f"{self.tags_dir(repo)}/{tag}/index/{alg}/{hexpart}"

    def layer_dir(self, repo: str, digest: str) -> str:
        """``_layers/<alg>/<hex>``: the link that lets a repository serve a blob."""
        alg, _, hexpart = digest.partition(":")
        return f"{self.repo(repo)}/_layers/{alg}/{hexpart}"

    def layer_link(self, repo: str, digest: str) -> str:
        """The link file inside ``layer_dir``."""
        return self.layer_dir(repo, digest) + "/link"

    def digest_of_blob_dir(self, path: str) -> str | None:
        """The digest a ``blobs/<alg>/<xx>/<hex>`` path names, or None when misplaced."""
        parts = path[len(self.blobs) + 1 :].split("/")
        if len(parts) != 3:
            return None
        alg, fan, hexpart = parts
        digest = f"{alg}:{hexpart}"
        if not is_digest(digest) or hexpart[:2] != fan:
            return None
        return digest


@dataclass(frozen=True)
class RepoEntry:
    """One entry below ``repositories/``, split at the first ``_`` component.

    ``kind`` is that component (``_layers``, ``_manifests``, ``_uploads``, or
    another ``_`` name); ``rest`` the components after it.
    """

    repo: str
    kind: str
    rest: tuple[str, ...]


def classify(layout: Layout, path: str) -> RepoEntry | None:
    """Split a path below ``repositories/`` at its first ``_`` component; None above any."""
    prefix = layout.repositories + "/"
    if not path.startswith(prefix):
        return None
    parts = path[len(prefix) :].split("/")
    for index, part in enumerate(parts):
        if part.startswith("_"):
            if index == 0:
                return None
            return RepoEntry("/".join(parts[:index]), part, tuple(parts[index + 1 :]))
    return None
