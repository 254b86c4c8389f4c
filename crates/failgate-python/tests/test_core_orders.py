"""The operator's orders (initial_state, force_open, disable, count_only, reset,
open_for, half_open, close), retry_after, and metrics, on a ManualClock.

Each test follows the documented rules (`failgate`'s `control.rs`,
`breaker/manual.rs`, `config/peers.rs` and the crate docs)."""

from __future__ import annotations

import datetime

import pytest

import failgate
from failgate import State

from _core_support import admits, breaker, fail, refusal, state, succeed


@pytest.fixture
def clock() -> failgate.ManualClock:
    return failgate.ManualClock()

# -- initial state and operator orders ------------------------------------------------


@pytest.mark.parametrize("name", ["forced_open", "disabled", "count_only", "closed"])
def test_initial_state(clock: failgate.ManualClock, name: str) -> None:
    b = breaker(clock, initial_state=name)
    assert state(b) is State(name)
    assert b.metrics().generation == 0
    b.reset()
    assert state(b) is State.CLOSED


def test_initial_state_takes_the_enum(clock: failgate.ManualClock) -> None:
    assert breaker(clock, initial_state=State.DISABLED).state is State.DISABLED


def test_force_open_refuses_without_retry_after(clock: failgate.ManualClock) -> None:
    b = breaker(clock)
    b.force_open()
    clock.advance(10**6)
    error = refusal(b)
    assert error.state is State.FORCED_OPEN and error.retry_after is None
    b.reset()
    assert admits(b)


def test_disable_admits_everything_and_never_trips(clock: failgate.ManualClock) -> None:
    # A window, so that there are counts that "counts nothing" could break.
    b = breaker(clock, consecutive_failures=1, window=failgate.CountWindow(10))
    b.disable()
    fail(b, 50)
    assert state(b) is State.DISABLED
    m = b.metrics()
    assert (m.failures, m.calls, m.consecutive_failures) == (0, 0, 0)  # counts nothing


def test_count_only_counts_but_never_opens(clock: failgate.ManualClock) -> None:
    b = breaker(clock, failure_rate=0.5, window=failgate.CountWindow(10), minimum_calls=2)
    b.count_only()
    fail(b, 20)
    assert state(b) is State.COUNT_ONLY
    m = b.metrics()
    assert m.failures == 10 and m.failure_rate == pytest.approx(1.0)


def test_reset_clears_counts_and_backoff(clock: failgate.ManualClock) -> None:
    b = breaker(clock, consecutive_failures=2, backoff=failgate.Exponential(1, 100))
    fail(b, 2)
    clock.advance(1)
    fail(b)  # probe fails: the next wait would be 2
    b.reset()
    assert state(b) is State.CLOSED and b.metrics().consecutive_failures == 0
    fail(b)
    assert state(b) is State.CLOSED  # the count started again
    fail(b)
    assert refusal(b).retry_after == pytest.approx(1.0)


def test_open_for_waits_exactly_then_half_opens(clock: failgate.ManualClock) -> None:
    b = breaker(clock, backoff=failgate.Exponential(1, 100))
    b.open_for("5m")
    assert state(b) is State.OPEN
    clock.advance(120)
    assert refusal(b).retry_after == pytest.approx(180.0)
    clock.advance(180)
    assert state(b) is State.HALF_OPEN
    b.acquire().failure()  # the backoff step was kept at 0: the next wait is step 1
    assert refusal(b).retry_after == pytest.approx(2.0)


def test_open_for_zero_probes_at_the_next_call(clock: failgate.ManualClock) -> None:
    b = breaker(clock)
    b.open_for(datetime.timedelta(0))
    probe = b.acquire()
    assert probe.is_probe
    probe.success()
    assert state(b) is State.CLOSED


def test_half_open_and_close_orders(clock: failgate.ManualClock) -> None:
    changes: list[failgate.StateChange] = []
    b = breaker(clock, half_open_permits=2, listeners=[changes.append])
    b.half_open()
    assert state(b) is State.HALF_OPEN
    b.half_open()  # does nothing in half-open
    held = [b.acquire(), b.acquire()]  # held: a dropped permit gives its slot back
    assert [p.is_probe for p in held] == [True, True]
    assert refusal(b).state is State.HALF_OPEN
    b.close()
    assert state(b) is State.CLOSED
    b.open_for(3)
    assert [(c.new, c.reason) for c in changes] == [
        (State.HALF_OPEN, "manual_half_open"),
        (State.CLOSED, "manual_close"),
        (State.OPEN, "manual_open"),
    ]
    assert changes[-1].wait == pytest.approx(3.0)


def test_orders_discard_outcomes_of_older_calls(clock: failgate.ManualClock) -> None:
    b = breaker(clock, consecutive_failures=1)
    held = b.acquire()
    b.count_only()
    b.reset()
    held.failure()  # admitted two generations ago: counts for nothing
    assert state(b) is State.CLOSED and b.metrics().failures == 0


# -- retry_after and metrics -----------------------------------------------------------


def test_retry_after_is_the_time_left(clock: failgate.ManualClock) -> None:
    b = breaker(clock, consecutive_failures=1, open_for=30)
    fail(b)
    for elapsed, left in [(0, 30.0), (12.5, 17.5), (17, 0.5)]:
        clock.advance(elapsed)
        assert refusal(b).retry_after == pytest.approx(left)
        assert b.metrics().retry_after == pytest.approx(left)
    clock.advance(0.5)
    assert state(b) is State.HALF_OPEN and b.metrics().retry_after is None


def test_metrics_fields(clock: failgate.ManualClock) -> None:
    b = breaker(
        clock,
        name="inventory",
        failure_rate=0.9,
        window=failgate.CountWindow(10),
        minimum_calls=2,
        slow_calls=(5, 1.0),
        totals=True,
    )
    succeed(b, 3)
    fail(b)
    b.acquire().ignore()
    b.call(lambda: clock.advance(5))
    m = b.metrics()
    assert (m.name, m.state, m.generation) == ("inventory", State.CLOSED, 0)
    assert (m.calls, m.successes, m.failures, m.slow_calls) == (5, 4, 1, 1)
    assert m.consecutive_failures == 0
    assert m.failure_rate == pytest.approx(0.2)
    assert m.slow_call_rate == pytest.approx(0.2)
    assert m.time_in_state == pytest.approx(5.0)
    assert m.retry_after is None
    assert m.totals is not None
    t = m.totals
    assert (t.calls, t.successes, t.failures, t.ignored) == (6, 4, 1, 1)
    assert (t.slow_successes, t.slow_failures, t.refused, t.abandoned) == (1, 0, 0, 0)
    d = m.as_dict()
    assert d["calls"] == 5 and d["state"] == "closed" and d["totals"]["ignored"] == 1


def test_totals_count_refusals_and_abandons(clock: failgate.ManualClock) -> None:
    b = breaker(clock, consecutive_failures=1, totals=True)
    b.acquire().abandon()
    fail(b)
    refusal(b)
    refusal(b)
    totals = b.metrics().totals
    assert totals is not None
    assert (totals.abandoned, totals.refused, totals.failures) == (1, 2, 1)


def test_totals_off(clock: failgate.ManualClock) -> None:
    assert breaker(clock, totals=False).metrics().totals is None


def test_honour_retry_after_holds_open_longer_up_to_its_cap(
    clock: failgate.ManualClock,
) -> None:
    b = breaker(
        clock, consecutive_failures=1, open_for=10, honor_retry_after=True, max_retry_after="5m"
    )
    b.acquire().failure(retry_after=120)  # the dependency asked for two minutes
    assert refusal(b).retry_after == pytest.approx(120.0)
    b.reset()
    b.acquire().failure(retry_after="1h")  # longer than max_retry_after: capped
    assert refusal(b).retry_after == pytest.approx(300.0)


def test_retry_after_is_not_honoured_by_default(clock: failgate.ManualClock) -> None:
    b = breaker(clock, consecutive_failures=1, open_for=10)
    b.acquire().failure(retry_after=120)
    assert refusal(b).retry_after == pytest.approx(10.0)


def test_manual_clock() -> None:
    clock = failgate.ManualClock("1m")
    assert clock.now() == pytest.approx(60.0)
    clock.advance(datetime.timedelta(milliseconds=250))
    assert clock.now() == pytest.approx(60.25)
    clock.set(100)
    assert clock.now() == pytest.approx(100.0)
    clock.set(50)  # time never goes back
    assert clock.now() == pytest.approx(100.0)
