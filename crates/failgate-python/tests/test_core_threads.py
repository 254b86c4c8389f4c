"""Threads through one breaker: no lock is held across a call (calls overlap), and the
counts stay consistent under a stress of many threads (issue 17)."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

import pytest

import failgate
from failgate import State

THREADS = 8


class _Overlap:
    """Counts the calls inside at once, and the most ever seen."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.inside = 0
        self.most = 0

    def call(self) -> str:
        with self._lock:
            self.inside += 1
            self.most = max(self.most, self.inside)
        time.sleep(0.05)  # real I/O-like wait, which releases the GIL
        with self._lock:
            self.inside -= 1
        return "ok"


def _run_threads(target: Callable[[], None], n: int = THREADS) -> None:
    errors: list[BaseException] = []

    def wrapped() -> None:
        try:
            target()
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=wrapped) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    if errors:
        raise errors[0]


@pytest.mark.parametrize("way", ["decorator", "call", "with"])
def test_calls_overlap(way: str) -> None:
    b = failgate.CircuitBreaker(name="threads", totals=True)
    overlap = _Overlap()
    guarded = b(overlap.call)

    def one() -> None:
        if way == "decorator":
            assert guarded() == "ok"
        elif way == "call":
            assert b.call(overlap.call) == "ok"
        else:
            with b:
                overlap.call()

    def worker() -> None:
        for _ in range(3):
            one()

    _run_threads(worker)
    # A breaker that held a lock across the call would show 1.
    assert overlap.most >= 4
    totals = b.metrics().totals
    assert totals is not None and totals.successes == THREADS * 3


def test_all_threads_inside_one_call_at_once() -> None:
    # Each call waits until all eight are inside: it completes only if the breaker
    # lets them all in together. A timeout (a serialised breaker) breaks the barrier.
    b = failgate.CircuitBreaker(consecutive_failures=1)
    barrier = threading.Barrier(THREADS, timeout=10)
    guarded = b(barrier.wait)

    def worker() -> None:
        guarded()

    _run_threads(worker)
    assert b.state is State.CLOSED  # no call failed (a broken barrier raises)


def test_stress_counts_are_consistent() -> None:
    b = failgate.CircuitBreaker(
        name="stress",
        consecutive_failures=3,
        open_for="1ms",
        half_open_permits=2,
        totals=True,
    )
    per_thread = 2_000
    counts_lock = threading.Lock()
    counts = {"success": 0, "failure": 0, "ignore": 0, "abandon": 0, "refused": 0}
    worst_probes = [0]

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        mine = dict.fromkeys(counts, 0)
        for _ in range(per_thread):
            try:
                permit = b.acquire()
            except failgate.CircuitOpenError as error:
                mine["refused"] += 1
                assert error.state in (State.OPEN, State.HALF_OPEN)
                continue
            kind = rng.choices(list(mine)[:4], weights=[6, 3, 1, 1])[0]
            getattr(permit, kind)()
            mine[kind] += 1
            worst_probes[0] = max(worst_probes[0], b.metrics().half_open_probes)
        with counts_lock:
            for key, value in mine.items():
                counts[key] += value

    seeds = iter(range(16))
    _run_threads(lambda: worker(next(seeds)), n=16)
    totals = b.metrics().totals
    assert totals is not None
    attempts = 16 * per_thread
    assert sum(counts.values()) == attempts
    # Totals count every outcome recorded (stale ones too) and every refusal.
    assert totals.successes == counts["success"]
    assert totals.failures == counts["failure"]
    assert totals.ignored == counts["ignore"]
    assert totals.abandoned == counts["abandon"]
    assert totals.refused == counts["refused"]
    assert totals.calls == counts["success"] + counts["failure"] + counts["ignore"]
    assert counts["refused"] > 0  # it did trip under this mix
    assert worst_probes[0] <= 2  # never more probes out than half_open_permits
    m = b.metrics()
    assert m.consecutive_failures < 3 or m.state is not State.CLOSED


def test_stress_count_window_holds_its_outcomes() -> None:
    b = failgate.CircuitBreaker(
        failure_rate=0.5, window=failgate.CountWindow(64), minimum_calls=64, totals=True
    )
    b.count_only()  # counts, never trips: the window sees every outcome

    def worker() -> None:
        for i in range(1_000):
            permit = b.acquire()
            if i % 4 == 0:
                permit.failure()
            else:
                permit.success()

    _run_threads(worker, n=16)
    m = b.metrics()
    # The ring never holds more than its size, and its counts are of its outcomes.
    assert 0 < m.calls <= 64
    assert m.successes + m.failures == m.calls
    assert m.state is State.COUNT_ONLY
    totals = m.totals
    assert totals is not None
    assert (totals.successes, totals.failures) == (16 * 750, 16 * 250)
