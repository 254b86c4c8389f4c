"""Helpers shared by the test_core_* modules: breakers on a ManualClock, and one-line
ways to report an outcome or to catch a refusal."""

from __future__ import annotations

from typing import Any

import pytest

import failgate


class Boom(Exception):
    """The failure the tests raise: a plain Exception, so a failure by default."""


def breaker(clock: failgate.ManualClock, **kwargs: Any) -> failgate.CircuitBreaker:
    """A breaker named "core" on `clock`, with whatever policy the test gives."""
    kwargs.setdefault("name", "core")
    return failgate.CircuitBreaker(clock=clock, **kwargs)


def succeed(b: failgate.CircuitBreaker, n: int = 1) -> None:
    for _ in range(n):
        b.acquire().success()


def fail(b: failgate.CircuitBreaker, n: int = 1) -> None:
    for _ in range(n):
        b.acquire().failure()


def refusal(b: failgate.CircuitBreaker) -> failgate.CircuitOpenError:
    """The CircuitOpenError `b` raises now (the test fails if it admits a call)."""
    with pytest.raises(failgate.CircuitOpenError) as info:
        b.acquire()
    return info.value


def admits(b: failgate.CircuitBreaker) -> bool:
    """Whether `b` admits one call now. An admitted call is reported ignored, which
    changes no count and gives a half-open slot back: asking must not move the state."""
    try:
        permit = b.acquire()
    except failgate.CircuitOpenError:
        return False
    permit.ignore()
    return True


def state(b: failgate.CircuitBreaker) -> failgate.State:
    """`b.state`, through a call: mypy narrows a property after one `is` check and
    would call the next check, after the breaker moved, unreachable."""
    return b.state


def totals(b: failgate.CircuitBreaker) -> failgate.Totals:
    """`b`'s totals since it was built (the breaker must have `totals=True`). Tests
    count calls here rather than in `metrics().successes`, which are the window's
    counts and stay 0 when no rate policy keeps a window."""
    kept = b.metrics().totals
    assert kept is not None, "built without totals=True"
    return kept
