"""How a call's end counts (`exclude`, `classify`) and who hears of state changes
(listeners)."""

from __future__ import annotations

import logging
import threading

import pytest

import failgate
from failgate import Outcome, State

from _core_support import Boom, breaker, fail, state, succeed, totals


@pytest.fixture
def clock() -> failgate.ManualClock:
    return failgate.ManualClock()


def _raise(exc: BaseException) -> None:
    raise exc


class _Refused(ConnectionError):
    """A subclass of an excluded type."""


# -- exclude ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "exclude", [KeyError, (KeyError,), (ValueError, KeyError), LookupError]
)
def test_excluded_exceptions_are_ignored(
    clock: failgate.ManualClock,
    exclude: type[BaseException] | tuple[type[BaseException], ...],
) -> None:
    b = breaker(clock, consecutive_failures=2, exclude=exclude, totals=True)
    fail(b)
    for _ in range(5):
        with pytest.raises(KeyError):  # re-raised, but it counts for nothing
            b.call(_raise, KeyError("k"))
    assert state(b) is State.CLOSED
    assert b.metrics().consecutive_failures == 1  # an ignore leaves the count alone
    assert totals(b).ignored == 5
    with pytest.raises(Boom):
        b.call(_raise, Boom())
    assert state(b) is State.OPEN


def test_exclude_covers_subclasses_only(clock: failgate.ManualClock) -> None:
    b = breaker(clock, consecutive_failures=1, exclude=ConnectionError)
    with pytest.raises(_Refused):
        b.call(_raise, _Refused())
    assert state(b) is State.CLOSED
    with pytest.raises(OSError):
        b.call(_raise, OSError())  # a base class of the excluded one: a failure
    assert state(b) is State.OPEN


# -- classify --------------------------------------------------------------------------


def test_classify_sees_results_and_exceptions(clock: failgate.ManualClock) -> None:
    seen: list[tuple[object, BaseException | None]] = []

    def classify(result: object, exc: BaseException | None) -> Outcome:
        seen.append((result, exc))
        return Outcome.SUCCESS

    b = breaker(clock, classify=classify)
    error = Boom()
    assert b.call(lambda: 7) == 7
    with pytest.raises(Boom):
        b.call(_raise, error)
    assert seen == [(7, None), (None, error)]
    assert seen[1][1] is error


def test_classify_fails_on_a_result(clock: failgate.ManualClock) -> None:
    def classify(result: object, exc: BaseException | None) -> Outcome:
        if exc is not None or result == 503:
            return Outcome.FAILURE
        return Outcome.SUCCESS

    b = breaker(clock, consecutive_failures=2, classify=classify)
    assert b.call(lambda: 503) == 503  # a failure, still returned to the caller
    assert b.call(lambda: 503) == 503
    assert state(b) is State.OPEN


def test_classify_makes_exceptions_successes_or_ignored(clock: failgate.ManualClock) -> None:
    def classify(result: object, exc: BaseException | None) -> Outcome:
        if isinstance(exc, KeyError):
            return Outcome.SUCCESS  # "not found" means the dependency answered
        if isinstance(exc, ValueError):
            return Outcome.IGNORE  # the caller's mistake
        return Outcome.FAILURE if exc is not None else Outcome.SUCCESS

    b = breaker(clock, consecutive_failures=2, classify=classify, totals=True)
    fail(b)
    with pytest.raises(KeyError):
        b.call(_raise, KeyError())
    assert b.metrics().consecutive_failures == 0
    fail(b)
    with pytest.raises(ValueError):
        b.call(_raise, ValueError())
    assert b.metrics().consecutive_failures == 1
    t = totals(b)
    assert (t.successes, t.failures, t.ignored) == (1, 2, 1)


def test_classify_applies_to_with_and_permits(clock: failgate.ManualClock) -> None:
    b = breaker(
        clock,
        consecutive_failures=1,
        classify=lambda r, e: Outcome.IGNORE if e is None else Outcome.FAILURE,
        totals=True,
    )
    with b:
        pass
    b.acquire().record_result("x")
    assert totals(b).ignored == 2
    b.acquire().record_exception(Boom())
    assert state(b) is State.OPEN


def test_a_classify_that_raises_counts_a_failure_and_is_logged(
    clock: failgate.ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    # The native docs: "A classifier that raises or answers nonsense is logged, and
    # the call counts as a failure: a broken classifier must not stop the breaker
    # from ever tripping." The caller still gets its own result or exception.
    def broken(result: object, exc: BaseException | None) -> Outcome:
        raise RuntimeError("classifier bug")

    b = breaker(clock, consecutive_failures=1, open_for=5, half_open_permits=1, classify=broken)
    b.open_for(0)  # half-open at the next call: the probe must not be lost
    with caplog.at_level(logging.ERROR, logger="failgate"):
        assert b.call(lambda: "value") == "value"
    assert state(b) is State.OPEN  # the probe was reported (a failure), not leaked
    assert any(
        r.name == "failgate" and "classify" in r.getMessage() for r in caplog.records
    )
    clock.advance(5)
    raised = Boom()
    with pytest.raises(Boom) as info:
        b.call(_raise, raised)
    assert info.value is raised  # the call's exception, not the classifier's


def test_a_classify_that_answers_nonsense_counts_a_failure(
    clock: failgate.ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    b = breaker(clock, consecutive_failures=1, classify=lambda r, e: "success")
    with caplog.at_level(logging.ERROR, logger="failgate"):
        assert b.call(lambda: 1) == 1
    assert state(b) is State.OPEN
    assert any(r.name == "failgate" for r in caplog.records)


def test_exclude_still_applies_with_a_classify(clock: failgate.ManualClock) -> None:
    b = breaker(
        clock,
        consecutive_failures=1,
        exclude=KeyError,
        classify=lambda r, e: Outcome.FAILURE if e is not None else Outcome.SUCCESS,
    )
    with pytest.raises(KeyError):
        b.call(_raise, KeyError())
    assert state(b) is State.CLOSED


# -- listeners -------------------------------------------------------------------------


def test_listeners_receive_each_state_change(clock: failgate.ManualClock) -> None:
    first: list[failgate.StateChange] = []
    second: list[failgate.StateChange] = []
    b = breaker(
        clock,
        name="ledger",
        consecutive_failures=1,
        open_for=4,
        listeners=[first.append, second.append],
    )
    fail(b)
    clock.advance(4)
    assert state(b) is State.HALF_OPEN
    succeed(b)
    moves = [(c.old, c.new, c.reason) for c in first]
    assert moves == [
        (State.CLOSED, State.OPEN, "consecutive_failures"),
        (State.OPEN, State.HALF_OPEN, "wait_elapsed"),
        (State.HALF_OPEN, State.CLOSED, "probes_succeeded"),
    ]
    assert [c.generation for c in first] == [1, 2, 3]
    assert all(c.name == "ledger" for c in first)
    assert first[0].wait == pytest.approx(4.0) and first[2].wait is None
    assert [(c.old, c.new) for c in second] == [(c.old, c.new) for c in first]


def test_listeners_are_called_in_order(clock: failgate.ManualClock) -> None:
    calls: list[str] = []
    b = breaker(clock, listeners=(lambda c: calls.append("a"),))
    b.add_listener(lambda c: calls.append("b"))
    b.add_listener(lambda c: calls.append("c"))
    b.force_open()
    assert calls == ["a", "b", "c"]


def test_add_and_remove_listener(clock: failgate.ManualClock) -> None:
    heard: list[State] = []

    def listener(change: failgate.StateChange) -> None:
        heard.append(change.new)

    b = breaker(clock)
    b.add_listener(listener)
    b.force_open()
    b.remove_listener(listener)
    b.reset()
    assert heard == [State.FORCED_OPEN]
    # Not added (any more): refused like list.remove, naming the method.
    with pytest.raises(ValueError, match="remove_listener"):
        b.remove_listener(listener)


def test_a_listener_that_raises_is_logged_and_the_call_returns(
    clock: failgate.ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    after: list[failgate.StateChange] = []

    def broken(change: failgate.StateChange) -> None:
        raise RuntimeError("listener bug")

    b = breaker(clock, consecutive_failures=1, listeners=[broken, after.append])
    raised = Boom()
    with caplog.at_level(logging.ERROR, logger="failgate"):
        with pytest.raises(Boom) as info:  # the call's own exception, untouched
            b.call(_raise, raised)
        b.reset()
    assert info.value is raised
    assert state(b) is State.CLOSED
    assert len(after) == 2  # the next listener still heard both changes
    logged = [r for r in caplog.records if r.name == "failgate"]
    assert len(logged) == 2 and all(r.levelno >= logging.ERROR for r in logged)
    # Logged with the listener's own exception attached, so the traceback shows.
    for record in logged:
        assert record.exc_info is not None
        assert isinstance(record.exc_info[1], RuntimeError)
        assert str(record.exc_info[1]) == "listener bug"


def test_a_listener_runs_on_the_thread_whose_call_caused_the_change(
    clock: failgate.ManualClock,
) -> None:
    # README: listeners hear each change "on the thread whose call caused it".
    heard_on: list[int] = []
    b = breaker(
        clock,
        consecutive_failures=1,
        listeners=[lambda change: heard_on.append(threading.get_ident())],
    )
    caller: list[int] = []

    def trip() -> None:
        caller.append(threading.get_ident())
        fail(b)

    worker = threading.Thread(target=trip)
    worker.start()
    worker.join()
    assert heard_on == caller and caller[0] != threading.get_ident()
