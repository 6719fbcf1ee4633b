"""Path rules shared by every driver: absolute, slash-separated, no ``.`` or ``..``."""

from __future__ import annotations

import re

from .errors import InvalidPathError

__all__ = ["PATH_PATTERN", "ROOT", "check_path", "is_below", "join_key", "parent"]

ROOT = "/"
PATH_PATTERN = re.compile(r"(/[A-Za-z0-9._-]+)+")
_DOT_COMPONENT = re.compile(r"/\.{1,2}(?=/|$)")


def check_path(path: object, *, allow_root: bool = False) -> str:
    """Return ``path`` if it is valid, else raise ``InvalidPathError`` saying why."""
    if not isinstance(path, str):
        raise InvalidPathError(path, reason=f"a path is a str, not {type(path).__name__}")
    if allow_root and path == ROOT:
        return path
    if PATH_PATTERN.fullmatch(path) is None:
        allowed = "absolute, components of A-Z a-z 0-9 . _ - separated by single '/'"
        if path == ROOT:
            allowed = "'/' alone is only valid for stat, list and walk"
        raise InvalidPathError(path, reason=allowed)
    if _DOT_COMPONENT.search(path):
        raise InvalidPathError(path, reason="'.' and '..' components are not allowed")
    return path


def is_below(path: str, directory: str) -> bool:
    """True when ``path`` lies strictly below ``directory``: ``/a/b`` is, ``/ab`` is not."""
    if directory == ROOT:
        return path != ROOT
    return path.startswith(directory + "/")


def parent(path: str) -> str:
    """The parent directory of a valid path (``/`` for a top-level entry)."""
    head = path.rsplit("/", 1)[0]
    return head or ROOT


def join_key(prefix: str, path: str) -> str:
    """Map a driver path to an object-store key under ``prefix`` (the distribution layout).

    ``prefix`` is the ``rootdirectory`` parameter; the key never starts with ``/``.
    """
    root = prefix.strip("/")
    rest = path.lstrip("/")
    if not root:
        return rest
    return f"{root}/{rest}" if rest else root
