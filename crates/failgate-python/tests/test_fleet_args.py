"""failgate.FleetBreaker's argument errors: a bad URL or policy value raises ValueError
(a wrong type TypeError) naming the argument, at construction, before any connection.
No Redis is needed: validation comes first."""

from __future__ import annotations

from typing import Any

import pytest

import failgate


@pytest.mark.parametrize("url", ["http://127.0.0.1:6379", "not a url", ""])
def test_a_bad_url_raises_value_error_naming_redis(url: str) -> None:
    with pytest.raises(ValueError, match="redis"):
        failgate.FleetBreaker("inventory", redis=url)


def test_a_url_that_is_not_a_str_raises_type_error() -> None:
    with pytest.raises(TypeError, match="redis"):
        failgate.FleetBreaker("inventory", redis=6379)  # type: ignore[arg-type]


BAD_VALUES: list[tuple[str, object]] = [
    ("failure_rate", 0),
    ("failure_rate", 1.5),
    ("failure_rate", float("nan")),
    ("minimum_calls", 0),
    ("minimum_calls", -1),
    ("open_for", -1),
    ("open_for", "soon"),
    ("flush_interval", "1s"),  # at most 100 ms
    ("flush_interval", 0),
    ("redis_timeout", 0),
    ("key_ttl", "1s"),  # at least the window and the open wait
    ("half_open_permits", 0),
    ("half_open_timeout", 0),
    ("half_open_failure_rate", 2.0),
    ("max_retry_after", 0),
    ("initial_state", "open"),
    ("initial_state", "bogus"),
    ("namespace", ""),
    # Counts from many processes only add up by time.
    ("window", failgate.CountWindow(10)),
]


@pytest.mark.parametrize(("arg", "value"), BAD_VALUES, ids=[f"{a}={v!r}" for a, v in BAD_VALUES])
def test_a_bad_policy_value_raises_value_error_naming_it(arg: str, value: object) -> None:
    kwargs: dict[str, Any] = {arg: value}
    with pytest.raises(ValueError, match=arg):
        failgate.FleetBreaker("inventory", redis="redis://127.0.0.1:6379", **kwargs)


def test_idle_poll_below_the_flush_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="idle_poll"):
        failgate.FleetBreaker(
            "inventory", redis="redis://127.0.0.1:6379", flush_interval="20ms", idle_poll="1ms"
        )


@pytest.mark.parametrize(
    ("arg", "value"),
    [("failure_rate", "half"), ("namespace", 3), ("window", 30), ("honor_retry_after", "yes")],
)
def test_a_value_of_the_wrong_type_raises_type_error_naming_it(arg: str, value: object) -> None:
    kwargs: dict[str, Any] = {arg: value}
    with pytest.raises(TypeError, match=arg):
        failgate.FleetBreaker("inventory", redis="redis://127.0.0.1:6379", **kwargs)
