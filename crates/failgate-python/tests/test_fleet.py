"""failgate.FleetBreaker against a real redis-server: shared mode, one trip seen by a
second breaker, by a forked child (gunicorn's pre-fork model) and by a separate process,
operators' orders crossing processes, the local fallback, lost state, the fleet-wide
half-open probe, and the Python API (decorator, `with`, async, exclude) on a fleet
breaker. Argument errors are in test_fleet_args.py.

Real network and real time: every wait is a poll with a deadline (10 s, every 20 ms),
and the breakers flush every 20 ms. Redis is $FAILGATE_TEST_REDIS_URL when set, else a
redis-server of our own; each test uses a namespace of its own (a uuid).
"""

from __future__ import annotations

import gc
import json
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

import failgate
from _fleet_support import (
    Redis,
    build,
    config,
    fail,
    fork_peer,
    free_port,
    redis_server,
    spawn_peer,
    wait_for,
)
from conftest import skip_or_fail

STATUS_KEYS = {
    "mode", "state", "generation", "shared_calls", "shared_failures", "round_trips",
    "sync_errors", "discarded", "announcements", "last_error", "lost_state",
}


@pytest.fixture(scope="module")
def redis() -> Iterator[Redis]:
    url = os.environ.get("FAILGATE_TEST_REDIS_URL")
    if url:
        yield Redis.from_url(url)
        return
    try:
        with redis_server() as server:
            yield server
    except FileNotFoundError:
        skip_or_fail("redis-server is not installed (Debian: apt-get install redis-server)")


def shared(redis: Redis, **overrides: Any) -> failgate.FleetBreaker:
    """A breaker in a namespace of its own, once it is in shared mode."""
    breaker = build(config(redis.url, **overrides))
    assert wait_for(lambda: breaker.mode == "shared"), breaker.status()
    return breaker


def twin(breaker: failgate.FleetBreaker, redis: Redis) -> dict[str, Any]:
    """`config` arguments naming the same breaker (name and namespace) as ``breaker``."""
    return config(redis.url, name=breaker.name, namespace=breaker.namespace)


def test_reaches_shared_mode_and_reports_status(redis: Redis) -> None:
    kwargs = config(redis.url)
    breaker = build(kwargs)
    assert breaker.name == "inventory"
    assert breaker.namespace == kwargs["namespace"]
    assert set(breaker.status()) == STATUS_KEYS
    assert wait_for(lambda: breaker.mode == "shared"), breaker.status()
    assert breaker.call(lambda: 42) == 42
    status = breaker.status()
    assert set(status) == STATUS_KEYS
    assert status["mode"] == "shared"
    assert status["state"] is failgate.State.CLOSED
    assert status["round_trips"] >= 1
    assert status["sync_errors"] == 0 and status["last_error"] is None
    assert status["lost_state"] == 0
    # The shared state lives under the documented key.
    key = f"failgate:{breaker.namespace}:inventory:state"
    assert wait_for(lambda: redis.command("EXISTS", key) == 1)


def test_failures_here_open_a_second_breaker_of_the_same_name(redis: Redis) -> None:
    first = shared(redis)
    second = build(twin(first, redis))
    elsewhere = shared(redis, name=first.name)  # same name, another namespace
    assert wait_for(lambda: second.mode == "shared")
    assert fail(first, 4) == (4, 0)
    assert wait_for(lambda: second.state == "open"), second.status()
    assert wait_for(lambda: first.state == "open"), first.status()
    with pytest.raises(failgate.CircuitOpenError) as refused:
        second.call(lambda: None)
    assert refused.value.name == "inventory"
    assert refused.value.state is failgate.State.OPEN
    assert refused.value.retry_after is not None and 0 < refused.value.retry_after <= 60
    status = second.status()
    assert status["state"] is failgate.State.OPEN and status["generation"] >= 1
    # Another namespace is another breaker.
    assert elsewhere.state == "closed"
    assert elsewhere.call(lambda: "fine") == "fine"


def test_counts_add_up_across_breakers(redis: Redis) -> None:
    # Two failures each: neither alone reaches minimum_calls=4, together they trip.
    first = shared(redis)
    second = shared(redis, name=first.name, namespace=first.namespace)
    assert fail(first, 2) == (2, 0)
    assert wait_for(lambda: first.status()["shared_failures"] >= 2)
    assert first.state == "closed" and second.state == "closed"
    assert fail(second, 2) == (2, 0)
    assert wait_for(lambda: first.state == "open"), first.status()


def test_a_forked_child_gets_its_own_runtime_and_shares_one_trip(redis: Redis) -> None:
    # gunicorn's pre-fork model: the breaker is built and used before the fork, and the
    # child uses the very object it inherited.
    parent = shared(redis)
    assert parent.call(lambda: "warm") == "warm"
    # That success is in the shared window before the fork, so the count is exact below.
    assert wait_for(lambda: parent.status()["shared_calls"] >= 1), parent.status()
    gc.collect()  # no breaker of an earlier test may close its connections meanwhile
    before = redis.client_addrs()
    errors_before = parent.status()["sync_errors"]
    child = fork_peer(parent)
    try:
        assert child.ask("wait_mode shared") == "ok"
        if redis.owned:  # the child's connections are new ones, not the parent's
            assert wait_for(lambda: bool(redis.client_addrs() - before))
        during = redis.client_addrs() - before
        child_status = json.loads(child.ask("status"))
        assert child_status["sync_errors"] == 0, child_status
        # The child's failures open the parent's breaker: 3 failures and the parent's
        # success make minimum_calls, at 75% failures...
        assert child.ask("fail 3") == "3 0"
        assert wait_for(lambda: parent.state == "open"), parent.status()
        # ...the parent's reset closes the child's, the child's force_open reaches back.
        parent.reset()
        assert child.ask("wait_state closed") == "ok"
        assert child.ask("force_open") == "ok"
        assert wait_for(lambda: parent.state == "forced_open"), parent.status()
        assert child.ask("refused") == "refused forced_open None"
        # And the parent's own failures open the child's breaker.
        parent.reset()
        assert child.ask("wait_state closed") == "ok"
        assert fail(parent, 4) == (4, 0)
        assert child.ask("wait_state open") == "ok"
    finally:
        code = child.close()
    assert code == 0
    # The child used connections of its own: the parent's still work, without errors.
    status = parent.status()
    assert status["mode"] == "shared" and status["sync_errors"] == errors_before, status
    trips = status["round_trips"]
    parent.reset()
    assert wait_for(lambda: parent.status()["round_trips"] > trips)
    assert parent.state == "closed" and parent.call(lambda: 1) == 1
    if redis.owned:  # and the child's connections went with it
        assert wait_for(lambda: not (redis.client_addrs() & during))


def test_a_breaker_built_in_a_forked_child_works(redis: Redis) -> None:
    # multiprocessing's fork start method: the child builds its own breaker.
    parent = shared(redis)
    kwargs = twin(parent, redis)
    child = fork_peer(lambda: build(kwargs))
    try:
        assert child.ask("wait_mode shared") == "ok"
        assert child.ask("fail 4") == "4 0"
        assert wait_for(lambda: parent.state == "open"), parent.status()
    finally:
        assert child.close() == 0


def test_a_separate_process_shares_one_trip(redis: Redis) -> None:
    here = shared(redis)
    other = spawn_peer(twin(here, redis))
    try:
        assert other.ask("wait_mode shared") == "ok"
        # Two failures in each process: only their sum reaches minimum_calls.
        assert fail(here, 2) == (2, 0)
        assert wait_for(lambda: here.status()["shared_failures"] >= 2), here.status()
        assert other.ask("fail 2") == "2 0"
        assert wait_for(lambda: here.state == "open"), here.status()
        assert other.ask("wait_state open") == "ok"
        assert other.ask("refused").startswith("refused open ")
        # Operators' orders cross too, both ways.
        assert other.ask("reset") == "ok"
        assert wait_for(lambda: here.state == "closed"), here.status()
        here.force_open()
        assert other.ask("wait_state forced_open") == "ok"
        here.reset()
        assert other.ask("wait_state closed") == "ok"
        # The other process trips it alone now.
        assert other.ask("fail 4") == "4 0"
        assert wait_for(lambda: here.state == "open"), here.status()
    finally:
        assert other.close() == 0


def test_unreachable_redis_decides_locally_and_still_trips() -> None:
    # A port nobody listens on: connections are refused at once.
    breaker = build(config(f"redis://127.0.0.1:{free_port()}"))
    assert breaker.mode == "local"
    assert wait_for(lambda: breaker.status()["sync_errors"] >= 1), breaker.status()
    status = breaker.status()
    assert status["mode"] == "local" and status["last_error"]
    assert breaker.call(lambda: "still works") == "still works"
    # The same policy, on this process's counts alone: 3 calls are below minimum_calls,
    # and the 4th (3 failures in 4) trips it.
    assert fail(breaker, 2) == (2, 0)
    assert breaker.state == "closed"
    assert fail(breaker, 1) == (1, 0)
    assert breaker.state == "open"
    with pytest.raises(failgate.CircuitOpenError) as refused:
        breaker.call(lambda: None)
    assert refused.value.retry_after is not None and 0 < refused.value.retry_after <= 60
    assert breaker.mode == "local"


def test_joins_the_fleet_when_redis_comes_up() -> None:
    port = free_port()
    breaker = build(config(f"redis://127.0.0.1:{port}"))
    assert wait_for(lambda: breaker.status()["sync_errors"] >= 1)
    assert breaker.mode == "local"
    try:
        with redis_server(port) as late:
            assert wait_for(lambda: breaker.mode == "shared"), breaker.status()
            assert breaker.status()["last_error"] is None
            peer = shared(late, namespace=breaker.namespace)
            assert fail(peer, 4) == (4, 0)
            assert wait_for(lambda: breaker.state == "open"), breaker.status()
    except FileNotFoundError:
        skip_or_fail("redis-server is not installed (Debian: apt-get install redis-server)")


def test_a_lost_shared_state_is_recreated(redis: Redis) -> None:
    # The keys expire or are evicted: the state comes back closed with a new epoch, and
    # a shared open state is not restored (counted in lost_state).
    breaker = shared(redis, idle_poll="50ms")
    assert fail(breaker, 4) == (4, 0)
    assert wait_for(lambda: breaker.status()["generation"] >= 1)
    keys = redis.command("KEYS", f"failgate:{breaker.namespace}:*")
    assert keys and redis.command("DEL", *keys) >= 1
    assert wait_for(lambda: breaker.status()["lost_state"] >= 1), breaker.status()
    assert breaker.state == "closed"
    assert breaker.call(lambda: "back") == "back"


def test_redis_going_away_keeps_a_shared_open_state() -> None:
    # An open state learnt from Redis holds in local fallback until its deadline, and
    # Redis back again is not a reset.
    try:
        with redis_server() as own:
            breaker = shared(own)
            assert fail(breaker, 4) == (4, 0)
            assert wait_for(lambda: breaker.status()["generation"] >= 1), breaker.status()
            port = own.port
    except FileNotFoundError:
        skip_or_fail("redis-server is not installed (Debian: apt-get install redis-server)")
    assert wait_for(lambda: breaker.mode == "local"), breaker.status()
    assert breaker.state == "open"
    with pytest.raises(failgate.CircuitOpenError):
        breaker.call(lambda: None)
    with redis_server(port):
        # A new, empty Redis: the state it recreates is a lost one (a new epoch),
        # closed, and not the open one this process mirrored.
        assert wait_for(lambda: breaker.mode == "shared"), breaker.status()
        assert wait_for(lambda: breaker.status()["lost_state"] >= 1), breaker.status()
        assert breaker.state == "closed"


def test_half_open_probes_are_counted_fleet_wide(redis: Redis) -> None:
    # One probe for the whole fleet: while one breaker holds it, its twin is refused.
    first = shared(redis, open_for="300ms", half_open_permits=1)
    second = build(twin(first, redis) | {"open_for": "300ms", "half_open_permits": 1})
    assert wait_for(lambda: second.mode == "shared")
    assert fail(first, 4) == (4, 0)
    assert wait_for(lambda: second.state == "open")
    probe = None

    def take() -> bool:
        nonlocal probe
        try:
            probe = first.acquire()
        except failgate.CircuitOpenError:
            return False
        return True

    assert wait_for(take), first.status()
    assert probe is not None and probe.is_probe
    refusals = []
    for _ in range(10):
        with pytest.raises(failgate.CircuitOpenError) as refused:
            second.call(lambda: None)
        refusals.append(refused.value.state)
        time.sleep(0.03)  # a few flush rounds: Redis must not grant a second probe
    assert set(refusals) <= {failgate.State.OPEN, failgate.State.HALF_OPEN}
    probe.success()
    assert wait_for(lambda: second.state == "closed"), second.status()
    assert second.call(lambda: "closed again") == "closed again"


@pytest.mark.asyncio
async def test_decorator_with_block_async_and_exclude_on_a_fleet_breaker(redis: Redis) -> None:
    breaker = shared(redis, exclude=(KeyError,))

    @breaker
    def lookup(key: str) -> str:
        raise KeyError(key)

    for _ in range(6):  # ignored: counted nowhere, here or in Redis
        with pytest.raises(KeyError):
            lookup("sku-1")

    async def fetch() -> str:
        return "stock"

    assert await breaker.call_async(fetch) == "stock"
    assert wait_for(lambda: breaker.status()["shared_calls"] >= 1), breaker.status()
    status = breaker.status()
    assert (status["shared_calls"], status["shared_failures"]) == (1, 0), status
    for _ in range(3):  # with the success: 4 calls, 75% failures
        with pytest.raises(ConnectionError):
            with breaker:
                raise ConnectionError("down")
    assert wait_for(lambda: breaker.state == "open"), breaker.status()
    with pytest.raises(failgate.CircuitOpenError):
        async with breaker:
            pass


@pytest.mark.parametrize(
    ("order", "state"),
    [("disable", "disabled"), ("count_only", "count_only"), ("half_open", "half_open"),
     ("force_open", "forced_open")],
)
def test_an_order_reaches_the_twin(redis: Redis, order: str, state: str) -> None:
    first = shared(redis)
    second = shared(redis, name=first.name, namespace=first.namespace)
    getattr(first, order)()
    assert first.state == state  # obeyed at once by the instance that makes it
    assert wait_for(lambda: second.state == state), second.status()
    first.close()
    assert wait_for(lambda: second.state == "closed"), second.status()


def test_open_for_and_retry_after_are_fleet_wide(redis: Redis) -> None:
    first = shared(redis, honor_retry_after=True)
    second = shared(redis, name=first.name, namespace=first.namespace, honor_retry_after=True)
    first.open_for(5)
    assert wait_for(lambda: second.state == "open"), second.status()
    wait = second.metrics().retry_after
    assert wait is not None and 0 < wait <= 5
    # A dependency's "retry after 2 minutes" on the tripping failure outlasts open_for.
    first.reset()
    assert wait_for(lambda: second.state == "closed"), second.status()
    assert fail(first, 3) == (3, 0)
    first.acquire().failure(retry_after="2m")
    assert wait_for(lambda: second.state == "open"), second.status()
    assert wait_for(lambda: (second.metrics().retry_after or 0) > 60), second.metrics().as_dict()
    with pytest.raises(failgate.CircuitOpenError) as refused:
        second.call(lambda: None)
    assert refused.value.retry_after is not None and 60 < refused.value.retry_after <= 120
