"""The seed's walk-through: nine calls to a flaky service through a circuit breaker.

The Python twin of ``failgate-demo scenario`` (crates/failgate-demo/src/scenario), with
the same steps, flags and story. The calls go to ``/failure`` and ``/success``, with a
pause after the fourth; with the defaults (threshold 2, open for 2s, pause 3s):

    step  call     outcome   state after
    1     failure  failure   closed
    2     failure  failure   open (threshold reached)
    3     failure  rejected  open
    4     success  rejected  open
          pause
    5     success  success   closed (the half-open probe succeeded)
    6     success  success   closed
    7     failure  failure   closed
    8     failure  failure   open
    9     success  rejected  open

Rejected calls never reach the server. The seed waited out a 60 s open period; like the
Rust demo this one stays open 2 s and pauses 3 s by default (``--open-for 60s
--pause 100s`` gives the seed's timings).

    python examples/python/main.py                       # service.py in-process, port 0
    python examples/python/main.py --target http://127.0.0.1:5000 --json
    python examples/python/main.py --client adapter      # through failgate.requests

``--client direct`` (the default) decorates a ``requests`` call with ``@breaker``;
``--client adapter`` mounts ``failgate.requests.BreakerAdapter`` on the session, and
nothing in the walk-through touches the breaker: the adapter refuses, and classifies
each response (as ``--client tower`` does in the Rust demo).
"""

from __future__ import annotations

import argparse
import http
import json
import logging
import math
import os
import sys
import threading
import time
from dataclasses import dataclass
from typing import IO, Callable
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests

import failgate
from failgate.requests import BreakerAdapter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import service  # noqa: E402  (this directory's service.py, for the in-process target)

STEPS = ("failure", "failure", "failure", "success", "success", "success", "failure", "failure", "success")
PAUSE_AFTER = 4
BREAKER_NAME = "flaky"
DEFAULT_THRESHOLD = 2
DEFAULT_OPEN_FOR = "2s"
DEFAULT_PAUSE = "3s"
DEFAULT_TIMEOUT = "10s"


class ScenarioError(Exception):
    """Why the walk-through could not run to its end (the message is the Rust demo's)."""


class ServerError(Exception):
    """The server answered 5xx: the failure the breaker counts."""

    def __init__(self, status: int) -> None:
        super().__init__(f"server answered {status_text(status)}")
        self.status = status


def status_text(status: int) -> str:
    """``500 Internal Server Error``, as the Rust demo prints a status."""
    try:
        return f"{status} {http.HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} <unknown status code>"


def human_state(state: str) -> str:
    """A state as the story spells it: ``half-open``, ``forced-open``..."""
    return str(state).replace("_", "-")


def human_duration(seconds: float) -> str:
    """``1.2s`` from one second up, ``350ms`` below (the Rust demo's rounding)."""
    if seconds >= 1.0:
        rounded = math.floor(seconds + 0.5)
        if abs(seconds - rounded) < 0.05:
            return f"{rounded}s"
        return f"{seconds:.1f}s"
    # Rust's Duration::as_millis truncates; the epsilon keeps 0.2 (0.19999...) at 200.
    return f"{math.floor(seconds * 1000 + 1e-6)}ms"


class Story:
    """The story being told, each line stamped with the time since the start.

    The breaker's listener queues its lines and the runner writes them after the line of
    the request that caused them, so "failure 2/2: threshold reached" comes before
    "circuit OPEN". With ``--json`` only the step reports are written.
    """

    def __init__(self, json_format: bool, out: IO[str]) -> None:
        self.start = time.monotonic()
        self.json = json_format
        self.out = out
        self._queued: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def _write(self, at: float, line: str) -> None:
        self.out.write(f"[{at:8.3f}s] {line}\n")
        self.out.flush()

    def say(self, line: str, at: float | None = None) -> None:
        if self.json:
            return
        self._write(self.elapsed() if at is None else at, line)
        self.flush_queued()

    def queue(self, line: str) -> None:
        if not self.json:
            with self._lock:
                self._queued.append((self.elapsed(), line))

    def flush_queued(self) -> None:
        with self._lock:
            queued, self._queued = self._queued, []
        for at, line in queued:
            self._write(at, line)

    def report(self, report: dict[str, object]) -> None:
        if self.json:
            # serde_json's compact form, the fields in the Rust StepReport's order.
            self.out.write(json.dumps(report, separators=(",", ":")) + "\n")
            self.out.flush()


def story_listener(story: Story, open_for: float) -> Callable[[failgate.StateChange], None]:
    """Tells the breaker's state changes into the story."""

    def listen(change: failgate.StateChange) -> None:
        wait = human_duration(change.wait if change.wait is not None else open_for)
        old, new = change.old, change.new
        if old is failgate.State.HALF_OPEN and new is failgate.State.OPEN:
            line = f"  probe failed: circuit OPEN again for {wait}"
        elif new is failgate.State.OPEN:
            line = f"  circuit OPEN for {wait}"
        elif new is failgate.State.HALF_OPEN:
            line = "  circuit HALF-OPEN: probing"
        elif new is failgate.State.CLOSED:
            line = "  circuit CLOSED"
        else:
            line = f"  circuit {human_state(new).upper()}"
        story.queue(line)

    return listen


class Caller:
    """Makes the calls through the breaker: ``get(url)`` returns a 2xx-4xx status,
    raises `ServerError` on a 5xx, `failgate.CircuitOpenError` when refused, and
    `requests.RequestException` when there is no answer."""

    def __init__(
        self, kind: str, breaker: failgate.CircuitBreaker, timeout: float, loopback: bool
    ) -> None:
        self.session = requests.Session()
        # The in-process service is on loopback: never through a proxy from the
        # environment (as the Rust demo builds its client with no_proxy()).
        self.session.trust_env = not loopback
        self.timeout = timeout
        self.get: Callable[[str], int]
        if kind == "adapter":
            adapter = BreakerAdapter(breaker)
            self.session.mount("http://", adapter)
            self.session.mount("https://", adapter)
            self.get = self._through_adapter
        else:
            self.get = breaker(self._request)

    def _request(self, url: str) -> int:
        response = self.session.get(url, timeout=self.timeout)
        if response.status_code >= 500:
            raise ServerError(response.status_code)
        return response.status_code

    def _through_adapter(self, url: str) -> int:
        # The adapter has already told the breaker what this answer means.
        return self._request(url)


class Consecutive:
    """Consecutive failures seen while closed, to tell "failure 1/2" from "2/2"."""

    def __init__(self, threshold: int) -> None:
        self.seen = 0
        self.threshold = threshold

    def note(self, before: failgate.State) -> str:
        if before is not failgate.State.CLOSED:
            return f"failure while {human_state(before)}"
        self.seen += 1
        if self.seen >= self.threshold:
            self.seen = 0
            return f"failure {self.threshold}/{self.threshold}: threshold reached"
        return f"failure {self.seen}/{self.threshold}"


@dataclass
class Run:
    """What every step needs."""

    story: Story
    breaker: failgate.CircuitBreaker
    caller: Caller
    base: str
    failures: Consecutive


def endpoint_url(base: str, endpoint: str) -> str:
    """Joins an endpoint onto the target, keeping any path prefix of the target."""
    return urljoin(base if base.endswith("/") else base + "/", endpoint)


def take_step(run: Run, step: int, endpoint: str) -> dict[str, object]:
    """One step: the call through the breaker, its line in the story, and its report."""
    url = endpoint_url(run.base, endpoint)
    # Reading the state first also performs a due open -> half-open transition, so its
    # "HALF-OPEN" line comes before the probe's request line.
    before = run.breaker.state
    run.story.flush_queued()
    sent_at = run.story.elapsed()
    head = f"step {step}: GET /{endpoint}"
    report: dict[str, object] = {"step": step, "endpoint": endpoint, "outcome": "rejected"}
    line: str
    try:
        status = run.caller.get(url)
    except failgate.CircuitOpenError as refused:
        line = f"{head} refused: circuit {human_state(refused.state)}"
        if refused.retry_after is not None:
            line += f", retry after {human_duration(refused.retry_after)}"
            report["retry_after_ms"] = math.floor(refused.retry_after * 1000 + 1e-6)
        line += " (not sent)"
    except ServerError as failed:
        report["outcome"], report["status"] = "failure", failed.status
        line = f"{head} -> {status_text(failed.status)} ({run.failures.note(before)})"
    except requests.RequestException as e:
        raise ScenarioError(
            f"step {step}: GET {url} failed; is `failgate-demo serve` running there?"
            f"\n  caused by: {e}"
        ) from e
    else:
        if not 200 <= status < 300:
            raise ScenarioError(
                f"step {step}: GET {url} answered {status_text(status)}; "
                "is the target a `failgate-demo serve`?"
            )
        run.failures.seen = 0
        report["outcome"], report["status"] = "success", status
        line = f"{head} -> {status_text(status)}"
    report["state"] = run.breaker.state.value
    run.story.say(line, at=sent_at)
    # The Rust StepReport's field order: step, endpoint, outcome, state, status, retry.
    order = ("step", "endpoint", "outcome", "state", "status", "retry_after_ms")
    return {key: report[key] for key in order if key in report}


def run_steps(run: Run, open_for: float, pause: float) -> list[dict[str, object]]:
    """The nine steps in order, with the pause after the fourth."""
    reports = []
    for index, endpoint in enumerate(STEPS):
        if index == PAUSE_AFTER:
            line = f"pausing {human_duration(pause)}"
            if pause < open_for:
                line += (
                    f" (shorter than open-for {human_duration(open_for)}: "
                    "the circuit will still be open)"
                )
            run.story.say(line)
            time.sleep(pause)
        report = take_step(run, index + 1, endpoint)
        run.story.flush_queued()
        run.story.report(report)
        reports.append(report)
    return reports


def parse_target(text: str) -> str:
    """An absolute http URL with a host, spelled as the Rust demo prints it."""
    expected = "expected an http:// URL such as http://127.0.0.1:5000"
    parts = urlsplit(text.strip())
    if parts.scheme == "https":
        raise argparse.ArgumentTypeError(
            "https is not supported: the demo client speaks plain HTTP, like "
            f"`failgate-demo serve`; {expected}"
        )
    if parts.scheme != "http":
        raise argparse.ArgumentTypeError(f"unsupported scheme {parts.scheme!r}; {expected}")
    if not parts.hostname:
        raise argparse.ArgumentTypeError(f"no host in the URL; {expected}")
    return urlunsplit(("http", parts.netloc.lower(), parts.path or "/", parts.query, ""))


def positive_duration(text: str) -> float:
    try:
        seconds = service.parse_duration(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError("must be greater than zero")
    return seconds


def threshold(text: str) -> int:
    try:
        n = int(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError("expected a whole number, at least 1") from None
    if n < 1:
        raise argparse.ArgumentTypeError(
            "must be at least 1 (the circuit opens after this many consecutive failures)"
        )
    return n


def arguments(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--target", type=parse_target, metavar="URL",
                   help="a running `failgate-demo serve` or service.py; without it, "
                   "service.py runs in-process on a free port")
    p.add_argument("--threshold", type=threshold, default=DEFAULT_THRESHOLD, metavar="N",
                   help="consecutive failures that open the circuit (default 2)")
    p.add_argument("--open-for", type=positive_duration, default=DEFAULT_OPEN_FOR,
                   metavar="DURATION", help="how long the circuit stays open (default 2s)")
    p.add_argument("--pause", type=positive_duration, default=DEFAULT_PAUSE,
                   metavar="DURATION", help="pause between the 4th and 5th call (default 3s)")
    p.add_argument("--timeout", type=positive_duration, default=DEFAULT_TIMEOUT,
                   metavar="DURATION", help="timeout of each HTTP request (default 10s)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object per step on stdout instead of the story")
    p.add_argument("--client", choices=("direct", "adapter"), default="direct",
                   help="direct: @breaker around requests; adapter: failgate.requests")
    return p.parse_args(argv)


def scenario(args: argparse.Namespace, out: IO[str]) -> list[dict[str, object]]:
    """Runs the nine steps and writes the story (or the JSON reports) to ``out``."""
    story = Story(args.json, out)
    breaker = failgate.CircuitBreaker(
        BREAKER_NAME,
        consecutive_failures=args.threshold,
        open_for=args.open_for,
        listeners=[story_listener(story, args.open_for)],
    )
    server = None
    base = args.target
    if base is None:
        # The Rust demo logs warnings only; werkzeug would log every request.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        server = service.Server(service.create_app()).start()
        base = server.url + "/"
    try:
        caller = Caller(args.client, breaker, args.timeout, loopback=server is not None)
        where = f"in-process flaky service at {base}" if server else base
        plural = "" if args.threshold == 1 else "s"
        story.say(
            f"breaker {json.dumps(BREAKER_NAME)}: opens after {args.threshold} consecutive "
            f"failure{plural}, stays open {human_duration(args.open_for)}; target: {where}"
        )
        reports = run_steps(Run(story, breaker, caller, base, Consecutive(args.threshold)),
                            args.open_for, args.pause)
    finally:
        if server is not None:
            server.shutdown()
    sent = sum(1 for r in reports if r["outcome"] != "rejected")
    refused = len(reports) - sent
    story.say(
        f"done: {sent} request{'' if sent == 1 else 's'} reached the server, {refused} "
        f"{'was' if refused == 1 else 'were'} refused by the breaker without a request"
    )
    return reports


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    try:
        scenario(args, sys.stdout)
    except ScenarioError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
