"""What the requests and httpx integrations share (failgate._http): reading a
Retry-After value, and naming an origin for per-host breakers."""

from __future__ import annotations

import pytest

import failgate
from failgate._http import parse_retry_after
from failgate.httpx import BreakerTransport
from failgate.requests import BreakerAdapter


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("soon", None),
        ("-5", None),
        ("1.5", None),
        ("", None),
        (None, None),
        ("١٢", None),  # Arabic-Indic digits: str.isdigit, but no HTTP number
        ("99999999999999999999999", 1e9),  # capped: the breaker must accept it
        ("Wed, 21 Oct 2015 07:29:00 GMT", 60.0),
        ("Wednesday, 21-Oct-15 07:29:00 GMT", 60.0),  # RFC 850
        ("Wed Oct 21 07:29:00 2015", 60.0),  # asctime
        ("Wed, 21 Oct 2015 07:00:00 GMT", 0.0),  # in the past: no wait
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    now = 1_445_412_480.0  # Wed, 21 Oct 2015 07:28:00 GMT, as in the core's test
    assert parse_retry_after(value, now=now) == expected


def test_requests_origins_are_normalised() -> None:
    made: list[str] = []

    def per_host(origin: str) -> failgate.CircuitBreaker:
        made.append(origin)
        return failgate.CircuitBreaker(name=origin)

    adapter = BreakerAdapter(per_host=per_host)
    a = adapter.breaker_for("https://API.example.com/x")
    assert adapter.breaker_for("https://api.example.com:443/y?z") is a
    assert adapter.breaker_for("http://api.example.com/") is not a
    adapter.breaker_for("http://[::1]:8080/")
    assert made == ["https://api.example.com:443", "http://api.example.com:80",
                    "http://[::1]:8080"]


def test_httpx_origins_are_normalised_the_same_way() -> None:
    made: list[str] = []

    def per_host(origin: str) -> failgate.CircuitBreaker:
        made.append(origin)
        return failgate.CircuitBreaker(name=origin)

    transport = BreakerTransport(per_host=per_host)
    a = transport.breaker_for("https://API.example.com/x")
    assert transport.breaker_for("https://api.example.com:443/y?z") is a
    transport.breaker_for("http://api.example.com/")
    transport.breaker_for("http://[::1]:8080/")
    assert made == ["https://api.example.com:443", "http://api.example.com:80",
                    "http://[::1]:8080"]
    transport.close()
