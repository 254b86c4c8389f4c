"""pybreaker 1.4.1's CircuitBreakerThreadsTestCase, ported. pybreaker serialises every
call under one lock; failgate does not, so where that matters these tests assert our
behaviour: counts stay exact, exactly one trip and one half-open probe, and calls run in
parallel. Real threads, short real waits only where the test is about concurrency."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

import failgate
from failgate.compat.pybreaker import (
    CircuitBreaker,
    CircuitBreakerError,
    CircuitBreakerListener,
    CircuitBreakerState,
)


class Specific(Exception):
    pass


def run_threads(target: Callable[[], None], n: int) -> None:
    threads = [threading.Thread(target=target) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
        assert not t.is_alive()


def test_fail_thread_safety() -> None:
    breaker = CircuitBreaker(fail_max=3000, reset_timeout=1)

    @breaker
    def err() -> None:
        raise Specific

    def trigger_error() -> None:
        for _ in range(500):
            with pytest.raises(Specific):
                err()

    run_threads(trigger_error, 3)
    assert breaker.fail_counter == 1500
    assert breaker.current_state == "closed"


class CountingListener(CircuitBreakerListener):
    """Ours: listeners run concurrently (no breaker lock), so this one locks itself."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.successes = 0
        self.half_opens = 0
        self.opens = 0

    def success(self, cb: CircuitBreaker) -> None:
        with self.lock:
            self.successes += 1

    def state_change(
        self, cb: CircuitBreaker, old: CircuitBreakerState | None, new: CircuitBreakerState
    ) -> None:
        with self.lock:
            self.half_opens += new.name == "half-open"
            self.opens += new.name == "open"


def test_success_thread_safety() -> None:
    breaker = CircuitBreaker(fail_max=3000, reset_timeout=1)
    listener = CountingListener()
    breaker.add_listener(listener)

    @breaker
    def suc() -> bool:
        return True

    def trigger_success() -> None:
        for _ in range(500):
            assert suc()

    run_threads(trigger_success, 3)
    assert listener.successes == 1500
    assert breaker.fail_counter == 0


def test_half_open_thread_safety() -> None:
    """Exactly one trial call in half-open: the others are refused while it runs (in
    pybreaker they queue on its lock)."""
    clock = failgate.ManualClock()
    breaker = CircuitBreaker(fail_max=1, reset_timeout=0.01, clock=clock)
    breaker.open()
    clock.advance(0.01)
    listener = CountingListener()
    breaker.add_listener(listener)
    entered = threading.Event()
    release = threading.Event()
    reached = []

    def probe() -> None:
        reached.append(1)
        entered.set()
        assert release.wait(10)
        raise Exception

    refused: list[CircuitBreakerError] = []

    def trigger_failure() -> None:
        try:
            breaker.call(probe)
        except CircuitBreakerError as e:
            refused.append(e)
        except Exception:
            pass

    first = threading.Thread(target=trigger_failure)
    first.start()
    assert entered.wait(10)
    run_threads(trigger_failure, 4)
    release.set()
    first.join(10)
    assert len(reached) == 1
    assert listener.half_opens == 1
    # Four refused while the probe ran, then the probe's own trip error.
    assert len(refused) == 5
    assert all(e.retry_after is None for e in refused[:4])
    assert breaker.current_state == "open"


def test_fail_max_thread_safety() -> None:
    """The trip happens exactly once; fail_counter counts the failed calls that ran,
    which may exceed fail_max by the calls in flight at the trip (pybreaker: exactly
    fail_max, because it serialises)."""
    breaker = CircuitBreaker(fail_max=3000, reset_timeout=60)
    listener = CountingListener()
    breaker.add_listener(listener)
    ran = []
    lock = threading.Lock()

    @breaker
    def err() -> None:
        with lock:
            ran.append(1)
        raise Exception

    def trigger_error() -> None:
        for _ in range(2000):
            try:
                err()
            except Exception:
                pass

    threads = 3
    run_threads(trigger_error, threads)
    assert listener.opens == 1
    assert breaker.current_state == "open"
    assert breaker.fail_max <= breaker.fail_counter < breaker.fail_max + threads
    assert breaker.fail_counter == len(ran)


def test_calls_are_not_serialised() -> None:
    """Ours: two calls are inside the same breaker at once (pybreaker's lock would
    deadlock this barrier)."""
    breaker = CircuitBreaker()
    barrier = threading.Barrier(2, timeout=10)

    @breaker
    def meet() -> int:
        return barrier.wait()

    results: list[int] = []
    run_threads(lambda: results.append(meet()), 2)
    assert sorted(results) == [0, 1]
