"""failgate.requests.BreakerAdapter against a Flask app and the Rust demo service."""

from __future__ import annotations

import email.utils
import threading
import time

import pytest
import requests
from requests.adapters import HTTPAdapter

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
from failgate.requests import BreakerAdapter

__all__ = ["clock", "demo_service", "flask_pair", "flask_service"]  # fixtures, by name


def session_with(adapter: BreakerAdapter) -> requests.Session:
    session = requests.Session()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def test_trips_after_the_configured_failures_and_refuses_without_sending(
    flask_service: FlaskService, clock: failgate.ManualClock
) -> None:
    b = breaker(clock)
    with session_with(BreakerAdapter(b)) as s:
        for _ in range(3):
            assert s.get(f"{flask_service.url}/failure").status_code == 500
        assert state(b) is failgate.State.OPEN
        with pytest.raises(failgate.CircuitOpenError) as refused:
            s.get(f"{flask_service.url}/success")
    assert refused.value.name == "http"
    assert refused.value.state is failgate.State.OPEN
    assert refused.value.retry_after == pytest.approx(10.0)
    # The refused request never reached the server.
    assert flask_service.count("/failure") == 3
    assert flask_service.count("/success") == 0


def test_two_failures_of_three_do_not_trip_and_a_success_resets_the_count(
    flask_service: FlaskService, clock: failgate.ManualClock
) -> None:
    b = breaker(clock)
    with session_with(BreakerAdapter(b)) as s:
        for path in ("failure", "failure", "success", "failure", "failure"):
            s.get(f"{flask_service.url}/{path}")
    assert state(b) is failgate.State.CLOSED
    assert b.metrics().consecutive_failures == 2


def test_half_opens_on_the_clock_and_a_successful_probe_closes(
    flask_service: FlaskService, clock: failgate.ManualClock
) -> None:
    changes: list[failgate.StateChange] = []
    b = breaker(clock, listeners=[changes.append])
    with session_with(BreakerAdapter(b)) as s:
        for _ in range(3):
            s.get(f"{flask_service.url}/failure")
        clock.advance(9.5)
        with pytest.raises(failgate.CircuitOpenError):
            s.get(f"{flask_service.url}/success")
        clock.advance(0.5)
        assert state(b) is failgate.State.HALF_OPEN
        assert s.get(f"{flask_service.url}/success").status_code == 200
    assert state(b) is failgate.State.CLOSED
    assert [(c.new, c.reason) for c in changes] == [
        (failgate.State.OPEN, "consecutive_failures"),
        (failgate.State.HALF_OPEN, "wait_elapsed"),
        (failgate.State.CLOSED, "probes_succeeded"),
    ]
    assert flask_service.count("/success") == 1


def test_a_failed_probe_reopens(
    flask_service: FlaskService, clock: failgate.ManualClock
) -> None:
    b = breaker(clock, consecutive_failures=1)
    with session_with(BreakerAdapter(b)) as s:
        s.get(f"{flask_service.url}/failure")
        clock.advance(10)
        assert s.get(f"{flask_service.url}/failure").status_code == 500
        assert state(b) is failgate.State.OPEN
        with pytest.raises(failgate.CircuitOpenError):
            s.get(f"{flask_service.url}/success")
    assert flask_service.count("/failure") == 2


def test_4xx_answers_are_successes_unless_failure_statuses_says_so(
    flask_service: FlaskService, clock: failgate.ManualClock
) -> None:
    lenient = breaker(clock, consecutive_failures=1)
    with session_with(BreakerAdapter(lenient)) as s:
        assert s.get(f"{flask_service.url}/missing").status_code == 404
        assert s.get(f"{flask_service.url}/retry-after?status=429").status_code == 429
    assert state(lenient) is failgate.State.CLOSED
    assert totals(lenient).successes == 2

    strict = breaker(clock, consecutive_failures=2)
    adapter = BreakerAdapter(strict, failure_statuses={404, 429})
    with session_with(adapter) as s:
        s.get(f"{flask_service.url}/missing")
        s.get(f"{flask_service.url}/retry-after?status=429")
    assert state(strict) is failgate.State.OPEN
    # With its own set, a 500 is no longer a failure.
    only_404 = breaker(clock, consecutive_failures=1)
    with session_with(BreakerAdapter(only_404, failure_statuses={404})) as s:
        s.get(f"{flask_service.url}/failure")
    assert state(only_404) is failgate.State.CLOSED


def test_retry_after_seconds_on_a_503_holds_the_breaker_open(
    flask_service: FlaskService, clock: failgate.ManualClock
) -> None:
    b = breaker(clock, consecutive_failures=1, honor_retry_after=True)
    with session_with(BreakerAdapter(b)) as s:
        assert s.get(f"{flask_service.url}/retry-after?seconds=120").status_code == 503
        assert state(b) is failgate.State.OPEN
        assert b.metrics().retry_after == pytest.approx(120.0)
        clock.advance(10)  # open_for has passed, the server's 120 s have not
        with pytest.raises(failgate.CircuitOpenError) as refused:
            s.get(f"{flask_service.url}/success")
        assert refused.value.retry_after == pytest.approx(110.0)
        clock.advance(110)
        assert state(b) is failgate.State.HALF_OPEN
        s.get(f"{flask_service.url}/success")
    assert state(b) is failgate.State.CLOSED


def test_retry_after_as_an_http_date(
    flask_service: FlaskService, clock: failgate.ManualClock
) -> None:
    b = breaker(clock, consecutive_failures=1, honor_retry_after=True)
    date = email.utils.formatdate(time.time() + 600, usegmt=True)
    with session_with(BreakerAdapter(b)) as s:
        s.get(f"{flask_service.url}/retry-after", params={"date": date})
    retry_after = b.metrics().retry_after
    assert retry_after is not None
    # The date has whole seconds and the request took a moment.
    assert 597 <= retry_after <= 601


def test_retry_after_on_a_429_counts_as_a_success_but_lengthens_a_later_opening(
    flask_service: FlaskService, clock: failgate.ManualClock
) -> None:
    # As the core's HttpClassifier: a 429 succeeds by default, and its hint holds
    # from the moment it is recorded, whatever the outcome.
    b = breaker(clock, consecutive_failures=1, honor_retry_after=True)
    with session_with(BreakerAdapter(b)) as s:
        s.get(f"{flask_service.url}/retry-after?status=429&seconds=300")
        assert state(b) is failgate.State.CLOSED
        s.get(f"{flask_service.url}/failure")
    assert state(b) is failgate.State.OPEN
    assert b.metrics().retry_after == pytest.approx(300.0)


def test_retry_after_is_bounded_by_max_retry_after_and_read_only_on_503_and_429(
    flask_service: FlaskService, clock: failgate.ManualClock
) -> None:
    bounded = breaker(clock, consecutive_failures=1, honor_retry_after=True,
                      max_retry_after=30)
    with session_with(BreakerAdapter(bounded)) as s:
        s.get(f"{flask_service.url}/retry-after?seconds=99999999999")
    assert bounded.metrics().retry_after == pytest.approx(30.0)

    on_500 = breaker(clock, consecutive_failures=1, honor_retry_after=True)
    with session_with(BreakerAdapter(on_500)) as s:
        s.get(f"{flask_service.url}/retry-after?status=500&seconds=120")
    assert on_500.metrics().retry_after == pytest.approx(10.0)  # open_for alone


def test_without_honor_retry_after_the_backoff_alone_decides(
    flask_service: FlaskService, clock: failgate.ManualClock
) -> None:
    # The core's default (Builder::honor_retry_after: off): the hint is passed, unused.
    b = breaker(clock, consecutive_failures=1)
    with session_with(BreakerAdapter(b)) as s:
        s.get(f"{flask_service.url}/retry-after?seconds=120")
    assert b.metrics().retry_after == pytest.approx(10.0)


def test_a_refused_connection_is_a_failure(clock: failgate.ManualClock) -> None:
    b = breaker(clock, consecutive_failures=2)
    url = closed_port_url()
    with session_with(BreakerAdapter(b)) as s:
        for _ in range(2):
            with pytest.raises(requests.ConnectionError):
                s.get(url, timeout=5)
        with pytest.raises(failgate.CircuitOpenError):
            s.get(url, timeout=5)
    assert (totals(b).failures, totals(b).refused) == (2, 1)


def test_a_timeout_is_a_failure(
    flask_service: FlaskService, clock: failgate.ManualClock
) -> None:
    # Real time: the timeout is what is tested (0.2 s; the server is released at once).
    b = breaker(clock, consecutive_failures=1)
    with session_with(BreakerAdapter(b)) as s:
        with pytest.raises(requests.Timeout):
            s.get(f"{flask_service.url}/slow?delay=5", timeout=0.2)
    assert state(b) is failgate.State.OPEN


def test_caller_errors_count_for_nothing(
    flask_service: FlaskService, clock: failgate.ManualClock
) -> None:
    b = breaker(clock, consecutive_failures=1)
    with session_with(BreakerAdapter(b)) as s:
        with pytest.raises(requests.exceptions.InvalidURL):
            s.get(f"{flask_service.url}/success", proxies={"http": "foo://proxy"})
    assert state(b) is failgate.State.CLOSED
    assert (totals(b).ignored, totals(b).failures) == (1, 0)


def test_an_interrupted_probe_gives_its_slot_back(
    flask_service: FlaskService,
    clock: failgate.ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    b = breaker(clock, consecutive_failures=1)
    with session_with(BreakerAdapter(b)) as s:
        s.get(f"{flask_service.url}/failure")
        clock.advance(10)
        with monkeypatch.context() as m:
            def interrupted(*args: object, **kwargs: object) -> requests.Response:
                raise KeyboardInterrupt
            m.setattr(HTTPAdapter, "send", interrupted)
            with pytest.raises(KeyboardInterrupt):
                s.get(f"{flask_service.url}/success")
        assert state(b) is failgate.State.HALF_OPEN
        assert b.metrics().half_open_probes == 0
        s.get(f"{flask_service.url}/success")  # the one slot is free again
    assert state(b) is failgate.State.CLOSED


def test_per_host_breakers_isolate_hosts(
    flask_pair: tuple[FlaskService, FlaskService], clock: failgate.ManualClock
) -> None:
    bad, good = flask_pair
    made: list[str] = []

    def per_host(origin: str) -> failgate.CircuitBreaker:
        made.append(origin)
        return breaker(clock, consecutive_failures=2)

    adapter = BreakerAdapter(per_host=per_host)
    with session_with(adapter) as s:
        for _ in range(3):
            try:
                s.get(f"{bad.url}/failure")
            except failgate.CircuitOpenError:
                pass
        for _ in range(3):
            assert s.get(f"{good.url}/success").status_code == 200
    assert made == [bad.url, good.url]  # once per origin, in the scheme://host:port form
    assert state(adapter.breaker_for(f"{bad.url}/anything")) is failgate.State.OPEN
    assert state(adapter.breaker_for(good.url)) is failgate.State.CLOSED
    assert set(adapter.breakers) == {bad.url, good.url}
    assert bad.count("/failure") == 2 and good.count("/success") == 3


def test_one_shared_breaker_serves_every_host(
    flask_pair: tuple[FlaskService, FlaskService], clock: failgate.ManualClock
) -> None:
    first, second = flask_pair
    b = breaker(clock, consecutive_failures=1)
    with session_with(BreakerAdapter(b)) as s:
        s.get(f"{first.url}/failure")
        with pytest.raises(failgate.CircuitOpenError):
            s.get(f"{second.url}/success")
    assert second.total() == 0


def test_the_factory_runs_once_per_origin_under_racing_threads() -> None:
    calls: list[str] = []
    gate = threading.Barrier(8)

    def slow_factory(origin: str) -> failgate.CircuitBreaker:
        calls.append(origin)
        time.sleep(0.05)  # widens the race a lock must close
        return failgate.CircuitBreaker(name=origin)

    adapter = BreakerAdapter(per_host=slow_factory)
    got: list[object] = []

    def worker() -> None:
        gate.wait()
        got.append(adapter.breaker_for("http://racing.example:81/"))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == ["http://racing.example:81"]
    assert len(got) == 8 and all(g is got[0] for g in got)


def test_bad_arguments_raise_type_errors() -> None:
    b = failgate.CircuitBreaker()
    with pytest.raises(TypeError, match="breaker= and per_host="):
        BreakerAdapter()
    with pytest.raises(TypeError, match="breaker= and per_host="):
        BreakerAdapter(b, per_host=lambda o: b)
    with pytest.raises(TypeError, match="breaker must be"):
        BreakerAdapter("payments")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="per_host must be a callable"):
        BreakerAdapter(per_host=42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="failure_statuses"):
        BreakerAdapter(b, failure_statuses=500)  # type: ignore[arg-type]
    adapter = BreakerAdapter(per_host=lambda o: "not a breaker")  # type: ignore[arg-type,return-value]
    with pytest.raises(TypeError, match="per_host must return"):
        adapter.breaker_for("http://x/")


def test_adapter_kwargs_reach_http_adapter() -> None:
    adapter = BreakerAdapter(failgate.CircuitBreaker(), max_retries=3, pool_maxsize=4)
    assert adapter.max_retries.total == 3
    assert adapter._pool_maxsize == 4  # type: ignore[attr-defined]


def test_against_the_rust_demo_service(
    demo_service: DemoService, clock: failgate.ManualClock
) -> None:
    b = breaker(clock, consecutive_failures=2)
    before = demo_service.stats()
    with session_with(BreakerAdapter(b)) as s:
        for _ in range(2):
            assert s.get(f"{demo_service.url}/failure").status_code == 500
        assert state(b) is failgate.State.OPEN
        for _ in range(3):
            with pytest.raises(failgate.CircuitOpenError):
                s.get(f"{demo_service.url}/success")
        after_refusals = demo_service.stats()
        clock.advance(10)
        assert s.get(f"{demo_service.url}/success").status_code == 200
    assert state(b) is failgate.State.CLOSED
    assert after_refusals["failure"] - before["failure"] == 2
    assert after_refusals["success"] - before["success"] == 0  # nothing sent
    assert demo_service.stats()["success"] - before["success"] == 1
