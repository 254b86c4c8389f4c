"""Listeners on failgate.FleetBreaker: each process hears the changes of state its own
callers see. An order given here carries the operator's reason, a transition made in
Redis (by any process) the reason "fleet", a trip of the local fallback its own reason;
a listener that raises on the sync thread is logged and the breaker keeps working.

Real network and real time, as in test_fleet.py (whose Redis fixture this shares)."""

from __future__ import annotations

import logging
import threading

import pytest

import failgate
from _fleet_support import Redis, build, config, fail, free_port, wait_for
from test_fleet import redis, shared, twin

__all__ = ["redis"]  # the fixture, imported for pytest to find


class Heard:
    """A listener that keeps (old, new, reason, wait) of every change, and the thread."""

    def __init__(self) -> None:
        self.changes: list[tuple[str, str, str, float | None]] = []
        self.threads: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, change: failgate.StateChange) -> None:
        assert change.name == "inventory"
        with self._lock:
            self.changes.append((change.old.value, change.new.value, change.reason, change.wait))
            self.threads.add(threading.current_thread().name)

    def moves(self) -> list[tuple[str, str, str]]:
        with self._lock:
            return [(old, new, reason) for old, new, reason, _ in self.changes]


def test_a_trip_in_redis_is_heard_by_both_breakers_with_reason_fleet(redis: Redis) -> None:
    first_heard, second_heard = Heard(), Heard()
    first = build(config(redis.url, listeners=[first_heard]))
    assert wait_for(lambda: first.mode == "shared"), first.status()
    second = shared(redis, name=first.name, namespace=first.namespace)
    second.add_listener(second_heard)
    # Joining the fleet in its closed state is no change anyone sees.
    assert first_heard.moves() == []

    assert fail(first, 4) == (4, 0)
    for heard in (first_heard, second_heard):
        assert wait_for(lambda: heard.moves() != []), heard.changes
        assert heard.moves() == [("closed", "open", "fleet")]
        wait = heard.changes[0][3]
        assert wait is not None and 0 < wait <= 60
    # Time in state counts from the change each breaker saw.
    time_open = second.metrics().time_in_state
    assert 0 <= time_open < 10
    assert wait_for(lambda: second.metrics().time_in_state > time_open)
    # The second process heard it on the extension's sync thread, not a caller's.
    assert second_heard.threads and threading.current_thread().name not in second_heard.threads


def test_an_order_carries_the_operators_reason_here_and_fleet_in_the_twin(redis: Redis) -> None:
    here_heard, twin_heard = Heard(), Heard()
    here = shared(redis)
    here.add_listener(here_heard)
    other = build(dict(twin(here, redis), listeners=[twin_heard]))
    assert wait_for(lambda: other.mode == "shared")

    here.force_open()
    assert wait_for(lambda: other.state == "forced_open")
    here.open_for(30)
    assert wait_for(lambda: other.state == "open")
    here.close()
    assert wait_for(lambda: other.state == "closed")
    assert here_heard.moves() == [
        ("closed", "forced_open", "manual"),
        ("forced_open", "open", "manual_open"),
        ("open", "closed", "manual_close"),
    ]
    assert here_heard.changes[1][3] == pytest.approx(30, abs=1)
    assert wait_for(lambda: len(twin_heard.moves()) == 3), twin_heard.changes
    assert twin_heard.moves() == [
        ("closed", "forced_open", "fleet"),
        ("forced_open", "open", "fleet"),
        ("open", "closed", "fleet"),
    ]
    # Redis confirming this process's orders is no new change here. The twin has seen
    # the close, so Redis has it: the next round trip here comes after the one that
    # carried it.
    trips = here.status()["round_trips"]
    assert wait_for(lambda: here.status()["round_trips"] > trips)
    assert len(here_heard.moves()) == 3


def test_a_removed_listener_hears_no_more(redis: Redis) -> None:
    heard = Heard()
    breaker = shared(redis)
    breaker.add_listener(heard)
    breaker.force_open()
    breaker.remove_listener(heard)
    breaker.reset()
    assert heard.moves() == [("closed", "forced_open", "manual")]
    with pytest.raises(ValueError, match="remove_listener"):
        breaker.remove_listener(heard)
    with pytest.raises(TypeError, match="add_listener"):
        breaker.add_listener(5)  # type: ignore[arg-type]


def test_the_local_fallbacks_trip_is_heard_with_its_own_reason() -> None:
    heard = Heard()
    breaker = build(config(f"redis://127.0.0.1:{free_port()}", listeners=[heard]))
    assert breaker.mode == "local"
    assert fail(breaker, 4) == (4, 0)
    assert breaker.state == "open"
    assert heard.moves() == [("closed", "open", "failure_rate")]


def test_a_listener_that_raises_on_the_sync_thread_is_logged(
    redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(change: failgate.StateChange) -> None:
        raise RuntimeError("listener bug")

    heard = Heard()
    first = shared(redis)
    second = build(dict(twin(first, redis), listeners=[broken, heard]))
    assert wait_for(lambda: second.mode == "shared")
    with caplog.at_level(logging.ERROR, logger="failgate"):
        assert fail(first, 4) == (4, 0)
        assert wait_for(lambda: heard.moves() == [("closed", "open", "fleet")])
    assert any("listener bug" in r.getMessage() or (r.exc_info and "listener bug" in str(r.exc_info[1]))
               for r in caplog.records), caplog.records
    # The breaker still refuses and still records.
    with pytest.raises(failgate.CircuitOpenError):
        second.call(lambda: None)


def test_listeners_must_be_callables() -> None:
    with pytest.raises(TypeError, match="listeners"):
        build(config(f"redis://127.0.0.1:{free_port()}", listeners=[5]))
    with pytest.raises(TypeError, match="listeners"):
        build(config(f"redis://127.0.0.1:{free_port()}", listeners=5))


def test_a_listener_may_give_its_breaker_an_order(redis: Redis) -> None:
    heard = Heard()
    breaker = shared(redis)

    def undo(change: failgate.StateChange) -> None:
        if change.new is failgate.State.FORCED_OPEN:
            breaker.close()

    breaker.add_listener(heard)
    breaker.add_listener(undo)
    breaker.force_open()
    assert breaker.state == "closed"
    assert heard.moves() == [
        ("closed", "forced_open", "manual"),
        ("forced_open", "closed", "manual_close"),
    ]
