"""Servers for the requests and httpx integration tests: a Flask app on 127.0.0.1 port
0 in a thread, and the Rust demo service (`failgate-demo serve`) in a subprocess.

Both count the requests that reach them, so a test can tell a refusal that sent
nothing from a request that failed.
"""

from __future__ import annotations

import json
import random
import socket
import subprocess
import threading
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from flask import Flask, Response, request
from werkzeug.serving import BaseWSGIServer, make_server

import failgate
from _process_support import require_demo_binary, start_listening, stop
from failgate import Breaker

# tests/ -> failgate-python/ -> crates/ -> the repository root


@pytest.fixture
def clock() -> failgate.ManualClock:
    """A manual clock for the breaker: tests move time, they never sleep for it."""
    return failgate.ManualClock()


def breaker(clock: failgate.ManualClock, **kwargs: object) -> failgate.CircuitBreaker:
    """A breaker named "http" on ``clock``: 3 consecutive failures, open 10 s, with
    lifetime totals; ``kwargs`` override or add settings."""
    settings: dict[str, object] = {"consecutive_failures": 3, "open_for": 10, "totals": True}
    settings.update(kwargs)
    return failgate.CircuitBreaker(name="http", clock=clock, **settings)  # type: ignore[arg-type]


def state(b: Breaker) -> failgate.State:
    # A call, not the property: mypy would narrow `b.state` after one assert on it.
    return b.state


def totals(b: Breaker) -> failgate.Totals:
    # Lifetime counts (totals=True): Metrics' own counts are the window's.
    found = b.metrics().totals
    assert found is not None
    return found


@dataclass
class FlaskService:
    """A running Flask app: its base URL and the requests each path received."""

    url: str
    hits: Counter[str] = field(default_factory=Counter)
    # Set at teardown so that a /slow request still in flight ends at once.
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, path: str) -> int:
        with self.lock:
            return self.hits[path]

    def total(self) -> int:
        with self.lock:
            return sum(self.hits.values())


def make_app(service: FlaskService) -> Flask:
    """/success (200), /failure (500), /random (500 with probability ?ratio=, 0.5),
    /retry-after (503, or ?status=, with Retry-After: ?seconds= or ?date=), /slow
    (200 after ?delay= seconds, 5 by default). Every other path is Flask's 404."""
    app = Flask("failgate_http_tests")
    rng = random.Random(7)  # seeded: a failing run can be replayed

    @app.before_request
    def count() -> None:
        with service.lock:
            service.hits[request.path] += 1

    @app.get("/success")
    def success() -> Response:
        return Response("ok", status=200)

    @app.get("/failure")
    def failure() -> Response:
        return Response("down", status=500)

    @app.get("/random")
    def random_answer() -> Response:
        ratio = float(request.args.get("ratio", "0.5"))
        with service.lock:
            failed = rng.random() < ratio
        return Response("down" if failed else "ok", status=500 if failed else 200)

    @app.get("/retry-after")
    def retry_after() -> Response:
        status = int(request.args.get("status", "503"))
        value = request.args.get("seconds") or request.args.get("date")
        headers = {} if value is None else {"Retry-After": value}
        return Response("busy", status=status, headers=headers)

    @app.get("/slow")
    def slow() -> Response:
        service.release.wait(float(request.args.get("delay", "5")))
        return Response("late", status=200)

    return app


@dataclass
class _Running:
    service: FlaskService
    server: BaseWSGIServer
    thread: threading.Thread


def _start_flask() -> _Running:
    service = FlaskService(url="")
    # threaded: a /slow request must not hold up the others.
    server = make_server("127.0.0.1", 0, make_app(service), threaded=True)
    service.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return _Running(service, server, thread)


def _stop_flask(running: _Running) -> None:
    running.service.release.set()
    running.server.shutdown()
    running.server.server_close()
    running.thread.join(5)


@pytest.fixture
def flask_service() -> Iterator[FlaskService]:
    """A Flask app on 127.0.0.1, a fresh one (and fresh counts) for each test."""
    running = _start_flask()
    try:
        yield running.service
    finally:
        _stop_flask(running)


@pytest.fixture
def flask_pair() -> Iterator[tuple[FlaskService, FlaskService]]:
    """Two Flask apps on two ports: two origins, for per-host breakers."""
    first, second = _start_flask(), _start_flask()
    try:
        yield first.service, second.service
    finally:
        _stop_flask(first)
        _stop_flask(second)


def closed_port_url() -> str:
    """A loopback URL on a port nothing listens on: a connection there is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # The port was free a moment ago and nobody listened on it; the kernel hands out
    # ephemeral ports in sequence, so it is not reused at once.
    return f"http://127.0.0.1:{port}"


@dataclass
class DemoService:
    """A running `failgate-demo serve`, counting requests per endpoint (its /stats)."""

    url: str

    def stats(self) -> dict[str, int]:
        # urllib, not requests/httpx: the count must not go through a breaker under test.
        with urllib.request.urlopen(f"{self.url}/stats", timeout=5) as answer:
            data: dict[str, int] = json.load(answer)
        return data


@pytest.fixture(scope="module")
def demo_service() -> Iterator[DemoService]:
    """`failgate-demo serve --addr 127.0.0.1:0`; skipped when the binary is absent
    (failed with CI=true). Shared by a module's tests: they read counts as deltas."""
    binary = require_demo_binary()
    proc, url = start_listening([str(binary), "serve", "--addr", "127.0.0.1:0"])
    try:
        yield DemoService(url)
    finally:
        stop(proc)

