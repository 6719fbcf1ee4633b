"""The wrapper around every driver: bad arguments raise the contract's errors, saying why."""

from __future__ import annotations

from pathlib import Path

import pytest

import regstore
from regstore import InvalidParameterError, StorageDriver


@pytest.fixture(params=["filesystem", "inmemory"])
def driver(request: pytest.FixtureRequest, tmp_path: Path) -> StorageDriver:
    parameters = {"rootdirectory": str(tmp_path)} if request.param == "filesystem" else {}
    return regstore.create(request.param, parameters)


@pytest.mark.parametrize("expires_in", [0, -1, True, 1.5, "60", None])
@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT"])
def test_a_bad_expires_in_is_an_invalid_parameter_saying_what_is_allowed(
    driver: StorageDriver, expires_in: object, method: str
) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        driver.redirect_url("/blob", method=method, expires_in=expires_in)  # type: ignore[arg-type]
    error = caught.value
    assert isinstance(error, ValueError)
    assert error.parameter == "expires_in"
    assert error.driver_name == driver.name
    assert str(error) == (
        f"{driver.name}: parameter 'expires_in': must be a whole number of seconds"
        f" greater than 0 (an int), got {expires_in!r}"
    )


def test_a_good_expires_in_reaches_the_driver(driver: StorageDriver) -> None:
    driver.put_content("/blob", b"1")
    assert driver.redirect_url("/blob", expires_in=1) is None  # no URLs from this backend
    assert driver.redirect_url("/blob", method="PUT") is None
