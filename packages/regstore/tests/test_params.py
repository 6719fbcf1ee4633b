"""Parameters.duration: the one Go-duration reader every driver and middleware option uses."""

from __future__ import annotations

from datetime import timedelta

import pytest

from regstore import InvalidParameterError
from regstore.params import Parameters


def read(value: object) -> float:
    return Parameters("demo", {"wait": value}, known=["wait"]).duration("wait", 7.0)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("1h30m", 5400.0), ("250ms", 0.25), (" 2s ", 2.0), (timedelta(minutes=2), 120.0)],
)
def test_go_strings_and_timedeltas_are_seconds(value: object, seconds: float) -> None:
    assert read(value) == pytest.approx(seconds)


@pytest.mark.parametrize("value", [None, ""])
def test_absent_or_empty_is_the_default(value: object) -> None:
    assert read(value) == 7.0


@pytest.mark.parametrize(
    ("value", "allowed"),
    [
        ("30", "a duration such as 20m"),
        (30, "a string with a unit"),
        (True, "a string with a unit"),
        ("0s", "positive"),
        ("-1s", "positive"),
        (timedelta(0), "positive"),
    ],
)
def test_bad_durations_name_the_key_and_what_is_allowed(value: object, allowed: str) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        read(value)
    assert caught.value.parameter == "wait"
    assert caught.value.driver_name == "demo"
    assert allowed in str(caught.value)
