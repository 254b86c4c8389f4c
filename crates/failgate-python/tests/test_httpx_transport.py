"""failgate.httpx.BreakerTransport and AsyncBreakerTransport against a Flask app, the
Rust demo service and httpx's MockTransport."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
import pytest

import failgate
from _http_support import (
    DemoService,
    FlaskService,
    breaker,
    clock,
    closed_port_url,
    demo_service,
    flask_pair,
    flask_service,
    state,
    totals,
)
from failgate.httpx import AsyncBreakerTransport, BreakerTransport

__all__ = ["clock", "demo_service", "flask_pair", "flask_service"]  # fixtures, by name


def client(b: failgate.CircuitBreaker, **kwargs: object) -> httpx.Client:
    return httpx.Client(transport=BreakerTransport(b, **kwargs))  # type: ignore[arg-type]


def aclient(b: failgate.CircuitBreaker) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=AsyncBreakerTransport(b))


async def wait_until(condition: Callable[[], bool], within: float = 5.0) -> None:
    # Real time: the condition is another thread's (the server's) progress.
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


def test_trips_after_the_configured_failures_and_refuses_without_sending(
    flask_service: FlaskService, clock: failgate.ManualClock
) -> None:
    b = breaker(clock)
    with client(b) as c:
        for _ in range(3):
            assert c.get(f"{flask_service.url}/failure").status_code == 500
        assert state(b) is failgate.State.OPEN
        with pytest.raises(failgate.CircuitOpenError) as refused:
            c.get(f"{flask_service.url}/success")
    assert refused.value.retry_after == pytest.approx(10.0)
    assert flask_service.count("/failure") == 3
    assert flask_service.count("/success") == 0
    assert totals(b).refused == 1


def test_half_opens_on_the_clock_and_a_successful_probe_closes(
    flask_service: FlaskService, clock: failgate.ManualClock
) -> None:
    changes: list[failgate.StateChange] = []
    b = breaker(clock, listeners=[changes.append])
    with client(b) as c:
        for _ in range(3):
            c.get(f"{flask_service.url}/failure")
        clock.advance(10)
        assert state(b) is failgate.State.HALF_OPEN
        assert c.get(f"{flask_service.url}/success").status_code == 200
    assert state(b) is failgate.State.CLOSED
    assert [c.reason for c in changes] == [
        "consecutive_failures", "wait_elapsed", "probes_succeeded"
    ]


def test_per_host_breakers_isolate_hosts(
    flask_pair: tuple[FlaskService, FlaskService], clock: failgate.ManualClock
) -> None:
    bad, good = flask_pair
    made: list[str] = []

    def per_host(origin: str) -> failgate.CircuitBreaker:
        made.append(origin)
        return breaker(clock, consecutive_failures=1)

    transport = BreakerTransport(per_host=per_host)
    with httpx.Client(transport=transport) as c:
        c.get(f"{bad.url}/failure")
        with pytest.raises(failgate.CircuitOpenError):
            c.get(f"{bad.url}/failure")
        for _ in range(2):
            assert c.get(f"{good.url}/success").status_code == 200
    assert made == [bad.url, good.url]
    assert state(transport.breaker_for(bad.url)) is failgate.State.OPEN
    assert state(transport.breaker_for(good.url)) is failgate.State.CLOSED
    assert bad.count("/failure") == 1 and good.count("/success") == 2


def test_retry_after_is_honoured(
    flask_service: FlaskService, clock: failgate.ManualClock
) -> None:
    b = breaker(clock, consecutive_failures=1, honor_retry_after=True)
    with client(b) as c:
        c.get(f"{flask_service.url}/retry-after?seconds=90")
        clock.advance(10)
        with pytest.raises(failgate.CircuitOpenError) as refused:
            c.get(f"{flask_service.url}/success")
    assert refused.value.retry_after == pytest.approx(80.0)
    assert flask_service.count("/success") == 0


def test_429_is_a_success_unless_listed(
    flask_service: FlaskService, clock: failgate.ManualClock
) -> None:
    lenient = breaker(clock, consecutive_failures=1)
    with client(lenient) as c:
        c.get(f"{flask_service.url}/retry-after?status=429")
    assert state(lenient) is failgate.State.CLOSED
    strict = breaker(clock, consecutive_failures=1)
    with client(strict, failure_statuses={429, *range(500, 600)}) as c:
        c.get(f"{flask_service.url}/retry-after?status=429")
    assert state(strict) is failgate.State.OPEN


def test_a_refused_connection_is_a_failure(clock: failgate.ManualClock) -> None:
    b = breaker(clock, consecutive_failures=2)
    url = closed_port_url()
    with client(b) as c:
        for _ in range(2):
            with pytest.raises(httpx.ConnectError):
                c.get(url)
        with pytest.raises(failgate.CircuitOpenError):
            c.get(url)
    assert totals(b).failures == 2


def test_a_timeout_is_a_failure(
    flask_service: FlaskService, clock: failgate.ManualClock
) -> None:
    b = breaker(clock, consecutive_failures=1)
    with client(b) as c:
        with pytest.raises(httpx.TimeoutException):
            c.get(f"{flask_service.url}/slow?delay=5", timeout=0.2)
    assert state(b) is failgate.State.OPEN


def test_an_unsupported_scheme_counts_for_nothing(clock: failgate.ManualClock) -> None:
    b = breaker(clock, consecutive_failures=1)
    transport = BreakerTransport(b)
    with pytest.raises(httpx.UnsupportedProtocol):
        transport.handle_request(httpx.Request("GET", "ftp://127.0.0.1:21/"))
    transport.close()
    assert state(b) is failgate.State.CLOSED
    assert (totals(b).ignored, totals(b).failures) == (1, 0)


class CountingTransport(httpx.MockTransport):
    """httpx's MockTransport answering ``status``, counting requests and closes."""

    def __init__(self, status: int) -> None:
        self.requests = 0
        self.closed = 0

        def answer(request: httpx.Request) -> httpx.Response:
            self.requests += 1
            return httpx.Response(status, headers={"Retry-After": "30"})

        super().__init__(answer)

    def close(self) -> None:
        self.closed += 1

    async def aclose(self) -> None:
        self.closed += 1


def test_wraps_the_given_transport_and_closes_it(clock: failgate.ManualClock) -> None:
    inner = CountingTransport(503)
    b = breaker(clock, consecutive_failures=2, honor_retry_after=True)
    with httpx.Client(transport=BreakerTransport(b, transport=inner)) as c:
        for _ in range(2):
            assert c.get("http://mock.test/").status_code == 503
        for _ in range(3):
            with pytest.raises(failgate.CircuitOpenError):
                c.get("http://mock.test/")
    assert inner.requests == 2
    assert inner.closed == 1
    assert b.metrics().retry_after == pytest.approx(30.0)


def test_bad_arguments_raise_type_errors() -> None:
    b = failgate.CircuitBreaker()
    with pytest.raises(TypeError, match="BreakerTransport: give exactly one"):
        BreakerTransport()
    with pytest.raises(TypeError, match="AsyncBreakerTransport: give exactly one"):
        AsyncBreakerTransport(b, per_host=lambda origin: b)
    with pytest.raises(TypeError, match="failure_statuses"):
        BreakerTransport(b, failure_statuses=None)  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_async_trips_refuses_without_sending_and_closes_on_a_probe(
    flask_service: FlaskService, clock: failgate.ManualClock
) -> None:
    b = breaker(clock, consecutive_failures=2)
    async with aclient(b) as c:
        for _ in range(2):
            assert (await c.get(f"{flask_service.url}/failure")).status_code == 500
        with pytest.raises(failgate.CircuitOpenError):
            await c.get(f"{flask_service.url}/success")
        assert flask_service.count("/success") == 0
        clock.advance(10)
        assert (await c.get(f"{flask_service.url}/success")).status_code == 200
    assert state(b) is failgate.State.CLOSED
    assert flask_service.count("/success") == 1


@pytest.mark.asyncio
async def test_a_cancelled_probe_gives_its_slot_back(
    flask_service: FlaskService, clock: failgate.ManualClock
) -> None:
    b = breaker(clock, consecutive_failures=1, half_open_permits=1)
    async with aclient(b) as c:
        await c.get(f"{flask_service.url}/failure")
        clock.advance(10)
        probe = asyncio.create_task(c.get(f"{flask_service.url}/slow?delay=30"))
        await wait_until(lambda: flask_service.count("/slow") == 1)
        # The one probe slot is taken: refused, with no wait to promise.
        with pytest.raises(failgate.CircuitOpenError) as refused:
            await c.get(f"{flask_service.url}/success")
        assert refused.value.state is failgate.State.HALF_OPEN
        assert refused.value.retry_after is None
        probe.cancel()
        with pytest.raises(asyncio.CancelledError):
            await probe
        assert state(b) is failgate.State.HALF_OPEN
        assert b.metrics().half_open_probes == 0
        assert (totals(b).abandoned, totals(b).failures) == (1, 1)
        assert (await c.get(f"{flask_service.url}/success")).status_code == 200
    assert state(b) is failgate.State.CLOSED


@pytest.mark.asyncio
async def test_async_refused_connection_and_per_host_isolation(
    flask_service: FlaskService, clock: failgate.ManualClock
) -> None:
    down = closed_port_url()
    transport = AsyncBreakerTransport(
        per_host=lambda origin: breaker(clock, consecutive_failures=1)
    )
    async with httpx.AsyncClient(transport=transport) as c:
        with pytest.raises(httpx.ConnectError):
            await c.get(down)
        with pytest.raises(failgate.CircuitOpenError):
            await c.get(down)
        assert (await c.get(f"{flask_service.url}/success")).status_code == 200
    assert state(transport.breaker_for(down)) is failgate.State.OPEN
    assert state(transport.breaker_for(flask_service.url)) is failgate.State.CLOSED
    assert len(transport.breakers) == 2


@pytest.mark.asyncio
async def test_async_retry_after_and_aclose(clock: failgate.ManualClock) -> None:
    inner = CountingTransport(503)
    b = breaker(clock, consecutive_failures=1, honor_retry_after=True)
    transport = AsyncBreakerTransport(b, transport=inner)
    async with httpx.AsyncClient(transport=transport) as c:
        await c.get("http://mock.test/")
        with pytest.raises(failgate.CircuitOpenError) as refused:
            await c.get("http://mock.test/")
    assert refused.value.retry_after == pytest.approx(30.0)
    assert (inner.requests, inner.closed) == (1, 1)


def test_sync_against_the_rust_demo_service(
    demo_service: DemoService, clock: failgate.ManualClock
) -> None:
    b = breaker(clock, consecutive_failures=2)
    before = demo_service.stats()
    with client(b) as c:
        for _ in range(2):
            assert c.get(f"{demo_service.url}/failure").status_code == 500
        with pytest.raises(failgate.CircuitOpenError):
            c.get(f"{demo_service.url}/success")
        assert demo_service.stats()["success"] == before["success"]  # nothing sent
        clock.advance(10)
        assert c.get(f"{demo_service.url}/success").status_code == 200
    assert state(b) is failgate.State.CLOSED
    after = demo_service.stats()
    assert (after["failure"] - before["failure"], after["success"] - before["success"]) \
        == (2, 1)


@pytest.mark.asyncio
async def test_async_against_the_rust_demo_service(
    demo_service: DemoService, clock: failgate.ManualClock
) -> None:
    b = breaker(clock, consecutive_failures=2)
    before = demo_service.stats()
    async with aclient(b) as c:
        for _ in range(2):
            assert (await c.get(f"{demo_service.url}/failure")).status_code == 500
        for _ in range(3):
            with pytest.raises(failgate.CircuitOpenError):
                await c.get(f"{demo_service.url}/failure")
        clock.advance(10)
        assert (await c.get(f"{demo_service.url}/success")).status_code == 200
    assert state(b) is failgate.State.CLOSED
    after = demo_service.stats()
    assert after["failure"] - before["failure"] == 2
    assert after["success"] - before["success"] == 1
