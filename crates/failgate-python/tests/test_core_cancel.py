"""A cancellation (or any BaseException that is not an Exception) abandons the permit:
the call counts for nothing and a half-open probe slot comes back (issue 17)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import pytest

import failgate
from failgate import State

from _core_support import breaker, fail, refusal, state, totals

# How each async way in runs a coroutine function through the breaker.
_AsyncWay = Callable[
    [failgate.CircuitBreaker, Callable[[], Awaitable[None]]], Coroutine[Any, Any, None]
]


async def _via_call_async(b: failgate.CircuitBreaker, fn: Callable[[], Awaitable[None]]) -> None:
    await b.call_async(fn)


async def _via_async_with(b: failgate.CircuitBreaker, fn: Callable[[], Awaitable[None]]) -> None:
    async with b:
        await fn()


async def _via_decorator(b: failgate.CircuitBreaker, fn: Callable[[], Awaitable[None]]) -> None:
    @b
    async def guarded() -> None:
        await fn()

    await guarded()


ASYNC_WAYS = pytest.mark.parametrize(
    "way",
    [_via_call_async, _via_async_with, _via_decorator],
    ids=["call_async", "async_with", "decorator"],
)


def _half_open(clock: failgate.ManualClock) -> failgate.CircuitBreaker:
    """A breaker with one half-open slot, half-open now, after one failure."""
    b = breaker(clock, consecutive_failures=1, open_for=10, half_open_permits=1, totals=True)
    fail(b)
    clock.advance(10)
    assert state(b) is State.HALF_OPEN
    return b


async def _cancel_inside(b: failgate.CircuitBreaker, way: _AsyncWay) -> None:
    """Starts a call through `way`, waits until it is inside, checks that it holds the
    slot, cancels it, and checks that the cancellation reached the caller."""
    entered = asyncio.Event()

    async def hang() -> None:
        entered.set()
        await asyncio.Event().wait()  # never set: only a cancel ends it

    task: asyncio.Task[None] = asyncio.create_task(way(b, hang))
    await entered.wait()
    assert refusal(b).state is State.HALF_OPEN  # the probe holds the only slot
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


@ASYNC_WAYS
@pytest.mark.asyncio
async def test_a_cancelled_probe_gives_its_slot_back(way: _AsyncWay) -> None:
    clock = failgate.ManualClock()
    b = _half_open(clock)
    await _cancel_inside(b, way)
    assert state(b) is State.HALF_OPEN  # neither closed nor reopened
    assert (totals(b).failures, totals(b).abandoned) == (1, 1)
    probe = b.acquire()  # a new probe is admitted at once
    assert probe.is_probe
    probe.success()
    assert state(b) is State.CLOSED


@ASYNC_WAYS
@pytest.mark.asyncio
async def test_a_cancelled_call_is_not_a_failure(way: _AsyncWay) -> None:
    clock = failgate.ManualClock()
    b = breaker(clock, consecutive_failures=2, totals=True)
    fail(b)

    async def cancelled() -> None:
        raise asyncio.CancelledError()

    for _ in range(3):
        with pytest.raises(asyncio.CancelledError):
            await way(b, cancelled)
    assert state(b) is State.CLOSED
    assert b.metrics().consecutive_failures == 1
    assert (totals(b).failures, totals(b).abandoned) == (1, 3)


@pytest.mark.asyncio
async def test_wait_for_timeout_abandons_the_probe() -> None:
    clock = failgate.ManualClock()
    b = _half_open(clock)

    async def slow() -> None:
        await asyncio.sleep(10)

    with pytest.raises(asyncio.TimeoutError):
        # Real time, briefly: wait_for cancels the call on its own timer.
        await asyncio.wait_for(b.call_async(slow), 0.01)
    assert b.acquire().is_probe


def _interrupt() -> None:
    raise KeyboardInterrupt


def test_keyboard_interrupt_in_call_gives_the_slot_back() -> None:
    clock = failgate.ManualClock()
    b = _half_open(clock)
    with pytest.raises(KeyboardInterrupt):
        b.call(_interrupt)
    assert state(b) is State.HALF_OPEN
    assert (totals(b).failures, totals(b).abandoned) == (1, 1)
    assert b.acquire().is_probe


def test_keyboard_interrupt_in_decorated_function_and_with_block() -> None:
    clock = failgate.ManualClock()
    b = _half_open(clock)
    guarded = b(_interrupt)
    with pytest.raises(KeyboardInterrupt):
        guarded()
    with pytest.raises(KeyboardInterrupt):
        with b:
            _interrupt()
    assert totals(b).abandoned == 2 and totals(b).failures == 1
    probe = b.acquire()
    assert probe.is_probe
    probe.success()
    assert state(b) is State.CLOSED


@pytest.mark.parametrize(
    "exc", [KeyboardInterrupt(), SystemExit(3), GeneratorExit(), asyncio.CancelledError()]
)
def test_record_exception_abandons_on_base_exceptions(exc: BaseException) -> None:
    clock = failgate.ManualClock()
    b = _half_open(clock)
    permit = b.acquire()
    permit.record_exception(exc)
    assert permit.done
    assert state(b) is State.HALF_OPEN and totals(b).abandoned == 1
    assert b.acquire().is_probe


def test_keyboard_interrupt_in_closed_state_does_not_count() -> None:
    clock = failgate.ManualClock()
    b = breaker(clock, consecutive_failures=1, totals=True)
    for _ in range(3):
        with pytest.raises(KeyboardInterrupt):
            b.call(_interrupt)
    assert state(b) is State.CLOSED
    assert (totals(b).failures, totals(b).abandoned) == (0, 3)
