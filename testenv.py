"""Helpers for every test in the repository: where the emulators are, fresh names.

Import them as ``from testenv import backend_env, unique_name`` (this root
folder is on ``sys.path`` during tests because this conftest lives here).

``scripts/test`` starts every emulator and exports ``REGSTORE_TEST_*`` variables
(see ``scripts/emulators.py``). A test that needs a backend asks for it with
``backend_env``; without the variables it skips with the command that starts
them, unless ``REGSTORE_REQUIRE_ALL_BACKENDS=1`` (as in CI) makes it fail.
"""

from __future__ import annotations

import http.client
import os
import ssl
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest

from regstore.testsuite.backends import emulator_variables

#: The variables each emulator exports, by the name ``scripts/emulators.py`` uses, as the
#: installed packages' test backends declare them (``regstore.testsuite.backends``).
BACKEND_VARIABLES = emulator_variables()


def backend_env(*names: str) -> dict[str, str]:
    """The ``REGSTORE_TEST_*`` variables of the named backends, or skip/fail when absent."""
    undeclared = [name for name in names if name not in BACKEND_VARIABLES]
    if undeclared:
        pytest.skip(f"no installed package declares a test backend on {', '.join(undeclared)}")
    wanted = [var for name in names for var in BACKEND_VARIABLES[name]]
    missing = [var for var in wanted if not os.environ.get(var)]
    if missing:
        message = (
            f"backend {', '.join(names)} not running ({', '.join(missing)} unset);"
            " start it with: scripts/test, or .venv/bin/python scripts/emulators.py start"
            f" {' '.join(names)} && . .emulators/run/env.sh"
        )
        if os.environ.get("REGSTORE_REQUIRE_ALL_BACKENDS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return {var: os.environ[var] for var in wanted}


def unique_name(prefix: str = "t") -> str:
    """A short name no other test (or xdist worker) uses: for buckets and root directories."""
    return f"{prefix}{uuid.uuid4().hex[:16]}"


def fresh_container(service: Any, prefix: str = "t") -> Any:
    """A new Azure container under a unique name (see ``regstore_azure.testing``)."""
    from regstore_azure.testing import fresh_container as fresh

    return fresh(service, prefix)


def remove_container(container: Any) -> None:
    """Delete a test's Azure container; one already gone counts as deleted."""
    from regstore_azure.testing import remove_container as remove

    remove(container)


#: What a plain HTTP request raises when the emulator's answer is lost (it timed out or the
#: connection dropped), as opposed to an answer with an error status.
LOST_ANSWER = (TimeoutError, ConnectionError, http.client.RemoteDisconnected)


def http_fetch(
    url: str,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    context: ssl.SSLContext | None = None,
    attempts: int = 3,
) -> tuple[int, dict[str, str], bytes]:
    """Status, lower-cased headers and body of a plain HTTP request to an emulator.

    An error status is returned, not raised. A lost answer is retried, as the SDKs
    retry theirs: under the whole suite's load an emulator now and then drops one,
    and a GET or HEAD asked again gets the same answer.
    """
    request = urllib.request.Request(url, method=method, headers=headers or {})
    for attempt in range(1, attempts + 1):
        try:
            with urllib.request.urlopen(request, timeout=20, context=context) as response:
                found = {k.lower(): v for k, v in response.headers.items()}
                return response.status, found, response.read()
        except urllib.error.HTTPError as error:
            return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()
        except urllib.error.URLError as error:
            if not isinstance(error.reason, LOST_ANSWER) or attempt == attempts:
                raise
        except LOST_ANSWER:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable: the last attempt returns or raises")
