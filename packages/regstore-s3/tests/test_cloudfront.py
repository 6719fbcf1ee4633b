"""The cloudfront middleware: signed URLs verified with the public key, IP filtering, options.

Keys are generated in the test; AWS IP ranges come from a local file or a
loopback web server, never the network. Signing needs no S3 server (the S3
driver over an unreachable endpoint only computes keys and presigned URLs);
the end-to-end tests fetch through moto.
"""

from __future__ import annotations

import base64
import http.server
import json
import logging
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

import regstore
from regstore.config import ConfigError
from regstore.middleware import IncompatibleDriverError, apply_middleware, create_middleware
from regstore_s3.cloudfront import CloudFrontMiddleware
from testenv import backend_env, unique_name

OFFLINE_S3 = {
    "bucket": "registry",
    "region": "us-east-1",
    "accesskey": "AKIAEXAMPLE",
    "secretkey": "example-secret",
    "regionendpoint": "http://s3.internal:9000",
    "rootdirectory": "/prod",
}
BLOB = "/docker/registry/v2/blobs/sha256/ab/abcd/data"
RANGES = {
    "syncToken": "1",
    "prefixes": [
        {"ip_prefix": "3.5.140.0/22", "region": "ap-northeast-2", "service": "AMAZON"},
        {"ip_prefix": "52.94.76.0/22", "region": "us-west-2", "service": "AMAZON"},
        {"ip_prefix": "127.0.0.0/8", "region": "local-1", "service": "AMAZON"},
    ],
    "ipv6_prefixes": [
        {"ipv6_prefix": "2600:1f14::/35", "region": "us-west-2", "service": "AMAZON"},
    ],
}


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def key_file(key: rsa.RSAPrivateKey, tmp_path: Path) -> Path:
    """The key as the registry wants it: PEM, PKCS#1 (``BEGIN RSA PRIVATE KEY``)."""
    path = tmp_path / "cloudfront.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return path


@pytest.fixture
def s3() -> Iterator[regstore.StorageDriver]:
    with regstore.create("s3", OFFLINE_S3) as driver:
        yield driver


@pytest.fixture
def ranges_file(tmp_path: Path) -> str:
    path = tmp_path / "ip-ranges.json"
    path.write_text(json.dumps(RANGES), encoding="utf-8")
    return path.as_uri()


def _options(key_file: Path, **extra: Any) -> dict[str, Any]:
    return {
        "baseurl": "https://d111111abcdef8.cloudfront.net/",
        "privatekey": str(key_file),
        "keypairid": "K2JCJMDEHXQW5F",
        **extra,
    }


def _verify(url: str, key: rsa.RSAPrivateKey) -> tuple[str, int]:
    """Check a canned-policy URL's signature as CloudFront does; returns (resource, expiry)."""
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert set(query) == {"Expires", "Signature", "Key-Pair-Id"}
    assert query["Key-Pair-Id"] == "K2JCJMDEHXQW5F"
    resource = url.split("?", 1)[0]
    expires = int(query["Expires"])
    policy = (
        f'{{"Statement":[{{"Resource":"{resource}",'
        f'"Condition":{{"DateLessThan":{{"AWS:EpochTime":{expires}}}}}}}]}}'
    )
    signature = query["Signature"]
    assert not set(signature) & set("+=/")  # CloudFront's URL-safe alphabet
    raw = base64.b64decode(signature.replace("-", "+").replace("_", "=").replace("~", "/"))
    key.public_key().verify(raw, policy.encode(), padding.PKCS1v15(), hashes.SHA1())
    return resource, expires


# -- signing ------------------------------------------------------------------------------


def test_signed_url_verifies_with_the_public_key(
    s3: regstore.StorageDriver, key: rsa.RSAPrivateKey, key_file: Path
) -> None:
    driver = apply_middleware(s3, [("cloudfront", _options(key_file))])
    url = driver.redirect_url(BLOB)
    assert url is not None
    resource, expires = _verify(url, key)
    # The object key, rootdirectory included (the distribution's origin path stays empty).
    assert resource == f"https://d111111abcdef8.cloudfront.net/prod{BLOB}"
    assert abs(expires - (time.time() + 1200)) < 5
    forged = url.replace("/prod/", "/other/")
    with pytest.raises(InvalidSignature):
        _verify(forged, key)


def test_expiry_is_the_shorter_of_duration_and_the_request(
    s3: regstore.StorageDriver, key: rsa.RSAPrivateKey, key_file: Path
) -> None:
    driver = apply_middleware(s3, [("cloudfront", _options(key_file, duration="5m"))])
    _, expires = _verify(driver.redirect_url(BLOB) or "", key)
    assert abs(expires - (time.time() + 300)) < 5
    _, expires = _verify(driver.redirect_url(BLOB, expires_in=60) or "", key)
    assert abs(expires - (time.time() + 60)) < 5


def test_baseurl_gets_a_scheme_and_a_trailing_slash(
    s3: regstore.StorageDriver, key: rsa.RSAPrivateKey, key_file: Path
) -> None:
    options = _options(key_file, baseurl="cdn.example.com/edge")
    driver = apply_middleware(s3, [("cloudfront", options)])
    resource, _ = _verify(driver.redirect_url(BLOB, method="HEAD") or "", key)
    assert resource == f"https://cdn.example.com/edge/prod{BLOB}"
    assert driver.redirect_url(BLOB, method="PUT") is None


def test_finds_the_s3_driver_through_other_middleware(
    s3: regstore.StorageDriver, key: rsa.RSAPrivateKey, key_file: Path
) -> None:
    driver = apply_middleware(
        s3, [("rewrite", {"host": "s3.example.com"}), ("cloudfront", _options(key_file))]
    )
    resource, _ = _verify(driver.redirect_url(BLOB) or "", key)
    assert resource.startswith("https://d111111abcdef8.cloudfront.net/prod/")


# -- what it needs --------------------------------------------------------------------------


def test_needs_the_s3_driver_below(key_file: Path, tmp_path: Path) -> None:
    fs = regstore.create("filesystem", {"rootdirectory": str(tmp_path / "root")})
    with pytest.raises(IncompatibleDriverError, match="needs the s3 driver underneath"):
        create_middleware("cloudfront", fs, _options(key_file))
    document = {
        "storage": {"filesystem": {"rootdirectory": str(tmp_path / "root")}},
        "middleware": {"storage": [{"name": "cloudfront", "options": _options(key_file)}]},
    }
    with pytest.raises(ConfigError) as caught:
        regstore.from_config(document, {})
    assert caught.value.key == "middleware.storage[0]"
    assert "'filesystem'" in str(caught.value)


def _ec_key(tmp_path: Path) -> str:
    path = tmp_path / "ec.pem"
    path.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(path)


def _encrypted_key(key: rsa.RSAPrivateKey, tmp_path: Path) -> str:
    path = tmp_path / "encrypted.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.BestAvailableEncryption(b"passphrase"),
        )
    )
    return str(path)


@pytest.mark.parametrize(
    ("change", "key_name", "fragment"),
    [
        (lambda o, p, k: o.pop("baseurl"), "baseurl", "is required"),
        (lambda o, p, k: o.pop("privatekey"), "privatekey", "is required"),
        (lambda o, p, k: o.pop("keypairid"), "keypairid", "is required"),
        (lambda o, p, k: o.update(privatekey=str(p / "none.pem")), "privatekey", "cannot read"),
        (lambda o, p, k: o.update(privatekey=__file__), "privatekey", "holds no PEM private key"),
        (lambda o, p, k: o.update(privatekey=_ec_key(p)), "privatekey", "must be an RSA key"),
        (
            lambda o, p, k: o.update(privatekey=_encrypted_key(k, p)),
            "privatekey",
            "is encrypted",
        ),
        (lambda o, p, k: o.update(duration="20"), "duration", "a duration such as 20m"),
        (lambda o, p, k: o.update(duration=1200), "duration", "a string with a unit"),
        (lambda o, p, k: o.update(ipfilteredby="all"), "ipfilteredby", "none, aws or awsregion"),
        (lambda o, p, k: o.update(ipfilteredby="awsregion"), "awsregion", "is required"),
        (lambda o, p, k: o.update(bucket="x"), "bucket", "unknown parameter"),
    ],
)
def test_option_errors_name_the_option(
    s3: regstore.StorageDriver,
    key: rsa.RSAPrivateKey,
    key_file: Path,
    tmp_path: Path,
    change: Callable[[dict[str, Any], Path, rsa.RSAPrivateKey], object],
    key_name: str,
    fragment: str,
) -> None:
    options = _options(key_file)
    change(options, tmp_path, key)
    with pytest.raises(regstore.InvalidParameterError) as caught:
        CloudFrontMiddleware(s3, options)
    assert caught.value.parameter == key_name
    assert fragment in str(caught.value)
    assert "BEGIN" not in str(caught.value)  # never the key itself


# -- IP filtering ---------------------------------------------------------------------------


def _is_s3_url(url: str | None) -> bool:
    assert url is not None
    parts = urlsplit(url)
    return parts.netloc == "s3.internal:9000" and "X-Amz-Signature" in parse_qs(parts.query)


def test_clients_inside_aws_get_the_s3_url(
    s3: regstore.StorageDriver, key_file: Path, ranges_file: str
) -> None:
    options = _options(key_file, ipfilteredby="aws", iprangesurl=ranges_file)
    driver = apply_middleware(s3, [("cloudfront", options)])
    assert _is_s3_url(driver.redirect_url(BLOB, client_ip="3.5.141.7"))
    assert _is_s3_url(driver.redirect_url(BLOB, client_ip="52.94.77.1"))
    assert _is_s3_url(driver.redirect_url(BLOB, client_ip="2600:1f14::1"))
    for outside in ("8.8.8.8", "2001:db8::1", "not-an-ip", None):
        assert not _is_s3_url(driver.redirect_url(BLOB, client_ip=outside))
    driver.close()


def test_awsregion_limits_the_ranges(
    s3: regstore.StorageDriver, key_file: Path, ranges_file: str
) -> None:
    options = _options(
        key_file,
        ipfilteredby=" AWSRegion ",
        awsregion="us-west-2, eu-west-1",
        iprangesurl=ranges_file,
    )
    driver = apply_middleware(s3, [("cloudfront", options)])
    assert _is_s3_url(driver.redirect_url(BLOB, client_ip="52.94.77.1"))
    assert _is_s3_url(driver.redirect_url(BLOB, client_ip="2600:1f14::1"))
    assert not _is_s3_url(driver.redirect_url(BLOB, client_ip="3.5.141.7"))  # ap-northeast-2
    driver.close()


class _RangesServer:
    """A loopback server for ip-ranges.json whose answer a test can change."""

    def __init__(self) -> None:
        self.document: dict[str, Any] = {"prefixes": [], "ipv6_prefixes": []}
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = json.dumps(owner.document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/ip-ranges.json"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def ranges_server() -> Iterator[_RangesServer]:
    server = _RangesServer()
    yield server
    server.close()


def test_ranges_are_refreshed_every_updatefrequency(
    s3: regstore.StorageDriver, key_file: Path, ranges_server: _RangesServer
) -> None:
    options = _options(
        key_file, ipfilteredby="aws", iprangesurl=ranges_server.url, updatefrequency="50ms"
    )
    driver = apply_middleware(s3, [("cloudfront", options)])
    assert not _is_s3_url(driver.redirect_url(BLOB, client_ip="3.5.141.7"))
    ranges_server.document = RANGES
    deadline = time.monotonic() + 10
    while not _is_s3_url(driver.redirect_url(BLOB, client_ip="3.5.141.7")):
        assert time.monotonic() < deadline, "the new ranges were never picked up"
        time.sleep(0.05)
    driver.close()


def test_unreachable_ranges_mean_cloudfront_for_everyone(
    s3: regstore.StorageDriver,
    key_file: Path,
    ranges_server: _RangesServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = ranges_server.url
    ranges_server.close()  # nothing listens there any more
    options = _options(key_file, ipfilteredby="aws", iprangesurl=url)
    with caplog.at_level(logging.WARNING, logger="regstore.cloudfront"):
        driver = apply_middleware(s3, [("cloudfront", options)])
    assert "cannot load the AWS IP ranges" in caplog.text
    assert not _is_s3_url(driver.redirect_url(BLOB, client_ip="3.5.141.7"))
    driver.close()


def test_misspelt_updatefrenquency_still_works_with_a_warning(
    s3: regstore.StorageDriver, key_file: Path, ranges_file: str
) -> None:
    options = _options(key_file, ipfilteredby="aws", iprangesurl=ranges_file, updatefrenquency="1h")
    with pytest.warns(DeprecationWarning, match="updatefrenquency"):
        driver = CloudFrontMiddleware(s3, options)
    assert driver._ranges is not None
    assert driver._ranges.every == 3600
    driver.close()


# -- end to end on moto ------------------------------------------------------------------------


@pytest.fixture
def moto_store(tmp_path: Path, key_file: Path, ranges_file: str) -> Path:
    """A registry config.yml: s3 on moto, cloudfront in front, loopback counted as inside AWS."""
    import boto3
    from botocore.config import Config

    endpoint = backend_env("moto")["REGSTORE_TEST_MOTO_ENDPOINT"]
    bucket = unique_name("cloudfront")
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(s3={"addressing_style": "path"}),
    ).create_bucket(Bucket=bucket)
    document = {
        "version": 0.1,
        "storage": {
            "s3": {
                "region": "us-east-1",
                "bucket": bucket,
                "regionendpoint": endpoint,
                "accesskey": "testing",
                "secretkey": "testing",
                "rootdirectory": "/registry",
            }
        },
        "middleware": {
            "storage": [
                {
                    "name": "cloudfront",
                    "options": _options(key_file, ipfilteredby="aws", iprangesurl=ranges_file),
                }
            ]
        },
    }
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def test_from_config_on_moto(moto_store: Path, key: rsa.RSAPrivateKey) -> None:
    with regstore.from_config(moto_store, {}) as driver:
        driver.put_content(BLOB, b"layer")
        inside = driver.redirect_url(BLOB, client_ip="127.0.0.1")
        assert inside is not None
        with urllib.request.urlopen(inside, timeout=30) as response:
            assert response.read() == b"layer"
        resource, _ = _verify(driver.redirect_url(BLOB, client_ip="8.8.8.8") or "", key)
        assert resource == f"https://d111111abcdef8.cloudfront.net/registry{BLOB}"
        driver.delete("/docker")


def test_regstore_url_command_with_cloudfront(
    moto_store: Path, key: rsa.RSAPrivateKey, capsys: pytest.CaptureFixture[str]
) -> None:
    from regstore.cli import main

    with regstore.from_config(moto_store, {}) as driver:
        driver.put_content(BLOB, b"layer")
    assert main(["--config", str(moto_store), "url", BLOB, "--client-ip", "8.8.8.8"]) == 0
    _verify(capsys.readouterr().out.strip(), key)
    assert main(["--config", str(moto_store), "url", BLOB, "--client-ip", "127.0.0.1"]) == 0
    with urllib.request.urlopen(capsys.readouterr().out.strip(), timeout=30) as response:
        assert response.read() == b"layer"
    assert main(["--config", str(moto_store), "rm", "-r", "/docker"]) == 0
