"""pybreaker 1.4.1's tests, continued: exclusions, adding and removing listeners,
decorators (asyncio ones included), names, success_threshold, states, storages, errors and
the context manager. The thread-safety cases are in test_compat_pybreaker_threads."""

from __future__ import annotations

import threading
from typing import Any
from unittest import mock

import pytest

import failgate
import failgate.compat.pybreaker as pybreaker
from failgate.compat.pybreaker import CircuitBreaker, CircuitBreakerError, CircuitBreakerListener


def ok() -> bool:
    return True


def err() -> None:
    raise NotImplementedError


class Valued(Exception):
    def __init__(self, value: str) -> None:
        super().__init__(value)
        self.value = value


def raiser(exc: BaseException) -> Any:
    def f() -> None:
        raise exc

    return f


def good_filter(e: BaseException) -> bool:
    return isinstance(e, Valued) and e.value == "good"


def test_excluded_exceptions() -> None:
    breaker = CircuitBreaker(exclude=[LookupError])
    with pytest.raises(NotImplementedError):
        breaker.call(err)
    assert breaker.fail_counter == 1
    with pytest.raises(LookupError):  # a business error: pybreaker's success
        breaker.call(raiser(LookupError()))
    assert breaker.fail_counter == 0
    with pytest.raises(NotImplementedError):
        breaker.call(err)
    assert breaker.fail_counter == 1
    with pytest.raises(KeyError):  # subclasses too
        breaker.call(raiser(KeyError()))
    assert breaker.fail_counter == 0


def test_excluded_callable_exceptions() -> None:
    breaker = CircuitBreaker(exclude=[good_filter])
    with pytest.raises(Valued):
        breaker.call(raiser(Valued("bad")))
    assert breaker.fail_counter == 1
    with pytest.raises(Valued):
        breaker.call(raiser(Valued("good")))
    assert breaker.fail_counter == 0
    with pytest.raises(NotImplementedError):
        breaker.call(err)
    assert breaker.fail_counter == 1


def test_excluded_callable_and_types_exceptions() -> None:
    breaker = CircuitBreaker(exclude=[good_filter, LookupError])
    for exc, counter in [
        (Valued("bad"), 1),
        (Valued("good"), 0),
        (NotImplementedError(), 1),
        (LookupError(), 0),
    ]:
        with pytest.raises(type(exc)):
            breaker.call(raiser(exc))
        assert breaker.fail_counter == counter
    assert not breaker.is_system_error(KeyError())
    assert breaker.is_system_error(ValueError())


def test_excluded_error_in_half_open_closes_as_pybreaker_does() -> None:
    breaker = CircuitBreaker(exclude=[LookupError])
    breaker.half_open()
    with pytest.raises(LookupError):
        breaker.call(raiser(LookupError()))
    assert breaker.current_state == "closed"


def test_add_excluded_exception() -> None:
    breaker = CircuitBreaker()
    assert list(breaker.excluded_exceptions) == []
    breaker.add_excluded_exception(NotImplementedError)
    assert list(breaker.excluded_exceptions) == [NotImplementedError]
    breaker.add_excluded_exception(Exception)
    assert list(breaker.excluded_exceptions) == [NotImplementedError, Exception]
    with pytest.raises(NotImplementedError):
        breaker.call(err)
    assert breaker.fail_counter == 0


def test_add_excluded_exceptions() -> None:
    breaker = CircuitBreaker()
    breaker.add_excluded_exceptions(NotImplementedError, Exception)
    assert list(breaker.excluded_exceptions) == [NotImplementedError, Exception]


def test_remove_excluded_exception() -> None:
    breaker = CircuitBreaker()
    breaker.add_excluded_exception(NotImplementedError)
    assert list(breaker.excluded_exceptions) == [NotImplementedError]
    breaker.remove_excluded_exception(NotImplementedError)
    assert list(breaker.excluded_exceptions) == []


def test_add_listener() -> None:
    breaker = CircuitBreaker()
    assert list(breaker.listeners) == []
    assert isinstance(breaker.listeners, tuple)
    first = CircuitBreakerListener()
    breaker.add_listener(first)
    assert list(breaker.listeners) == [first]
    second = CircuitBreakerListener()
    breaker.add_listener(second)
    assert list(breaker.listeners) == [first, second]


def test_add_listeners() -> None:
    breaker = CircuitBreaker()
    first, second = CircuitBreakerListener(), CircuitBreakerListener()
    breaker.add_listeners(first, second)
    assert list(breaker.listeners) == [first, second]


def test_remove_listener() -> None:
    breaker = CircuitBreaker()
    first = CircuitBreakerListener()
    breaker.add_listener(first)
    assert list(breaker.listeners) == [first]
    breaker.remove_listener(first)
    assert list(breaker.listeners) == []
    assert isinstance(breaker.listeners, tuple)


def test_decorator() -> None:
    breaker = CircuitBreaker()

    @breaker
    def suc(value: bool) -> bool:
        "Docstring"
        return value

    @breaker
    def failing(value: bool) -> bool:
        "Docstring"
        raise NotImplementedError

    assert (suc.__doc__, failing.__doc__) == ("Docstring", "Docstring")
    assert (suc.__name__, failing.__name__) == ("suc", "failing")
    with pytest.raises(NotImplementedError):
        failing(True)
    assert breaker.fail_counter == 1
    assert suc(True)
    assert breaker.fail_counter == 0


@pytest.mark.asyncio
async def test_decorator_call_future() -> None:
    """pybreaker's tornado decorator, ``__pybreaker_call_async=True``, on asyncio."""
    breaker = CircuitBreaker()

    @breaker(__pybreaker_call_async=True)
    async def suc(value: bool) -> bool:
        "Docstring"
        return value

    @breaker
    async def failing(value: bool) -> bool:  # ours: async def is guarded without the flag
        "Docstring"
        raise NotImplementedError

    assert (suc.__doc__, suc.__name__, failing.__name__) == ("Docstring", "suc", "failing")
    with pytest.raises(NotImplementedError):
        await failing(True)
    assert breaker.fail_counter == 1
    assert await suc(True)
    assert breaker.fail_counter == 0


def test_name() -> None:
    breaker = CircuitBreaker(name="test_breaker")
    assert breaker.name == "test_breaker"
    breaker.name = "breaker_test"
    assert breaker.name == "breaker_test"
    assert CircuitBreaker().name is None


def tripped(fail_max: int = 3, **kwargs: Any) -> tuple[CircuitBreaker, failgate.ManualClock]:
    clock = failgate.ManualClock()
    breaker = CircuitBreaker(fail_max=fail_max, reset_timeout=0.1, clock=clock, **kwargs)
    for _ in range(fail_max - 1):
        with pytest.raises(NotImplementedError):
            breaker.call(err)
    with pytest.raises(CircuitBreakerError):
        breaker.call(err)
    clock.advance(0.2)
    return breaker, clock


def test_success_threshold_default_behavior() -> None:
    breaker, _ = tripped()
    assert breaker.call(ok)
    assert breaker.current_state == "closed"
    assert breaker.success_counter == 0


def test_success_threshold_multiple_successes_required() -> None:
    breaker, _ = tripped(success_threshold=3)
    for n in (1, 2):
        assert breaker.call(ok)
        assert breaker.current_state == "half-open"
        assert breaker.success_counter == n
    assert breaker.call(ok)
    assert breaker.current_state == "closed"
    assert breaker.success_counter == 0


def test_success_threshold_failure_resets_counter() -> None:
    breaker, _ = tripped(success_threshold=3)
    assert breaker.call(ok) and breaker.call(ok)
    assert breaker.success_counter == 2
    with pytest.raises(CircuitBreakerError, match="Trial call failed"):
        breaker.call(err)
    assert breaker.current_state == "open"
    assert breaker.success_counter == 0


def test_success_threshold_property() -> None:
    breaker = CircuitBreaker(success_threshold=5)
    assert breaker.success_threshold == 5
    breaker.success_threshold = 10
    assert breaker.success_threshold == 10


def test_bad_state_raises_value_error() -> None:
    # pybreaker's test_create_new_state__bad_state, through the public names.
    with pytest.raises(ValueError):
        pybreaker.CircuitMemoryStorage("foo")
    with pytest.raises(ValueError):
        CircuitBreaker().state = "foo"


def test_initial_state_is_not_notified() -> None:
    # pybreaker's test_notify_not_called_on_init / _called_on_state_change, by listener.
    listener = mock.MagicMock(spec=CircuitBreakerListener)
    breaker = CircuitBreaker(
        state_storage=pybreaker.CircuitMemoryStorage("open"), listeners=[listener]
    )
    listener.state_change.assert_not_called()
    breaker.state = "closed"
    listener.state_change.assert_called_once()
    _, old, new = listener.state_change.call_args.args
    assert (old.name, new.name) == ("open", "closed")


def test_redis_storage_points_to_fleet_breaker() -> None:
    with pytest.raises(NotImplementedError, match="FleetBreaker"):
        pybreaker.CircuitRedisStorage("closed", object())
    with pytest.raises(TypeError, match="FleetBreaker"):
        CircuitBreaker(state_storage=pybreaker.CircuitBreakerStorage("redis"))


def test_circuit_breaker_error_is_a_circuit_open_error() -> None:
    breaker = CircuitBreaker(fail_max=1, reset_timeout=30, name="pay")
    with pytest.raises(failgate.CircuitOpenError) as tripped_info:
        breaker.call(err)
    assert isinstance(tripped_info.value, CircuitBreakerError)
    with pytest.raises(CircuitBreakerError) as info:
        breaker.call(ok)
    assert info.value.name == "pay"
    assert info.value.state is failgate.State.OPEN
    assert info.value.retry_after is not None and 29 < info.value.retry_after <= 30


def test_calling() -> None:
    """CircuitBreakerContextManagerTestCase.test_calling."""

    class TestError(Exception):
        pass

    clock = failgate.ManualClock()
    breaker = CircuitBreaker(fail_max=2, reset_timeout=0.01, clock=clock)
    body = mock.MagicMock()

    def do_raise() -> None:
        with breaker.calling():
            raise TestError

    def do_succeed() -> None:
        with breaker.calling():
            body()

    pytest.raises(TestError, do_raise)
    pytest.raises(CircuitBreakerError, do_raise)
    assert breaker.fail_counter == 2
    assert breaker.current_state == "open"
    pytest.raises(CircuitBreakerError, do_succeed)
    body.assert_not_called()
    clock.advance(0.01)
    do_succeed()
    body.assert_called_once()
    assert breaker.fail_counter == 0
    assert breaker.current_state == "closed"
