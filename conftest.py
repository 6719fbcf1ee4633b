"""Puts the repository root on ``sys.path`` for tests, so ``testenv`` imports everywhere."""

from __future__ import annotations

from testenv import BACKEND_VARIABLES, backend_env, unique_name

__all__ = ["BACKEND_VARIABLES", "backend_env", "unique_name"]
