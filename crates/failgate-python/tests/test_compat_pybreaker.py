"""pybreaker 1.4.1's own tests (tests/pybreaker_test.py: the storage-based and
configuration cases; adding and removing listeners is in test_compat_pybreaker_more),
ported onto failgate.compat.pybreaker. Same scenarios, our words; pybreaker's real-time
sleeps become a ManualClock's advances."""

from __future__ import annotations

import traceback
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import pytest

import failgate
import failgate.compat.pybreaker as pybreaker
from failgate.compat.pybreaker import (
    CircuitBreaker,
    CircuitBreakerError,
    CircuitBreakerListener,
    CircuitBreakerState,
)


class Fixture:
    def __init__(self) -> None:
        self.clock = failgate.ManualClock()
        self.breaker = CircuitBreaker(clock=self.clock)

    def make(self, **kwargs: Any) -> CircuitBreaker:
        self.breaker = CircuitBreaker(clock=self.clock, **kwargs)
        return self.breaker


@pytest.fixture
def fx() -> Fixture:
    return Fixture()


def ok() -> bool:
    return True


def err() -> None:
    raise NotImplementedError


def trip(breaker: CircuitBreaker, times: int) -> None:
    """Fails ``times`` calls: the last one trips and raises CircuitBreakerError."""
    for _ in range(times - 1):
        with pytest.raises(NotImplementedError):
            breaker.call(err)
    with pytest.raises(CircuitBreakerError):
        breaker.call(err)


# -- CircuitBreakerStorageBasedTestCase (in-memory storage only) --------------------------


def test_successful_call(fx: Fixture) -> None:
    assert fx.breaker.call(ok)
    assert fx.breaker.fail_counter == 0
    assert fx.breaker.current_state == "closed"


def test_one_failed_call(fx: Fixture) -> None:
    with pytest.raises(NotImplementedError):
        fx.breaker.call(err)
    assert fx.breaker.fail_counter == 1
    assert fx.breaker.current_state == "closed"


def test_one_successful_call_after_failed_call(fx: Fixture) -> None:
    with pytest.raises(NotImplementedError):
        fx.breaker.call(err)
    assert fx.breaker.fail_counter == 1
    assert fx.breaker.call(ok)
    assert fx.breaker.fail_counter == 0
    assert fx.breaker.current_state == "closed"


def test_several_failed_calls_setting_absent(fx: Fixture) -> None:
    breaker = fx.make(fail_max=3)
    trip(breaker, 3)
    assert breaker.fail_counter == 3
    assert breaker.current_state == "open"


def test_throw_new_error_on_trip_false(fx: Fixture) -> None:
    breaker = fx.make(fail_max=3, throw_new_error_on_trip=False)
    for _ in range(3):
        with pytest.raises(NotImplementedError):
            breaker.call(err)
    assert breaker.fail_counter == 3
    assert breaker.current_state == "open"
    with pytest.raises(CircuitBreakerError):
        breaker.call(err)
    assert breaker.fail_counter == 3
    assert breaker.current_state == "open"


def test_throw_new_error_on_trip_true(fx: Fixture) -> None:
    breaker = fx.make(fail_max=3, throw_new_error_on_trip=True)
    trip(breaker, 3)
    assert breaker.fail_counter == 3
    assert breaker.current_state == "open"


def test_traceback_in_circuitbreaker_error(fx: Fixture) -> None:
    breaker = fx.make(fail_max=3)
    for _ in range(2):
        with pytest.raises(NotImplementedError):
            breaker.call(err)
    try:
        breaker.call(err)
        pytest.fail("the tripping call should raise CircuitBreakerError")
    except CircuitBreakerError as e:
        assert "NotImplementedError" in traceback.format_exc()
        assert isinstance(e.__cause__, NotImplementedError)
        assert str(e) == "Failures threshold reached, circuit breaker opened"
    assert breaker.fail_counter == 3
    assert breaker.current_state == "open"


def test_failed_call_after_timeout(fx: Fixture) -> None:
    breaker = fx.make(fail_max=3, reset_timeout=0.5)
    for _ in range(2):
        with pytest.raises(NotImplementedError):
            breaker.call(err)
    assert breaker.current_state == "closed"
    with pytest.raises(CircuitBreakerError):
        breaker.call(err)
    assert breaker.fail_counter == 3
    fx.clock.advance(0.6)
    with pytest.raises(CircuitBreakerError, match="Trial call failed"):
        breaker.call(err)
    assert breaker.fail_counter == 4
    assert breaker.current_state == "open"


def test_successful_after_timeout(fx: Fixture) -> None:
    breaker = fx.make(fail_max=3, reset_timeout=1)
    suc = mock.MagicMock(return_value=True)
    trip(breaker, 3)
    with pytest.raises(CircuitBreakerError, match="Timeout not elapsed"):
        breaker.call(suc)
    assert breaker.fail_counter == 3
    fx.clock.advance(1)
    assert breaker.call(suc)
    assert breaker.fail_counter == 0
    assert breaker.current_state == "closed"
    assert suc.call_count == 1


def test_failed_call_when_halfopen(fx: Fixture) -> None:
    fx.breaker.half_open()
    assert fx.breaker.fail_counter == 0
    assert fx.breaker.current_state == "half-open"
    with pytest.raises(CircuitBreakerError):
        fx.breaker.call(err)
    assert fx.breaker.fail_counter == 1
    assert fx.breaker.current_state == "open"


def test_successful_call_when_halfopen(fx: Fixture) -> None:
    fx.breaker.half_open()
    assert fx.breaker.fail_counter == 0
    assert fx.breaker.current_state == "half-open"
    assert fx.breaker.call(ok)
    assert fx.breaker.fail_counter == 0
    assert fx.breaker.current_state == "closed"


def test_close(fx: Fixture) -> None:
    breaker = fx.make(fail_max=3)
    trip(breaker, 3)
    with pytest.raises(CircuitBreakerError):
        breaker.call(err)
    assert breaker.fail_counter == 3
    assert breaker.current_state == "open"
    breaker.close()
    assert breaker.fail_counter == 0
    assert breaker.current_state == "closed"


class TransitionListener(CircuitBreakerListener):
    def __init__(self) -> None:
        self.out = ""

    def state_change(
        self,
        cb: CircuitBreaker,
        old_state: CircuitBreakerState | None,
        new_state: CircuitBreakerState,
    ) -> None:
        assert cb
        if old_state:
            self.out += old_state.name
        self.out += "->" + new_state.name + ","


def test_transition_events(fx: Fixture) -> None:
    listener = TransitionListener()
    breaker = fx.make(listeners=(listener,))
    assert breaker.current_state == "closed"
    breaker.open()
    assert breaker.current_state == "open"
    breaker.half_open()
    assert breaker.current_state == "half-open"
    breaker.close()
    assert breaker.current_state == "closed"
    assert listener.out == "closed->open,open->half-open,half-open->closed,"


class CallListener(CircuitBreakerListener):
    def __init__(self) -> None:
        self.out = ""

    def before_call(self, cb: CircuitBreaker, func: Any, *args: Any, **kwargs: Any) -> None:
        self.out += "-"

    def success(self, cb: CircuitBreaker) -> None:
        self.out += "success"

    def failure(self, cb: CircuitBreaker, exc: BaseException) -> None:
        assert exc
        self.out += "failure"

    def state_change(self, cb: CircuitBreaker, old: Any, new: CircuitBreakerState) -> None:
        self.out += f"[{new.name}]"


def test_call_events(fx: Fixture) -> None:
    listener = CallListener()
    breaker = fx.make(listeners=(listener,))
    assert breaker.call(ok)
    with pytest.raises(NotImplementedError):
        breaker.call(err)
    assert listener.out == "-success-failure"


def test_call_events_order_on_trip_and_close(fx: Fixture) -> None:
    """pybreaker's order, kept: failure before the trip's state_change, and the close's
    state_change before success."""
    listener = CallListener()
    breaker = fx.make(fail_max=1, reset_timeout=1, listeners=(listener,))
    with pytest.raises(CircuitBreakerError):
        breaker.call(err)
    fx.clock.advance(1)
    assert breaker.call(ok)
    assert listener.out == "-failure[open][half-open]-[closed]success"


def test_generator(fx: Fixture) -> None:
    @fx.breaker
    def suc(value: bool) -> Generator[bool, Any, None]:
        "Docstring"
        yield value

    @fx.breaker
    def failing(value: bool) -> Generator[bool, Any, None]:
        "Docstring"
        x = yield value
        raise NotImplementedError(x)

    s = suc(True)
    e = failing(True)
    next(e)
    with pytest.raises(NotImplementedError):
        e.send(True)
    assert fx.breaker.fail_counter == 1
    assert next(s)
    with pytest.raises(StopIteration):
        next(s)
    assert fx.breaker.fail_counter == 0


def test_contextmanager(fx: Fixture) -> None:
    breaker = fx.breaker

    class Foo:
        @contextmanager
        @breaker
        def wrapper(self) -> Iterator[None]:
            try:
                yield
            except NotImplementedError:
                raise ValueError

        def foo(self) -> None:
            with self.wrapper():
                raise NotImplementedError

    with pytest.raises(ValueError):
        Foo().foo()
    # pybreaker counts the error thrown into the generator as a failure.
    assert breaker.fail_counter == 1


# -- CircuitBreakerConfigurationTestCase ---------------------------------------------------


def test_default_state() -> None:
    for state in (pybreaker.STATE_OPEN, pybreaker.STATE_CLOSED, pybreaker.STATE_HALF_OPEN):
        breaker = CircuitBreaker(state_storage=pybreaker.CircuitMemoryStorage(state))
        assert breaker.state.name == state
        assert breaker.current_state == state


def test_default_params(fx: Fixture) -> None:
    assert fx.breaker.fail_counter == 0
    assert fx.breaker.reset_timeout == 60
    assert fx.breaker.fail_max == 5
    assert fx.breaker.success_threshold == 1
    assert fx.breaker.current_state == "closed"
    assert list(fx.breaker.excluded_exceptions) == []
    assert list(fx.breaker.listeners) == []
    assert isinstance(fx.breaker.listeners, tuple)


def test_new_with_custom_reset_timeout() -> None:
    breaker = CircuitBreaker(reset_timeout=30)
    assert (breaker.fail_counter, breaker.reset_timeout, breaker.fail_max) == (0, 30, 5)
    assert list(breaker.excluded_exceptions) == []
    assert list(breaker.listeners) == []


def test_new_with_custom_fail_max() -> None:
    breaker = CircuitBreaker(fail_max=10)
    assert (breaker.fail_counter, breaker.reset_timeout, breaker.fail_max) == (0, 60, 10)


def test_new_with_custom_excluded_exceptions() -> None:
    breaker = CircuitBreaker(exclude=[Exception])
    assert list(breaker.excluded_exceptions) == [Exception]
    assert (breaker.fail_counter, breaker.reset_timeout, breaker.fail_max) == (0, 60, 5)


def test_fail_max_setter(fx: Fixture) -> None:
    assert fx.breaker.fail_max == 5
    fx.breaker.fail_max = 10
    assert fx.breaker.fail_max == 10


def test_fail_max_setter_takes_effect(fx: Fixture) -> None:
    """Ours: the setter rebuilds the inner breaker, so the new threshold applies."""
    fx.breaker.fail_max = 2
    trip(fx.breaker, 2)
    assert fx.breaker.current_state == "open"


def test_reset_timeout_setter(fx: Fixture) -> None:
    assert fx.breaker.reset_timeout == 60
    fx.breaker.reset_timeout = 30
    assert fx.breaker.reset_timeout == 30
    fx.breaker.fail_max = 1
    with pytest.raises(CircuitBreakerError) as info:
        fx.breaker.call(err)
    assert info.value.retry_after == 30


def test_setter_keeps_an_open_breaker_open(fx: Fixture) -> None:
    breaker = fx.make(fail_max=1, reset_timeout=10)
    trip(breaker, 1)
    fx.clock.advance(4)
    breaker.fail_max = 3
    assert breaker.current_state == "open"
    with pytest.raises(CircuitBreakerError) as info:
        breaker.call(ok)
    assert info.value.retry_after == pytest.approx(6)
    fx.clock.advance(6)
    assert breaker.call(ok)
    assert breaker.current_state == "closed"


def test_call_with_no_args(fx: Fixture) -> None:
    assert fx.breaker.call(ok)


def test_call_with_args(fx: Fixture) -> None:
    def func(arg1: int, arg2: str) -> list[object]:
        return [arg1, arg2]

    assert fx.breaker.call(func, 42, "abc") == [42, "abc"]


def test_call_with_kwargs(fx: Fixture) -> None:
    def func(**kwargs: int) -> dict[str, int]:
        return kwargs

    assert fx.breaker.call(func, a=1, b=2) == {"a": 1, "b": 2}
