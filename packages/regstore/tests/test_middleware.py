"""Storage middleware: redirect, rewrite, finding them by name, delegating everything else."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

import regstore
from regstore import CheckedDriver, middleware, unwrap
from regstore.drivers.filesystem import FilesystemDriver
from regstore.drivers.inmemory import InMemoryDriver
from regstore.middleware import (
    InvalidMiddlewareError,
    RedirectsDisabled,
    apply_middleware,
    create_middleware,
)
from regstore.params import parse_duration
from regstore.testsuite import DriverSuite


def _fetch(url: str, method: str = "GET") -> tuple[int, bytes, dict[str, str]]:
    request = urllib.request.Request(url, method=method)
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.read(), dict(response.headers.items())


# -- redirect --------------------------------------------------------------------------


def test_redirect_joins_base_url_and_path_for_get_and_head() -> None:
    driver = apply_middleware(
        regstore.create("inmemory"), [("redirect", {"baseurl": "https://cdn.example.com/reg/"})]
    )
    path = "/docker/registry/v2/blobs/sha256/ab/abcd/data"
    assert driver.redirect_url(path) == f"https://cdn.example.com/reg{path}"
    assert driver.redirect_url(path, method="HEAD") == f"https://cdn.example.com/reg{path}"
    assert driver.redirect_url(path, method="DELETE") is None  # the contract: GET and HEAD only


def test_redirect_uses_the_path_not_the_rootdirectory(tmp_path: Path) -> None:
    fs = regstore.create("filesystem", {"rootdirectory": str(tmp_path / "root")})
    driver = apply_middleware(fs, [("redirect", {"baseurl": "http://files.local:8080"})])
    assert driver.redirect_url("/a/b") == "http://files.local:8080/a/b"


def test_redirect_url_serves_the_content(tmp_path: Path, serve_directory: Any) -> None:
    root = tmp_path / "root"
    driver = apply_middleware(
        regstore.create("filesystem", {"rootdirectory": str(root)}),
        [("redirect", {"baseurl": serve_directory(root)})],
    )
    driver.put_content("/blobs/data", b"layer bytes")
    url = driver.redirect_url("/blobs/data")
    assert url is not None
    status, body, _ = _fetch(url)
    assert (status, body) == (200, b"layer bytes")


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({}, "'baseurl': is required"),
        ({"baseurl": "cdn.example.com/x"}, "has no scheme"),
        ({"baseurl": "https:///x"}, "has no host"),
        ({"baseurl": "https://cdn.example.com/x?token=1"}, "must not carry a query"),
        ({"baseurl": 5}, "has no scheme"),
        ({"baseurl": "https://cdn.example.com", "url": "x"}, "unknown parameter; redirect accepts"),
    ],
)
def test_redirect_options_are_checked(options: dict[str, Any], fragment: str) -> None:
    with pytest.raises(regstore.InvalidParameterError) as caught:
        create_middleware("redirect", regstore.create("inmemory"), options)
    assert caught.value.driver_name == "redirect"
    assert fragment in str(caught.value)


# -- rewrite --------------------------------------------------------------------------


def test_rewrite_changes_scheme_host_and_prefix_of_the_inner_url() -> None:
    driver = apply_middleware(
        regstore.create("inmemory"),
        [
            ("redirect", {"baseurl": "http://internal:9000/bucket/registry"}),
            (
                "rewrite",
                {"scheme": "https", "host": "cdn.example.com", "trimpathprefix": "/bucket"},
            ),
        ],
    )
    assert driver.redirect_url("/a/b") == "https://cdn.example.com/registry/a/b"


def test_rewrite_trims_whole_path_components_only() -> None:
    driver = apply_middleware(
        regstore.create("inmemory"),
        [
            ("redirect", {"baseurl": "http://h/registry"}),
            ("rewrite", {"trimpathprefix": "/reg"}),
        ],
    )
    assert driver.redirect_url("/a") == "http://h/registry/a"


def test_rewrite_passes_no_url_through(tmp_path: Path) -> None:
    fs = regstore.create("filesystem", {"rootdirectory": str(tmp_path)})
    driver = apply_middleware(fs, [("rewrite", {"host": "cdn.example.com"})])
    assert driver.redirect_url("/a") is None


class _Recorder(middleware.StorageMiddleware):
    """Remembers the URL the driver below gave, to compare with what came out on top."""

    seen: str | None = None

    def redirect_url(self, path: str, **kwargs: Any) -> str | None:
        self.seen = super().redirect_url(path, **kwargs)
        return self.seen


def test_rewrite_keeps_the_signature_of_a_presigned_url() -> None:
    pytest.importorskip("regstore_s3")
    s3 = regstore.create(
        "s3",
        {
            "bucket": "registry",
            "region": "us-east-1",
            "accesskey": "AKIAEXAMPLE",
            "secretkey": "example-secret",
            "regionendpoint": "http://s3.internal:9000",
            "rootdirectory": "/prod",
        },
    )
    recorder = _Recorder(s3)
    rewrite = {"scheme": "https", "host": "s3.example.com"}
    driver = apply_middleware(recorder, [("rewrite", rewrite)])
    rewritten = driver.redirect_url("/a/data")
    assert rewritten is not None
    assert recorder.seen is not None
    before, after = urlsplit(recorder.seen), urlsplit(rewritten)
    assert before.netloc == "s3.internal:9000"
    assert (after.scheme, after.netloc) == ("https", "s3.example.com")
    assert after.path == before.path == "/registry/prod/a/data"
    assert after.query == before.query  # byte for byte: the signature still matches
    assert "X-Amz-Signature" in parse_qs(after.query)
    driver.close()


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"scheme": "ht tp"}, "must be a URL scheme"),
        ({"host": "cdn.example.com/path"}, "must be a host name"),
        ({"host": ["a"]}, "must be a string"),
    ],
)
def test_rewrite_options_are_checked(options: dict[str, Any], fragment: str) -> None:
    with pytest.raises(regstore.InvalidParameterError, match=fragment):
        create_middleware("rewrite", regstore.create("inmemory"), options)


# -- disabling redirects -----------------------------------------------------------------


def test_redirects_disabled_hides_the_drivers_url() -> None:
    base = apply_middleware(regstore.create("inmemory"), [("redirect", {"baseurl": "http://h"})])
    assert base.redirect_url("/a") == "http://h/a"
    assert RedirectsDisabled(base).redirect_url("/a") is None


# -- finding middleware by name ------------------------------------------------------------


def test_unwrap_finds_the_driver_below_every_middleware(tmp_path: Path) -> None:
    fs = regstore.create("filesystem", {"rootdirectory": str(tmp_path)})
    driver = apply_middleware(
        fs, [("rewrite", {"host": "a"}), ("redirect", {"baseurl": "http://b"})]
    )
    assert isinstance(driver, CheckedDriver)
    assert isinstance(unwrap(driver), FilesystemDriver)
    assert driver.name == "filesystem"


def test_no_middleware_returns_the_driver_itself() -> None:
    driver = regstore.create("inmemory")
    assert apply_middleware(driver, []) is driver


def test_unknown_middleware_lists_the_available_ones() -> None:
    with pytest.raises(InvalidMiddlewareError) as caught:
        create_middleware("cdn", regstore.create("inmemory"))
    assert isinstance(caught.value, LookupError)
    assert "no storage middleware registered with name 'cdn'" in str(caught.value)
    assert "redirect" in str(caught.value)
    assert "rewrite" in str(caught.value)


def test_cloudfront_without_the_s3_package_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    from regstore.middleware.registry import MIDDLEWARE

    real = MIDDLEWARE.entry_points
    monkeypatch.setattr(
        MIDDLEWARE,
        "entry_points",
        lambda name=None: [e for e in real(name) if e.name != "cloudfront"],
    )
    with pytest.raises(InvalidMiddlewareError, match=r'pip install "regstore\[s3\]"'):
        create_middleware("cloudfront", regstore.create("inmemory"))


def test_register_middleware_in_process_and_twice() -> None:
    class Tagged(middleware.StorageMiddleware):
        def __init__(self, inner: regstore.StorageDriver, options: Any) -> None:
            super().__init__(inner)
            self.tag = options["tag"]

        def redirect_url(self, path: str, **kwargs: Any) -> str | None:
            return f"tag://{self.tag}{path}"

    middleware.register_middleware("tagged-once", Tagged)
    with pytest.raises(ValueError, match="already registered"):
        middleware.register_middleware("tagged-once", Tagged)
    assert "tagged-once" in middleware.available_middleware()
    driver = apply_middleware(regstore.create("inmemory"), [("tagged-once", {"tag": "t"})])
    assert driver.redirect_url("/x") == "tag://t/x"


def test_two_distributions_offering_one_middleware_name(tmp_path: Path) -> None:
    for dist in ("regstore_cdn_one", "regstore_cdn_two"):
        info = tmp_path / f"{dist}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
        (info / "entry_points.txt").write_text(
            "[regstore.middleware]\ncdn = regstore.middleware.redirect:RedirectMiddleware\n"
        )
    code = textwrap.dedent(
        """
        import json, regstore
        from regstore.middleware import create_middleware, middleware_distributions
        try:
            create_middleware("cdn", regstore.create("inmemory"), {"baseurl": "http://h"})
        except LookupError as error:
            print(json.dumps([str(error), middleware_distributions()["cdn"]]))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    message, dists = json.loads(result.stdout)
    assert "more than one installed distribution" in message
    assert "regstore_cdn_one 1.0" in message
    assert "regstore_cdn_two 1.0" in message
    assert dists == ["regstore_cdn_one 1.0", "regstore_cdn_two 1.0"]


# -- Go durations (cloudfront's duration and updatefrequency) -------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("20m", 1200), ("1h30m", 5400), ("90s", 90), ("1.5h", 5400), ("500ms", 0.5), ("0", 0)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "20", "m", "1d", "1h-5m", "abc"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="a duration such as 20m"):
        parse_duration(text)


# -- a middleware changes redirects only: the whole contract still holds ----------------------


class TestRedirectMiddlewareConformance(DriverSuite):
    """Filesystem + redirect middleware + a web server over the root: every suite test passes."""

    @pytest.fixture
    def root(self, tmp_path: Path) -> Path:
        return tmp_path / "registry"

    @pytest.fixture
    def driver(
        self, root: Path, serve_directory: Callable[[Path], str]
    ) -> Iterator[regstore.StorageDriver]:
        base = serve_directory(root)
        fs = regstore.create("filesystem", {"rootdirectory": str(root)})
        with apply_middleware(fs, [("redirect", {"baseurl": base})]) as driver:
            yield driver

    @pytest.fixture
    def second_driver(self, root: Path) -> Iterator[regstore.StorageDriver]:
        fs = regstore.create("filesystem", {"rootdirectory": str(root)})
        with apply_middleware(fs, [("rewrite", {"host": "unused"})]) as driver:
            yield driver


def test_middleware_delegates_to_inmemory_writer() -> None:
    driver = apply_middleware(regstore.create("inmemory"), [("rewrite", {})])
    assert isinstance(unwrap(driver), InMemoryDriver)
    with driver.writer("/a/b") as writer:
        writer.write(b"abc")
    with driver.writer("/a/b", append=True) as writer:
        writer.write(b"def")
        writer.commit()
    assert driver.get_content("/a/b") == b"abcdef"
    assert [info.path for info in driver.walk("/")] == ["/a", "/a/b"]
