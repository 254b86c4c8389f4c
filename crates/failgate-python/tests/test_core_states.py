"""Every state and every policy of `failgate.CircuitBreaker`, on a ManualClock.

Each test follows the documented rules (the crate docs of `failgate`, its
`config/mod.rs`, `config/peers.rs`, `control.rs` and `breaker/manual.rs`)."""

from __future__ import annotations

import datetime

import pytest

import failgate
from failgate import State

from _core_support import breaker, fail, refusal, state, succeed


@pytest.fixture
def clock() -> failgate.ManualClock:
    return failgate.ManualClock()


# -- consecutive failures --------------------------------------------------------------


def test_consecutive_failures_trip_on_the_nth(clock: failgate.ManualClock) -> None:
    b = breaker(clock, consecutive_failures=3, open_for=30)
    fail(b, 2)
    assert state(b) is State.CLOSED
    assert b.metrics().consecutive_failures == 2
    fail(b)
    assert state(b) is State.OPEN
    error = refusal(b)
    assert error.state is State.OPEN and error.name == "core"
    assert error.retry_after == pytest.approx(30.0)


def test_a_success_resets_the_count_and_an_ignore_does_not(
    clock: failgate.ManualClock,
) -> None:
    b = breaker(clock, consecutive_failures=3)
    fail(b, 2)
    succeed(b)
    assert b.metrics().consecutive_failures == 0
    fail(b, 2)
    b.acquire().ignore()
    assert b.metrics().consecutive_failures == 2
    fail(b)
    assert state(b) is State.OPEN


def test_default_policy_is_five_failures_and_sixty_seconds(
    clock: failgate.ManualClock,
) -> None:
    b = breaker(clock)
    fail(b, 4)
    assert state(b) is State.CLOSED
    fail(b)
    assert state(b) is State.OPEN
    assert refusal(b).retry_after == pytest.approx(60.0)


def test_forget_failures_after_a_lull(clock: failgate.ManualClock) -> None:
    b = breaker(clock, consecutive_failures=3, forget_failures_after=10)
    fail(b, 2)
    clock.advance(11)  # a lull longer than the span: the next failure counts as 1
    assert b.metrics().consecutive_failures == 0
    fail(b)
    assert b.metrics().consecutive_failures == 1
    # Failures closer together than the span keep counting, from the previous one.
    for _ in range(2):
        clock.advance(9)
        fail(b)
    assert state(b) is State.OPEN


# -- failure rate ----------------------------------------------------------------------


def test_failure_rate_over_a_count_window(clock: failgate.ManualClock) -> None:
    b = breaker(clock, failure_rate=0.5, window=failgate.CountWindow(4), minimum_calls=4)
    fail(b, 3)
    # Three failures of three: 100%, but under minimum_calls nothing is judged.
    assert state(b) is State.CLOSED
    assert b.metrics().failure_rate is None
    succeed(b)
    # 3 of 4 >= 0.5: judged as soon as the minimum is reached.
    assert state(b) is State.OPEN


def test_count_window_slides(clock: failgate.ManualClock) -> None:
    b = breaker(clock, failure_rate=0.5, window=failgate.CountWindow(4), minimum_calls=4)
    succeed(b, 3)
    fail(b)  # 1 of 4
    assert b.metrics().failure_rate == pytest.approx(0.25)
    succeed(b, 3)  # the failure is pushed out by three successes... not yet: 1 of 4
    assert b.metrics().failure_rate == pytest.approx(0.25)
    succeed(b)  # now the window is four successes
    assert b.metrics().failure_rate == pytest.approx(0.0)
    fail(b)  # 1 of 4 again
    assert state(b) is State.CLOSED
    fail(b)  # 2 of 4 = 0.5
    assert state(b) is State.OPEN


def test_failure_rate_over_a_time_window_drops_old_failures(
    clock: failgate.ManualClock,
) -> None:
    b = breaker(
        clock,
        failure_rate=0.5,
        window=failgate.TimeWindow(60, buckets=6),
        minimum_calls=4,
    )
    fail(b, 3)
    assert b.metrics().calls == 3
    # Older than the span plus one bucket: those failures have left the window even
    # though no call came to push them out.
    clock.advance(71)
    assert b.metrics().calls == 0
    succeed(b, 3)
    fail(b)
    # Had the old failures stayed this would be 4 of 7; it is 1 of 4.
    assert state(b) is State.CLOSED
    assert b.metrics().failure_rate == pytest.approx(0.25)
    fail(b)
    assert state(b) is State.CLOSED  # 2 of 5
    fail(b)
    assert state(b) is State.OPEN  # 3 of 6


def test_time_window_span_accepts_strings_and_timedelta() -> None:
    assert failgate.TimeWindow("1m 30s").span == pytest.approx(90.0)
    assert failgate.TimeWindow(datetime.timedelta(seconds=5), buckets=5).span == 5.0
    assert failgate.TimeWindow(5, buckets=5).buckets == 5
    assert failgate.CountWindow(7).calls == 7


def test_failure_rate_alone_drops_the_default_consecutive_trip(
    clock: failgate.ManualClock,
) -> None:
    b = breaker(clock, failure_rate=0.9, window=failgate.CountWindow(20), minimum_calls=20)
    succeed(b, 10)
    fail(b, 6)  # six in a row: the default 5-in-a-row rule must not apply
    assert state(b) is State.CLOSED


# -- slow calls ------------------------------------------------------------------------


def test_slow_calls_trip_on_their_rate(clock: failgate.ManualClock) -> None:
    b = breaker(clock, slow_calls=(2, 0.5), window=failgate.CountWindow(4), minimum_calls=4)

    def slow() -> str:
        clock.advance(2)  # measured on the breaker's clock: at the threshold is slow
        return "ok"

    def quick() -> str:
        clock.advance(1.5)
        return "ok"

    assert b.call(quick) == "ok"
    assert b.call(slow) == "ok"
    assert b.call(quick) == "ok"
    assert b.metrics().slow_calls == 1
    assert state(b) is State.CLOSED
    b.call(slow)  # 2 slow of 4, although every call succeeded
    assert state(b) is State.OPEN
    assert refusal(b).retry_after == pytest.approx(60.0)


def test_a_slow_probe_reopens(clock: failgate.ManualClock) -> None:
    b = breaker(clock, slow_calls=("1s", 1.0), consecutive_failures=1, open_for=10)
    fail(b)
    clock.advance(10)

    def slow() -> None:
        clock.advance(1)

    b.call(slow)
    assert state(b) is State.OPEN


def test_a_slow_failure_counts_once_as_slow_and_once_as_failure(
    clock: failgate.ManualClock,
) -> None:
    b = breaker(clock, slow_calls=(1, 1.0), totals=True)

    def slow_and_broken() -> None:
        clock.advance(1)
        raise ConnectionError("late, then down")

    with pytest.raises(ConnectionError):
        b.call(slow_and_broken)
    totals = b.metrics().totals
    assert totals is not None
    assert (totals.failures, totals.slow_failures, totals.slow_successes) == (1, 1, 0)


# -- backoff ---------------------------------------------------------------------------


def _open_waits(
    clock: failgate.ManualClock, b: failgate.CircuitBreaker, rounds: int
) -> list[float]:
    """Trips `b`, then fails `rounds` probe rounds, and returns each open wait."""
    waits = []
    fail(b)
    for _ in range(rounds):
        wait = refusal(b).retry_after
        assert wait is not None
        waits.append(wait)
        clock.advance(wait)
        fail(b)  # the probe fails: a reopening
    return waits


def test_constant_backoff(clock: failgate.ManualClock) -> None:
    b = breaker(clock, consecutive_failures=1, backoff=failgate.Constant("7s"))
    assert _open_waits(clock, b, 3) == pytest.approx([7.0, 7.0, 7.0])


def test_exponential_backoff_doubles_to_its_max_and_restarts_on_close(
    clock: failgate.ManualClock,
) -> None:
    b = breaker(clock, consecutive_failures=1, backoff=failgate.Exponential(1, "10s"))
    assert _open_waits(clock, b, 6) == pytest.approx([1, 2, 4, 8, 10, 10])
    clock.advance(10)
    succeed(b)  # the probe closes it: the backoff starts again
    assert state(b) is State.CLOSED
    fail(b)
    assert refusal(b).retry_after == pytest.approx(1.0)


def test_exponential_jitter_only_shortens(clock: failgate.ManualClock) -> None:
    b = breaker(clock, consecutive_failures=1, backoff=failgate.Exponential(8, 64, jitter=0.5))
    for wait, full in zip(_open_waits(clock, b, 3), [8.0, 16.0, 32.0]):
        assert full * 0.5 - 1e-9 <= wait <= full + 1e-9


# -- half-open -------------------------------------------------------------------------


def _tripped(
    clock: failgate.ManualClock, permits: int, **kwargs: object
) -> failgate.CircuitBreaker:
    b = breaker(clock, consecutive_failures=1, open_for=10, half_open_permits=permits, **kwargs)
    fail(b)
    clock.advance(10)
    return b


def test_half_open_admits_exactly_n_probes(clock: failgate.ManualClock) -> None:
    b = _tripped(clock, 3)
    assert state(b) is State.HALF_OPEN
    permits = [b.acquire() for _ in range(3)]
    assert all(p.is_probe for p in permits)
    for _ in range(2):
        error = refusal(b)
        assert error.state is State.HALF_OPEN
        assert error.retry_after is None  # slots taken: it cannot say when
    assert b.metrics().half_open_probes == 3
    permits[0].success()
    permits[1].success()
    assert state(b) is State.HALF_OPEN
    assert b.metrics().half_open_successes == 2
    permits[2].success()
    assert state(b) is State.CLOSED


def test_one_failed_probe_reopens(clock: failgate.ManualClock) -> None:
    b = _tripped(clock, 3)
    first, second = b.acquire(), b.acquire()
    first.success()
    second.failure()
    assert state(b) is State.OPEN
    assert refusal(b).retry_after == pytest.approx(10.0)


def test_an_ignored_or_abandoned_probe_gives_its_slot_back(
    clock: failgate.ManualClock,
) -> None:
    b = _tripped(clock, 1)
    b.acquire().ignore()
    b.acquire().abandon()
    probe = b.acquire()
    assert probe.is_probe
    probe.success()
    assert state(b) is State.CLOSED


def test_half_open_timeout_reopens(clock: failgate.ManualClock) -> None:
    b = _tripped(clock, 2, half_open_timeout=3)
    held = b.acquire()
    clock.advance(2.9)
    assert state(b) is State.HALF_OPEN
    clock.advance(0.1)
    assert state(b) is State.OPEN  # checked lazily, at this query
    held.success()  # from an older generation: discarded
    assert state(b) is State.OPEN


def test_half_open_failure_rate_decides_once_certain(clock: failgate.ManualClock) -> None:
    # The documented example: 10 probes at 0.5, the fifth failure reopens...
    b = _tripped(clock, 10, half_open_failure_rate=0.5)
    permits = [b.acquire() for _ in range(10)]
    for p in permits[:4]:
        p.failure()
    assert state(b) is State.HALF_OPEN
    permits[4].failure()
    assert state(b) is State.OPEN
    # ...and the sixth success closes.
    clock.advance(60)
    b = _tripped(clock, 10, half_open_failure_rate=0.5)
    permits = [b.acquire() for _ in range(10)]
    for p in permits[:5]:
        p.success()
    permits[5].failure()
    assert state(b) is State.HALF_OPEN
    permits[6].success()
    assert state(b) is State.CLOSED
