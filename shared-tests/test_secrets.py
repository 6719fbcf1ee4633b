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

import base64
import json
import logging
import os
import socket
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from faults import figures
from faults.proxy import FaultPlan, FaultProxy
from faults.targets import CLOUD, Target, open_target

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


#: Parameters that make a failing request give up quickly, where the driver offers them.
FAST_FAILURE = {"azure": {"max_retries": 1, "retry_delay": "10ms"}}
#: The parameter naming the bucket or container.
BUCKET_KEY = {"s3": "bucket", "azure": "container", "gcs": "bucket"}
#: A numeric parameter of each driver, to give a malformed value.
NUMERIC_KEY = {"s3": "chunksize", "azure": "max_retries", "gcs": "chunksize"}


class SecretTests:
    """Provoke errors on one target, then search everything visible for its secrets."""

    label: ClassVar[str]

    @pytest.fixture
    def target(self, tmp_path: Path) -> Iterator[Target]:
        with open_target(self.label, tmp_path) as opened:
            yield opened

    def variants(self, target: Target) -> list[tuple[Target, tuple[str, ...]]]:
        """The target with its credentials, and the secrets they carry."""
        return [(target, target.secrets)]

    def wrong_credentials(self, target: Target) -> dict[str, Any] | None:
        """Parameters with a wrong secret the emulator checks (None: it checks none)."""
        return None

    def provoke(self, target: Target, exposure: Exposure) -> None:
        fast = FAST_FAILURE.get(target.kind, {})
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

        missing = target.create(**{BUCKET_KEY[target.kind]: "nosuchbucket0given", **fast})
        exposure.add("driver repr (missing bucket)", repr(missing))
        exposure.attempt("get_content, missing bucket", lambda: missing.get_content("/a"))
        exposure.attempt("put_content, missing bucket", lambda: missing.put_content("/a", b"x"))
        missing.close()

        malformed = {NUMERIC_KEY[target.kind]: "bogus"}
        exposure.attempt("malformed parameter", lambda: target.create(**malformed))
        wrong = self.wrong_credentials(target)
        if wrong is not None:
            denied = target.create(**wrong, **fast)
            exposure.attempt("get_content, wrong credentials", lambda: denied.get_content("/a"))
            exposure.attempt("list, wrong credentials", lambda: denied.list("/"))
            denied.close()
        if target.kind != "gcs":  # its SDK retries for two minutes: see the report
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
        return [f"{key}={value}" for key, value in target.parameters.items()]

    def test_no_secret_in_command_output(self, target: Target, tmp_path: Path) -> None:
        regstore_cmd = Path(sys.executable).with_name("regstore")
        params = self.cli_parameters(target, tmp_path)
        missing = f"{BUCKET_KEY[target.kind]}=nosuchbucket0given"
        malformed = f"{NUMERIC_KEY[target.kind]}=bogus"
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


class TestSecretsS3Moto(SecretTests):
    label = "s3-moto"


class TestSecretsS3Radosgw(SecretTests):
    label = "s3-rgw"

    def wrong_credentials(self, target: Target) -> dict[str, Any] | None:
        return {"secretkey": "rs-wrong-secret-" + "Hj3Kq9Lp2Mz8Nx4"}

    def variants(self, target: Target) -> list[tuple[Target, tuple[str, ...]]]:
        # The wrong secret is a secret too: it must not show in the refusal.
        return [(target, (*target.secrets, "rs-wrong-secret-Hj3Kq9Lp2Mz8Nx4"))]


class TestSecretsAzureAzurite(SecretTests):
    label = "azure-azurite"

    def wrong_credentials(self, target: Target) -> dict[str, Any] | None:
        fields = dict(
            part.split("=", 1)
            for part in target.parameters["connectionstring"].strip(";").split(";")
        )
        fields["AccountKey"] = base64.b64encode(b"regstore-wrong-account-key-0123456789").decode()
        return {"connectionstring": ";".join(f"{k}={v}" for k, v in fields.items())}

    def variants(self, target: Target) -> list[tuple[Target, tuple[str, ...]]]:
        from azure.storage.blob import AccountSasPermissions, ResourceTypes, generate_account_sas

        fields = dict(
            part.split("=", 1)
            for part in target.parameters["connectionstring"].strip(";").split(";")
        )
        sas = generate_account_sas(
            fields["AccountName"],
            fields["AccountKey"],
            resource_types=ResourceTypes(service=True, container=True, object=True),
            permission=AccountSasPermissions(
                read=True, write=True, delete=True, list=True, add=True, create=True
            ),
            expiry="2099-01-01T00:00:00Z",
        )
        signature = dict(part.split("=", 1) for part in sas.split("&"))["sig"]
        endpoint = f"AccountName={fields['AccountName']};BlobEndpoint={fields['BlobEndpoint']}"
        with_sas = {
            **target.parameters,
            "connectionstring": f"{endpoint};SharedAccessSignature={sas}",
        }
        wrong_key = self.wrong_credentials(target)
        assert wrong_key is not None
        secret_key = wrong_key["connectionstring"].split("AccountKey=")[1].split(";")[0]
        return [
            (target, (*target.secrets, secret_key)),
            (Target(**{**target.__dict__, "parameters": with_sas}), (signature, *target.secrets)),
        ]


class GCSSecretTests(SecretTests):
    def cli_parameters(self, target: Target, tmp_path: Path) -> list[str]:
        keyfile = tmp_path / "key.json"
        keyfile.write_text(json.dumps(target.parameters["credentials"]))
        others = {k: v for k, v in target.parameters.items() if k != "credentials"}
        return [f"{key}={value}" for key, value in others.items()] + [f"keyfile={keyfile}"]


class TestSecretsGCSFakeGcsServer(GCSSecretTests):
    label = "gcs-fakegcs"


class TestSecretsGCSGcpStorageEmulator(GCSSecretTests):
    label = "gcs-gcpemu"


assert {
    getattr(cls, "label", None)
    for cls in [*SecretTests.__subclasses__(), *GCSSecretTests.__subclasses__()]
} >= set(CLOUD)
