"""Secrets never show: not in exception text, repr, log records or the regstore command's output.

For each cloud driver on its emulator, with distinctive credentials (S3 access
and secret keys, the Azure account key and a SAS token, a GCS service-account
private key), errors are provoked: a missing path, a missing bucket or
container, wrong credentials, an unreachable endpoint, requests failing on
every retry, malformed parameters. Then every text a user or an operator could
see is searched for each secret: ``str``, ``repr`` and the whole traceback of
every exception (with its chained SDK exceptions), the ``repr`` of drivers,
writers and readers, every log record at DEBUG from every logger (the SDKs'
own, such as botocore, urllib3 and azure, included), and the standard output
and error of the ``regstore`` command, also with ``--debug``.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import pytest
from faults import figures
from faults.proxy import FaultPlan, FaultProxy
from faults.targets import Target, bind, open_target

from regstore.testsuite.backends import Store, TestBackend

#: Seconds a provoked failure may take (retries included) before the test gives up.
CLI_SECONDS = 300


class Exposure:
    """Every text a user or an operator could see, labelled by where it came from."""

    def __init__(self) -> None:
        self.texts: list[tuple[str, str]] = []

    def add(self, where: str, text: str) -> None:
        self.texts.append((where, text))

    def attempt(self, where: str, call: Callable[[], object]) -> BaseException | None:
        """Run ``call``; keep its error's text, repr and whole traceback."""
        try:
            result = call()
        except Exception as error:
            self.add(f"{where}: str", str(error))
            self.add(f"{where}: repr", repr(error))
            self.add(f"{where}: traceback", "".join(traceback.format_exception(error)))
            return error
        self.add(f"{where}: result repr", repr(result))
        return None

    def logs(self, records: list[logging.LogRecord]) -> None:
        formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
        for record in records:
            self.add(f"log record of {record.name}", formatter.format(record))

    def leaks(self, secrets: tuple[str, ...]) -> list[str]:
        """Where each secret shows: one line per place and secret, with some context."""
        found: dict[tuple[str, int], str] = {}
        for where, text in self.texts:
            for number, secret in enumerate(secrets):
                at = text.find(secret)
                if at >= 0 and (where, number) not in found:
                    context = text[max(0, at - 60) : at + len(secret) + 20]
                    found[where, number] = f"secret #{number} in {where}: ...{context!r}..."
        return list(found.values())


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _store(target: Target) -> Store:
    """The target as the declaration's hooks take it."""
    return Store(target.driver_name, target.parameters, target.env, secrets=target.secrets)


def _keys(target: Target) -> tuple[str, str]:
    """The parameter naming the bucket and a numeric one, as the backend declares them."""
    backend = target.declared
    if backend.bucket_parameter is None or backend.numeric_parameter is None:
        pytest.fail(f"{target.label} declares no bucket or numeric parameter to provoke errors")
    return backend.bucket_parameter, backend.numeric_parameter


class SecretTests:
    """Provoke errors on one target, then search everything visible for its secrets."""

    label: ClassVar[str]

    @pytest.fixture
    def target(self, tmp_path: Path) -> Iterator[Target]:
        with open_target(self.label, tmp_path) as opened:
            yield opened

    def variants(self, target: Target) -> list[tuple[Target, tuple[str, ...]]]:
        """The target with its credentials, and each other way the backend declares to
        authenticate; with the secrets each carries, a wrong secret the emulator refuses too.
        """
        backend, store = target.declared, _store(target)
        wrong = backend.wrong_credentials(store).secrets if backend.wrong_credentials else ()
        found = [(target, (*target.secrets, *wrong))]
        for other in backend.credential_variants(store) if backend.credential_variants else []:
            parameters = {**target.parameters, **other.parameters}
            secrets = (*other.secrets, *target.secrets, *wrong)
            found.append((replace(target, parameters=parameters), secrets))
        return found

    def wrong_credentials(self, target: Target) -> dict[str, Any] | None:
        """Parameters with a wrong secret the emulator checks (None: it checks none)."""
        refused = target.declared.wrong_credentials
        return dict(refused(_store(target)).parameters) if refused else None

    def provoke(self, target: Target, exposure: Exposure) -> None:
        fast = target.declared.fast_failure
        driver = target.create()
        exposure.add("driver repr", repr(driver))
        exposure.add("driver str", str(driver))
        exposure.attempt("get_content of a missing path", lambda: driver.get_content("/no/such"))
        writer = driver.writer("/secret/upload")
        exposure.add("writer repr", repr(writer))
        writer.write(b"pending")
        writer.close()
        exposure.add("closed writer repr", repr(writer))
        driver.put_content("/secret/file", b"committed")
        with driver.reader("/secret/file") as stream:
            exposure.add("reader repr", repr(stream))
        exposure.attempt("redirect_url", lambda: driver.redirect_url("/secret/file") and None)
        exposure.attempt("bad offset", lambda: driver.reader("/secret/file", -1))
        exposure.attempt("bad path", lambda: driver.get_content("/../secret"))
        driver.delete("/secret")
        driver.close()

        bucket_key, numeric_key = _keys(target)
        missing = target.create(**{bucket_key: "nosuchbucket0given", **fast})
        exposure.add("driver repr (missing bucket)", repr(missing))
        exposure.attempt("get_content, missing bucket", lambda: missing.get_content("/a"))
        exposure.attempt("put_content, missing bucket", lambda: missing.put_content("/a", b"x"))
        missing.close()

        malformed = {numeric_key: "bogus"}
        exposure.attempt("malformed parameter", lambda: target.create(**malformed))
        wrong = self.wrong_credentials(target)
        if wrong is not None:
            denied = target.create(**wrong, **fast)
            exposure.attempt("get_content, wrong credentials", lambda: denied.get_content("/a"))
            exposure.attempt("list, wrong credentials", lambda: denied.list("/"))
            denied.close()
        if "slow_unreachable" not in target.declared.quirks:
            away = target.via(f"http://127.0.0.1:{closed_port()}")
            unreachable = away.create(**fast)
            exposure.attempt("stat, unreachable endpoint", lambda: unreachable.stat("/a"))
            unreachable.close()
            with FaultProxy(target.endpoint, FaultPlan(every="500")) as proxy:
                failing = target.via(proxy.url).create(**fast)
                exposure.attempt(
                    "put_content, every request 500", lambda: failing.put_content("/a", b"x")
                )
                failing.close()

    def test_no_secret_in_errors_reprs_or_logs(
        self, request: pytest.FixtureRequest, target: Target, caplog: pytest.LogCaptureFixture
    ) -> None:
        searched = 0
        leaks: list[str] = []
        for variant, secrets in self.variants(target):
            assert secrets, f"{variant.label} has no secrets to look for"
            exposure = Exposure()
            caplog.clear()
            with caplog.at_level(logging.DEBUG):
                logging.getLogger().setLevel(logging.DEBUG)
                self.provoke(variant, exposure)
            exposure.logs(caplog.records)
            searched += len(exposure.texts)
            leaks += exposure.leaks(secrets)
        figures.record(
            request, "secrets", target=self.label, texts_searched=searched, leaks=len(leaks)
        )
        assert not leaks, "secrets show:\n" + "\n".join(leaks)

    def cli_parameters(self, target: Target, tmp_path: Path) -> list[str]:
        given = target.declared.cli_parameters
        values = given(_store(target), tmp_path) if given else target.parameters
        return [f"{key}={value}" for key, value in values.items()]

    def test_no_secret_in_command_output(self, target: Target, tmp_path: Path) -> None:
        regstore_cmd = Path(sys.executable).with_name("regstore")
        params = self.cli_parameters(target, tmp_path)
        bucket_key, numeric_key = _keys(target)
        missing = f"{bucket_key}=nosuchbucket0given"
        malformed = f"{numeric_key}=bogus"
        # Without --debug, the one-line error; with it, also the whole traceback.
        runs = [
            ["--param", missing, "ls", "/"],
            ["--debug", "cat", "/no/such/file"],
            ["--debug", "--param", missing, "ls", "/"],
            ["--debug", "--param", malformed, "ls", "/"],
        ]
        outputs = Exposure()
        extra = [item for param in params for item in ("--param", param)]
        for run in runs:
            options = [item for item in run if item == "--debug"]
            rest = [item for item in run if item != "--debug"]
            command = [str(regstore_cmd), *options, "--driver", target.driver_name, *extra, *rest]
            done = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=CLI_SECONDS,
                env={**os.environ, **target.env},
                check=False,
            )
            outputs.add(f"regstore {' '.join(run)}: stdout", done.stdout)
            outputs.add(f"regstore {' '.join(run)}: stderr", done.stderr)
            # Each run must have reached the point of failing, or it proves nothing.
            assert done.returncode != 0, f"regstore {' '.join(run)} succeeded"
            assert "error" in done.stderr, f"regstore {' '.join(run)}: {done.stderr[-500:]}"
        leaks = outputs.leaks(target.secrets)
        assert not leaks, "secrets show:\n" + "\n".join(leaks)


def _secret_bearing(backend: TestBackend) -> bool:
    """Backends on an emulator with credentials: a bucket to miss and an endpoint to break."""
    return backend.faults is not None and backend.bucket_parameter is not None


SECRETS = bind(SecretTests, "TestSecrets", globals(), _secret_bearing)
