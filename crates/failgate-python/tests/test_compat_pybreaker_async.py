"""pybreaker's asyncio tests (CircuitBreakerAsyncioTestCase, for ``acall``, from its main
branch after 1.4.1) and 1.4.1's tornado ``call_async`` tests, on asyncio through
failgate.compat.pybreaker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

import failgate
from failgate.compat.pybreaker import CircuitBreaker, CircuitBreakerError, CircuitBreakerListener


async def ok() -> int:
    return 42


async def boom() -> None:
    raise NotImplementedError


@pytest.mark.asyncio
async def test_call_async_with_no_args() -> None:
    assert await CircuitBreaker().call_async(ok) == 42


@pytest.mark.asyncio
async def test_call_async_with_args() -> None:
    async def func(arg1: int, arg2: str) -> list[object]:
        return [arg1, arg2]

    assert await CircuitBreaker().call_async(func, 42, "abc") == [42, "abc"]


@pytest.mark.asyncio
async def test_call_async_with_kwargs() -> None:
    async def func(**kwargs: int) -> dict[str, int]:
        return kwargs

    assert await CircuitBreaker().acall(func, a=1, b=2) == {"a": 1, "b": 2}


@pytest.mark.asyncio
async def test_acall_success_closed() -> None:
    breaker = CircuitBreaker()
    assert await breaker.acall(ok) == 42
    assert breaker.fail_counter == 0
    assert breaker.current_state == "closed"


class Recording(CircuitBreakerListener):
    def __init__(self) -> None:
        self.before = self.successes = self.failures = 0

    def before_call(self, cb: CircuitBreaker, func: object, *args: object, **kw: object) -> None:
        self.before += 1

    def success(self, cb: CircuitBreaker) -> None:
        self.successes += 1

    def failure(self, cb: CircuitBreaker, exc: BaseException) -> None:
        self.failures += 1


@pytest.mark.asyncio
async def test_acall_listener_callbacks() -> None:
    breaker = CircuitBreaker()
    listener = Recording()
    breaker.add_listener(listener)
    assert await breaker.acall(ok) == 42
    with pytest.raises(NotImplementedError):
        await breaker.acall(boom)
    assert (listener.before, listener.successes, listener.failures) == (2, 1, 1)


@pytest.mark.asyncio
async def test_acall_failures_open_circuit() -> None:
    breaker = CircuitBreaker(fail_max=3)
    for _ in range(2):
        with pytest.raises(NotImplementedError):
            await breaker.acall(boom)
    with pytest.raises(CircuitBreakerError, match="Failures threshold"):
        await breaker.acall(boom)
    assert breaker.fail_counter == 3
    assert breaker.current_state == "open"


@pytest.mark.asyncio
async def test_acall_throw_new_error_on_trip_false() -> None:
    breaker = CircuitBreaker(fail_max=3, throw_new_error_on_trip=False)
    for _ in range(3):
        with pytest.raises(NotImplementedError):
            await breaker.acall(boom)
    assert breaker.fail_counter == 3
    assert breaker.current_state == "open"


async def tripped(
    reset_timeout: float, *, throw_new_error_on_trip: bool
) -> tuple[CircuitBreaker, failgate.ManualClock]:
    """A fail_max=1 breaker on a ManualClock, opened by one failed ``acall``."""
    clock = failgate.ManualClock()
    breaker = CircuitBreaker(fail_max=1, reset_timeout=reset_timeout,
                             throw_new_error_on_trip=throw_new_error_on_trip, clock=clock)
    if throw_new_error_on_trip:
        with pytest.raises(CircuitBreakerError, match="Failures threshold"):
            await breaker.acall(boom)
    else:
        with pytest.raises(NotImplementedError):
            await breaker.acall(boom)
    assert breaker.current_state == "open"
    return breaker, clock


@pytest.mark.asyncio
async def test_acall_open_raises_until_timeout() -> None:
    breaker, clock = await tripped(60, throw_new_error_on_trip=False)
    clock.advance(59)
    with pytest.raises(CircuitBreakerError, match="Timeout not elapsed"):
        await breaker.acall(ok)


@pytest.mark.asyncio
async def test_acall_recovery_after_reset_timeout() -> None:
    breaker, clock = await tripped(0.01, throw_new_error_on_trip=False)
    clock.advance(0.02)
    assert await breaker.acall(ok)
    assert breaker.current_state == "closed"
    assert breaker.fail_counter == 0


@pytest.mark.asyncio
async def test_acall_excluded_exceptions() -> None:
    breaker = CircuitBreaker(exclude=[LookupError])

    async def business() -> None:
        raise LookupError

    with pytest.raises(NotImplementedError):
        await breaker.acall(boom)
    assert breaker.fail_counter == 1
    with pytest.raises(LookupError):
        await breaker.acall(business)
    assert breaker.fail_counter == 0


def gen() -> Iterator[int]:
    yield 1


async def agen() -> AsyncIterator[int]:
    yield 1


@pytest.mark.asyncio
@pytest.mark.parametrize("func", [gen, agen], ids=["sync_generator", "async_generator"])
async def test_acall_rejects_generators(func: Callable[[], object]) -> None:
    breaker = CircuitBreaker()
    with pytest.raises(TypeError, match="does not support generators or async generators"):
        await breaker.acall(func)  # type: ignore[arg-type]
    assert breaker.fail_counter == 0
    assert breaker.current_state == "closed"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("throw_new_error_on_trip", "probe_error", "match"),
    [(True, CircuitBreakerError, "Trial call failed"), (False, NotImplementedError, None)],
    ids=["circuit_breaker_error", "original_error"],
)
async def test_acall_half_open_failure_reopens(
    throw_new_error_on_trip: bool, probe_error: type[Exception], match: str | None
) -> None:
    breaker, clock = await tripped(0.01, throw_new_error_on_trip=throw_new_error_on_trip)
    clock.advance(0.02)
    with pytest.raises(probe_error, match=match):
        await breaker.acall(boom)
    assert breaker.current_state == "open"


@pytest.mark.asyncio
async def test_cancelled_probe_returns_the_slot() -> None:
    """Ours, not pybreaker's: a cancellation abandons the probe instead of failing it."""
    breaker = CircuitBreaker()
    breaker.half_open()
    started = asyncio.Event()

    async def hang() -> None:
        started.set()
        await asyncio.Event().wait()

    task = asyncio.ensure_future(breaker.acall(hang))
    await started.wait()
    with pytest.raises(CircuitBreakerError, match="Trial call in progress"):
        await breaker.acall(ok)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert breaker.fail_counter == 0
    assert breaker.current_state == "half-open"
    assert await breaker.acall(ok) == 42
    assert breaker.current_state == "closed"
