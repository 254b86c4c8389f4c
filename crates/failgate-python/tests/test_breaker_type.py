"""failgate.Breaker: the public type of both breakers, for annotations and isinstance."""

from __future__ import annotations

import pytest

import failgate
from _fleet_support import free_port


def describe(breaker: failgate.Breaker) -> str:
    """Code written once for either breaker, as the integrations are."""
    return f"{breaker.name}: {breaker.state.value}"


def test_both_breakers_are_breakers_and_share_its_methods() -> None:
    local = failgate.CircuitBreaker(name="db")
    fleet = failgate.FleetBreaker("db", redis=f"redis://127.0.0.1:{free_port()}")
    for breaker in (local, fleet):
        assert isinstance(breaker, failgate.Breaker)
        assert describe(breaker) == "db: closed"
        breaker.force_open()
        with pytest.raises(failgate.CircuitOpenError):
            breaker.call(lambda: None)
        breaker.reset()
        assert breaker.call(lambda: 7) == 7
    assert "Breaker" in failgate.__all__


def test_a_breaker_is_not_made_directly() -> None:
    with pytest.raises(TypeError):
        failgate.Breaker()
    assert not isinstance(object(), failgate.Breaker)
