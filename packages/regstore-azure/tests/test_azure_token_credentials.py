"""Token credentials and user delegation SAS, on an Azurite that speaks TLS and OAuth.

Azurite checks a bearer token's audience, issuer and lifetime (not its
signature) with ``--oauth basic``, which it only offers over HTTPS; the test
starts such an instance with a throwaway self-signed certificate.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import os
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from azure.storage.blob import BlobServiceClient
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from regstore import DriverError, StorageDriver
from regstore_azure import AzureDriver
from testenv import backend_env, http_fetch, remove_container

pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")

REPO = Path(__file__).resolve().parents[3]
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
UNVERIFIED = ssl._create_unverified_context()


class UnsignedToken:
    """A token credential with tokens Azurite's basic OAuth check accepts."""

    def get_token(self, *scopes: str, **options: Any) -> AccessToken:
        now = int(time.time())
        claims = {
            "aud": "https://storage.azure.com",
            "iss": f"https://sts.windows.net/{TENANT}/",
            "iat": now - 60,
            "nbf": now - 60,
            "exp": now + 3600,
            "oid": str(uuid.uuid4()),
            "tid": TENANT,
        }
        parts = [{"alg": "RS256", "typ": "JWT"}, claims]
        encoded = [base64.urlsafe_b64encode(json.dumps(p).encode()).rstrip(b"=") for p in parts]
        return AccessToken(b".".join([*encoded, b"c2lnbmF0dXJl"]).decode(), now + 3600)


def _certificate(folder: Path) -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def _azurite_binary() -> Path:
    folder = Path(os.environ.get("REGSTORE_EMULATOR_DIR") or REPO / ".emulators")
    binary = folder / "node" / "node_modules" / ".bin" / "azurite-blob"
    if not binary.is_file():
        message = f"Azurite not installed at {binary}: run scripts/install-emulators"
        if os.environ.get("REGSTORE_REQUIRE_ALL_BACKENDS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return binary


@pytest.fixture(scope="module")
def oauth_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An Azurite with ``--oauth basic`` over HTTPS, for this module only."""
    backend_env("azurite")
    binary = _azurite_binary()
    folder = tmp_path_factory.mktemp("azurite-oauth")
    cert, key = _certificate(folder)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    argv = [
        str(binary),
        *("--blobHost", "127.0.0.1", "--blobPort", str(port)),
        *("--inMemoryPersistence", "--skipApiVersionCheck", "--loose", "--silent"),
        *("--disableTelemetry", "--oauth", "basic", "--cert", str(cert), "--key", str(key)),
    ]
    # Azurite reads copy sources over HTTPS itself: let it trust the certificate.
    env = {**os.environ, "NODE_EXTRA_CA_CERTS": str(cert)}
    with (folder / "azurite.log").open("wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
    endpoint = f"https://127.0.0.1:{port}/devstoreaccount1"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}?comp=list", timeout=2, context=UNVERIFIED)
                break
            except urllib.error.HTTPError:
                break  # any HTTP answer: it listens
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        (folder / "azurite.log").read_text(errors="replace")[-2000:]
                    ) from None
                time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def token_driver(oauth_endpoint: str) -> Iterator[StorageDriver]:
    credential = UnsignedToken()
    with BlobServiceClient(oauth_endpoint, credential, connection_verify=False) as service:
        container = service.create_container(f"tok{uuid.uuid4().hex[:12]}")
        parameters = {
            "accountname": "devstoreaccount1",
            "container": container.container_name,
            "serviceurl": oauth_endpoint,
            "skipverify": "true",
            "rootdirectory": "registry",
        }
        with AzureDriver(parameters, credential=credential) as driver:
            yield driver
        remove_container(container)


def fetch(url: str) -> tuple[int, bytes]:
    status, _, body = http_fetch(url, context=UNVERIFIED)
    return status, body if status < 400 else b""


def test_token_credentials_upload_move_and_delete(token_driver: StorageDriver) -> None:
    token_driver.put_content("/link", b"small")
    with token_driver.writer("/uploads/1/data") as writer:
        writer.write(b"first ")
    writer = token_driver.writer("/uploads/1/data", append=True)
    writer.write(b"second")
    writer.commit()  # block copies from the staging blob under a user delegation SAS
    token_driver.move("/uploads/1/data", "/blobs/data")  # a copy under the same kind of SAS
    assert token_driver.get_content("/blobs/data") == b"first second"
    assert token_driver.list("/") == ["/blobs", "/link"]
    token_driver.delete("/blobs")
    token_driver.delete("/link")
    assert list(token_driver.walk("/")) == []


def test_redirects_are_user_delegation_sas_urls(token_driver: StorageDriver) -> None:
    token_driver.put_content("/file", b"delegated")
    url = token_driver.redirect_url("/file", expires_in=300)
    assert url is not None
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    assert query["skoid"]  # signed with a user delegation key
    assert query["sp"] == "r"
    assert query["spr"] == "https"
    assert fetch(url) == (200, b"delegated")
    parts = urllib.parse.urlsplit(url)
    first = "B" if query["sig"].startswith("A") else "A"
    forged = urllib.parse.urlencode({**query, "sig": first + query["sig"][1:]})
    assert fetch(urllib.parse.urlunsplit(parts._replace(query=forged)))[0] == 403
    token_driver.delete("/file")


def test_user_delegation_urls_last_at_most_seven_days(token_driver: StorageDriver) -> None:
    token_driver.put_content("/file", b"x")
    with pytest.raises(DriverError, match="at most 7 days"):
        token_driver.redirect_url("/file", expires_in=8 * 24 * 3600)
    token_driver.delete("/file")
