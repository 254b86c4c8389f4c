"""The original take-home's flaky HTTP service, in Flask.

It answers like ``failgate-demo serve`` (the Rust one), so the walk-through in
``main.py`` runs against either:

    GET /success   200 {"endpoint": "success", "outcome": "success", "status": 200}
    GET /failure   500 {"endpoint": "failure", "outcome": "failure", "status": 500}
    GET /random    500 with probability --failure-ratio, else 200
                   (?ratio=0.9 and ?delay=2s override per request; a bad value is a 400)
    GET /health    200
    GET /stats     the requests each endpoint has seen (not counting /stats)

    python examples/python/service.py --port 0 --failure-ratio 0.3 --seed 7

prints ``listening on http://127.0.0.1:PORT`` once it accepts connections (so a test
can start it on port 0 and read the port), then logs each request on stderr.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.serving import BaseWSGIServer, make_server

# The longest ?delay= or --latency accepted, as in the Rust service: a stray
# ?delay=9999h must not pin a connection (and the shutdown) for ever.
MAX_DELAY = 60.0

_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "sec": 1.0,
    "m": 60.0,
    "min": 60.0,
    "h": 3600.0,
}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)")


def parse_duration(text: str) -> float:
    """Seconds in ``text``: ``"100ms"``, ``"2s"``, ``"1m 30s"`` or ``"0"``.

    A bare number other than 0 is refused, as humantime (the Rust side's parser) does:
    ``"50"`` could mean seconds or milliseconds.
    """
    s = text.strip().lower()
    if s == "0":
        return 0.0
    parts = _PART.findall(s)
    if not parts or _PART.sub("", s).strip():
        raise ValueError(f"expected a duration such as 100ms, 2s or 1m, not {text!r}")
    total = 0.0
    for number, unit in parts:
        if unit not in _UNITS:
            raise ValueError(f"unknown unit {unit!r} in {text!r}; use ms, s, m or h")
        total += float(number) * _UNITS[unit]
    return total


def parse_ratio(text: str) -> float:
    """A probability in [0, 1], with the Rust service's messages."""
    try:
        value = float(text.strip())
    except ValueError:
        raise ValueError("expected a number between 0 and 1, such as 0.25") from None
    if value != value:
        raise ValueError("NaN is not a probability; expected a number between 0 and 1")
    if not 0.0 <= value <= 1.0:
        raise ValueError("must be between 0 and 1 (inclusive)")
    return value


def parse_delay(text: str) -> float:
    delay = parse_duration(text)
    if delay > MAX_DELAY:
        raise ValueError(f"must be at most {MAX_DELAY:g}s")
    return delay


ENDPOINTS = ("success", "failure", "random", "health")


@dataclass
class Stats:
    """Requests the service saw, counted on arrival: what reached it, whatever its
    clients believe. Werkzeug serves each request on its own thread, hence the lock."""

    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            (*ENDPOINTS, "random_failures", "not_found", "bad_request"), 0
        )
    )
    lock: threading.Lock = field(default_factory=threading.Lock)

    def bump(self, key: str) -> None:
        with self.lock:
            self.counts[key] += 1

    def snapshot(self) -> dict[str, int]:
        with self.lock:
            snap = dict(self.counts)
        # As the Rust /stats: everything but random_failures (a part of random).
        snap["total"] = sum(v for k, v in snap.items() if k != "random_failures")
        return snap


def _bad_parameter(stats: Stats, name: str, value: str, why: str) -> tuple[Response, int]:
    stats.bump("bad_request")
    body = {
        "error": "bad_request",
        "message": f"invalid value {value!r} for query parameter `{name}`: {why}",
        "status": 400,
        "parameter": name,
        "value": value,
    }
    return jsonify(body), 400


def create_app(
    failure_ratio: float = 0.5, seed: int | None = None, latency: float = 0.0
) -> Flask:
    """The service as a Flask app (``app.config["STATS"]`` holds its counters)."""
    parse_ratio(str(failure_ratio))  # the same check as the flag's
    app = Flask("failgate_flaky_service")
    stats = Stats()
    # One seeded stream under a lock: the n-th /random request draws the n-th number
    # whatever the interleaving of threads, so a seeded run can be replayed.
    rng = random.Random(seed)
    rng_lock = threading.Lock()
    app.config["STATS"] = stats
    app.config["SEED"] = seed

    def answer(endpoint: str) -> tuple[Response, int]:
        ratio, delay = failure_ratio, latency
        for name, parse in (("ratio", parse_ratio), ("delay", parse_delay)):
            raw = request.args.get(name)
            if raw is None:
                continue
            try:
                value = parse(raw)
            except ValueError as e:
                return _bad_parameter(stats, name, raw, str(e))
            if name == "ratio":
                ratio = value
            else:
                delay = value
        stats.bump(endpoint)
        failed = endpoint == "failure"
        if endpoint == "random":
            with rng_lock:
                failed = rng.random() < ratio
            if failed:
                stats.bump("random_failures")
        if delay > 0:
            time.sleep(delay)
        status = 500 if failed else 200
        outcome = "failure" if failed else "success"
        return jsonify(endpoint=endpoint, outcome=outcome, status=status), status

    for endpoint in ENDPOINTS:
        # A default argument binds each endpoint's own name into its view.
        def view(endpoint: str = endpoint) -> tuple[Response, int]:
            return answer(endpoint)

        app.add_url_rule(f"/{endpoint}", endpoint, view, methods=["GET"])

    @app.get("/stats")
    def stats_view() -> Response:
        return jsonify(stats.snapshot())

    @app.errorhandler(404)
    @app.errorhandler(405)
    def not_found(error: Any) -> tuple[Response, int]:
        stats.bump("not_found")
        code = int(getattr(error, "code", 404))
        if code == 405:
            kind, message = "method_not_allowed", f"{request.method} is not allowed on {request.path}; use GET"
        else:
            kind = "not_found"
            message = f"no endpoint at {request.path}; try /success, /failure, /random, /health or /stats"
        body = {"error": kind, "message": message, "status": code, "path": request.path}
        return jsonify(body), code

    return app


class Server:
    """The app on a background thread (``main.py`` starts one in-process)."""

    def __init__(self, app: Flask, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self._server: BaseWSGIServer = make_server(host, port, app, threaded=True)
        # A short poll interval: shutdown() waits up to one interval, and the
        # walk-through stops its in-process service at the end of every run.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="flaky-service",
            daemon=True,
        )

    @property
    def url(self) -> str:
        return f"http://{self._server.host}:{self._server.server_port}"

    @property
    def stats(self) -> Stats:
        stats: Stats = self.app.config["STATS"]
        return stats

    def start(self) -> Server:
        self._thread.start()
        return self

    def run(self) -> None:
        """Serves on this thread until interrupted (Ctrl-C)."""
        try:
            self._server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            self._server.server_close()

    def shutdown(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=5000, help="port; 0 picks a free one")
    parser.add_argument(
        "--failure-ratio", type=parse_ratio, default=0.5, metavar="RATIO",
        help="probability (0 to 1) that GET /random answers 500 (default 0.5)",
    )
    parser.add_argument(
        "--latency", type=parse_delay, default=0.0, metavar="DURATION",
        help="delay before every answer, e.g. 100ms (at most 1m)",
    )
    parser.add_argument("--seed", type=int, default=None, help="seed of the /random draws")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    seed = args.seed if args.seed is not None else random.randrange(2**63)
    if args.seed is None:
        # Logged, so a run can be replayed with --seed.
        print(f"seed {seed}", file=sys.stderr, flush=True)
    server = Server(create_app(args.failure_ratio, seed, args.latency), args.host, args.port)
    # Bound already: a client that reads this line can connect at once.
    print(f"listening on {server.url}", flush=True)
    server.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
