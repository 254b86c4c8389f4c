"""Bad arguments raise ValueError or TypeError naming the argument, never a panic
(issue 17). Each case gives the keywords, the exception type, and the name the
message must contain."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

import failgate

_CASES: list[tuple[dict[str, Any], type[Exception], str]] = [
    # thresholds
    ({"consecutive_failures": 0}, ValueError, "consecutive_failures"),
    ({"consecutive_failures": -1}, ValueError, "consecutive_failures"),
    ({"consecutive_failures": 10**30}, ValueError, "consecutive_failures"),
    ({"minimum_calls": 0}, ValueError, "minimum_calls"),
    ({"minimum_calls": 11, "window": failgate.CountWindow(10)}, ValueError, "minimum_calls"),
    ({"half_open_permits": 0}, ValueError, "half_open_permits"),
    ({"half_open_permits": 1024}, ValueError, "half_open_permits"),
    # rates outside (0, 1], and NaN
    ({"failure_rate": 0}, ValueError, "failure_rate"),
    ({"failure_rate": 1.01}, ValueError, "failure_rate"),
    ({"failure_rate": -0.5}, ValueError, "failure_rate"),
    ({"failure_rate": math.nan}, ValueError, "failure_rate"),
    ({"half_open_failure_rate": 0.0}, ValueError, "half_open_failure_rate"),
    ({"half_open_failure_rate": math.nan}, ValueError, "half_open_failure_rate"),
    ({"slow_calls": (1, 1.5)}, ValueError, "slow_calls"),
    ({"slow_calls": (1, math.nan)}, ValueError, "slow_calls"),
    # durations: negative, zero where a span is needed, NaN, infinite, unparsable
    ({"open_for": -1}, ValueError, "open_for"),
    ({"open_for": math.nan}, ValueError, "open_for"),
    ({"open_for": math.inf}, ValueError, "open_for"),
    ({"open_for": "soon"}, ValueError, "open_for"),
    ({"open_for": "5 parsecs"}, ValueError, "open_for"),
    ({"half_open_timeout": -2}, ValueError, "half_open_timeout"),
    ({"half_open_timeout": 0}, ValueError, "half_open_timeout"),
    ({"forget_failures_after": "-5s"}, ValueError, "forget_failures_after"),
    ({"forget_failures_after": 0}, ValueError, "forget_failures_after"),
    ({"max_retry_after": -1}, ValueError, "max_retry_after"),
    ({"slow_calls": (-1, 0.5)}, ValueError, "slow_calls"),
    ({"slow_calls": ("x", 0.5)}, ValueError, "slow_calls"),
    # wrong types: str or bool for a number
    ({"consecutive_failures": "3"}, TypeError, "consecutive_failures"),
    ({"consecutive_failures": True}, TypeError, "consecutive_failures"),
    ({"consecutive_failures": 2.0}, TypeError, "consecutive_failures"),
    ({"minimum_calls": False}, TypeError, "minimum_calls"),
    ({"half_open_permits": "2"}, TypeError, "half_open_permits"),
    ({"failure_rate": "0.5"}, TypeError, "failure_rate"),
    ({"failure_rate": True}, TypeError, "failure_rate"),
    ({"open_for": True}, TypeError, "open_for"),
    ({"open_for": [1]}, TypeError, "open_for"),
    ({"slow_calls": 1}, TypeError, "slow_calls"),
    ({"slow_calls": (1,)}, TypeError, "slow_calls"),
    ({"name": 5}, TypeError, "name"),
    ({"totals": 1}, TypeError, "totals"),
    ({"honor_retry_after": "yes"}, TypeError, "honor_retry_after"),
    ({"clock": 5}, TypeError, "clock"),
    # unknown keyword
    ({"bogus": 1}, TypeError, "bogus"),
    ({"failure_threshold": 5}, TypeError, "failure_threshold"),
    # windows and backoffs of the wrong type, or bad inside
    ({"window": 10}, TypeError, "window"),
    ({"window": "1m"}, TypeError, "window"),
    ({"window": failgate.Constant(1)}, TypeError, "window"),
    ({"backoff": 5}, TypeError, "backoff"),
    ({"backoff": failgate.CountWindow(5)}, TypeError, "backoff"),
    ({"window": failgate.CountWindow(0)}, ValueError, "window"),
    ({"failure_rate": 0.5, "window": failgate.TimeWindow(0)}, ValueError, "window"),
    ({"failure_rate": 0.5, "window": failgate.TimeWindow(60, 0)}, ValueError, "window"),
    # open_for is a constant backoff: both at once is ambiguous
    ({"open_for": 5, "backoff": failgate.Constant(3)}, ValueError, "open_for and backoff"),
    # initial_state: unknown, or a state only a trip or an order reaches
    ({"initial_state": "sideways"}, ValueError, "initial_state"),
    ({"initial_state": "open"}, ValueError, 'initial_state: "open"'),
    ({"initial_state": failgate.State.HALF_OPEN}, ValueError, '"half_open"'),
    ({"initial_state": 3}, TypeError, "initial_state"),
    # callables that are not, and exclude of non-exception types
    ({"classify": 5}, TypeError, "classify"),
    ({"classify": "lambda r, e: None"}, TypeError, "classify"),
    ({"listeners": [5]}, TypeError, "listeners"),
    ({"listeners": [print, None]}, TypeError, "listeners"),
    ({"exclude": int}, TypeError, "exclude"),
    ({"exclude": (KeyError, 3)}, TypeError, "exclude"),
    ({"exclude": "KeyError"}, TypeError, "exclude"),
    ({"exclude": (KeyError, object)}, TypeError, "exclude"),
    # a combination the docs refuse
    ({"failure_rate": 0.5, "forget_failures_after": 5}, ValueError, "forget_failures_after"),
]


@pytest.mark.parametrize(
    ("kwargs", "error", "name"), _CASES, ids=[repr(c[0])[:60] for c in _CASES]
)
def test_bad_breaker_arguments(
    kwargs: dict[str, Any], error: type[Exception], name: str
) -> None:
    with pytest.raises(error) as info:
        failgate.CircuitBreaker(**kwargs)
    assert type(info.value) is error  # not a subclass such as a PanicException
    assert name in str(info.value)


_VALUE_CASES: list[tuple[Callable[[], object], type[Exception], str]] = [
    (lambda: failgate.CountWindow(-1), ValueError, "calls"),
    (lambda: failgate.CountWindow("5"), TypeError, "calls"),  # type: ignore[arg-type]
    (lambda: failgate.CountWindow(True), TypeError, "calls"),
    (lambda: failgate.TimeWindow(-1), ValueError, "span"),
    (lambda: failgate.TimeWindow("1x"), ValueError, "span"),
    (lambda: failgate.TimeWindow(60, True), TypeError, "buckets"),
    (lambda: failgate.Constant(-1), ValueError, "wait"),
    (lambda: failgate.Constant("x"), ValueError, "wait"),
    # refused when made, by the core's rules, naming the class's own argument
    (lambda: failgate.Constant(0), ValueError, "Constant: wait"),
    (lambda: failgate.Exponential(10, 1), ValueError, "Exponential: max"),
    (lambda: failgate.Exponential(0, 10), ValueError, "Exponential: base"),
    (lambda: failgate.Exponential(1, 10, 1.0), ValueError, "Exponential: jitter"),
    (lambda: failgate.Exponential(1, 10, -0.1), ValueError, "Exponential: jitter"),
    (lambda: failgate.Exponential(1, 10, math.nan), ValueError, "jitter"),
    (lambda: failgate.Exponential(-1, 10), ValueError, "base"),
    (lambda: failgate.Exponential(1, "ten"), ValueError, "max"),
    (lambda: failgate.ManualClock(-1), ValueError, "start"),
    (lambda: failgate.ManualClock().advance(-1), ValueError, "by"),
    (lambda: failgate.ManualClock().advance("x"), ValueError, "by"),
    (lambda: failgate.ManualClock().set(math.nan), ValueError, "to"),
]


@pytest.mark.parametrize(("make", "error", "name"), _VALUE_CASES)
def test_bad_value_arguments(
    make: Callable[[], object], error: type[Exception], name: str
) -> None:
    with pytest.raises(error) as info:
        make()
    assert type(info.value) is error and name in str(info.value)


def test_bad_operator_and_permit_arguments() -> None:
    b = failgate.CircuitBreaker()
    with pytest.raises(ValueError, match="wait"):
        b.open_for(-1)
    with pytest.raises(ValueError, match="wait"):
        b.open_for("later")
    with pytest.raises(ValueError, match="open_for"):
        b.open_for(10**12)  # above the core's longest duration
    assert b.state is failgate.State.CLOSED  # a refused order changes nothing
    with pytest.raises(TypeError, match="add_listener"):
        b.add_listener(5)  # type: ignore[arg-type]
    permit = b.acquire()
    with pytest.raises(ValueError, match="retry_after"):
        permit.failure(retry_after=-1)
    with pytest.raises(TypeError, match="Permit.record: outcome"):
        permit.record("success")  # type: ignore[arg-type]
    assert not permit.done  # a refused report leaves the permit to report
    permit.success()


def test_record_exception_refuses_a_non_exception() -> None:
    permit = failgate.CircuitBreaker().acquire()
    with pytest.raises(TypeError, match="exception"):
        permit.record_exception("not an exception")  # type: ignore[arg-type]
    # The class where an instance belongs, a likely slip: refused too, not abandoned.
    with pytest.raises(TypeError, match="record_exception"):
        permit.record_exception(KeyError)  # type: ignore[arg-type]
    assert not permit.done
    permit.success()


def test_accepted_edge_values() -> None:
    # The closed ends of the documented ranges are accepted.
    failgate.CircuitBreaker(failure_rate=1, half_open_failure_rate=1.0)
    failgate.CircuitBreaker(half_open_permits=1023, consecutive_failures=1)
    failgate.CircuitBreaker(minimum_calls=10, window=failgate.CountWindow(10))
    failgate.CircuitBreaker(backoff=failgate.Exponential("1s", "1s", jitter=0.0))
    failgate.CircuitBreaker(open_for="1m 30s").open_for(0)
