"""What test_examples.py needs: the walk-through run as a subprocess, the two flaky
services (service.py and the Rust `failgate-demo serve`) on loopback port 0, and the
expected story."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from _process_support import REPO, require_demo_binary, start_listening, stop

EXAMPLES = REPO / "examples" / "python"
MAIN = EXAMPLES / "main.py"
SERVICE = EXAMPLES / "service.py"
# Short waits, as the Rust demo's own tests use (crates/failgate-demo/tests/scenario.rs).
FAST = ["--open-for", "200ms", "--pause", "300ms"]

# (endpoint, outcome, state after) of the nine steps: the Rust test's table.
EXPECTED = [
    ("failure", "failure", "closed"),
    ("failure", "failure", "open"),
    ("failure", "rejected", "open"),
    ("success", "rejected", "open"),
    ("success", "success", "closed"),
    ("success", "success", "closed"),
    ("failure", "failure", "closed"),
    ("failure", "failure", "open"),
    ("success", "rejected", "open"),
]

# The key lines of the human story, in this order: copied from the Rust test
# `the_default_command_tells_the_story`.
STORY = [
    "in-process flaky service at http://127.0.0.1:",
    "step 1: GET /failure -> 500 Internal Server Error (failure 1/2)",
    "step 2: GET /failure -> 500 Internal Server Error (failure 2/2: threshold reached)",
    "circuit OPEN for 200ms",
    "step 3: GET /failure refused: circuit open, retry after",
    "step 4: GET /success refused: circuit open, retry after",
    "pausing 300ms",
    "circuit HALF-OPEN: probing",
    "step 5: GET /success -> 200 OK",
    "circuit CLOSED",
    "step 6: GET /success -> 200 OK",
    "step 7: GET /failure -> 500 Internal Server Error (failure 1/2)",
    "step 8: GET /failure -> 500 Internal Server Error (failure 2/2: threshold reached)",
    "circuit OPEN for 200ms",
    "step 9: GET /success refused: circuit open, retry after",
    "done: 6 requests reached the server, 3 were refused",
]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    # The services are on loopback: never through a proxy from the environment.
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env.pop("RUST_LOG", None)
    return env


def run_main(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``python examples/python/main.py ARGS``, its output captured."""
    return subprocess.run(
        [sys.executable, str(MAIN), *args],
        capture_output=True, text=True, timeout=timeout, env=_env(),
        stdin=subprocess.DEVNULL,
    )


def run_ok(*args: str) -> str:
    done = run_main(*args)
    assert done.returncode == 0, f"rc {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def json_reports(stdout: str) -> list[dict[str, object]]:
    """One JSON object a line, and nothing else on stdout."""
    reports = []
    for line in stdout.splitlines():
        report = json.loads(line)
        assert isinstance(report, dict), line
        reports.append(report)
    return reports


def assert_story_in_order(stdout: str, story: list[str] = STORY) -> None:
    rest = stdout
    for line in story:
        at = rest.find(line)
        assert at >= 0, f"missing or out of order: {line!r}\n--- stdout ---\n{stdout}"
        rest = rest[at + len(line):]
    assert all(
        line.startswith("[") and "s] " in line for line in stdout.splitlines()
    ), stdout


def normalized(story: str) -> list[str]:
    """The story without what varies from run to run: timestamps, the service's port
    and the milliseconds left to wait (the Rust test's `normalized`)."""
    out = []
    for line in story.splitlines():
        if "s] " in line:
            line = line.split("s] ", 1)[1]
        words = line.split(" ")
        for i, word in enumerate(words):
            at = word.find("127.0.0.1:")
            if at >= 0:
                words[i] = word[: at + len("127.0.0.1:")]
            if i >= 2 and words[i - 2] == "retry" and words[i - 1] == "after":
                words[i] = "_"
        out.append(" ".join(words))
    return out


@dataclass
class Service:
    """A flaky service on loopback; ``stats()`` is its GET /stats."""

    url: str
    proc: subprocess.Popen[str]

    def stats(self) -> dict[str, int]:
        with urllib.request.urlopen(self.url + "/stats", timeout=10) as response:
            stats: dict[str, int] = json.load(response)
        return stats

    def stop(self) -> None:
        stop(self.proc)


def start_service(argv: list[str]) -> Service:
    """Starts ``argv`` (a service that prints "listening on URL") and waits for it."""
    proc, url = start_listening(argv, env=_env())
    return Service(url, proc)


@pytest.fixture
def flask_service() -> Iterator[Service]:
    """examples/python/service.py on 127.0.0.1, port 0 (a fresh one per test, so its
    /stats counts only that test's requests)."""
    service = start_service([sys.executable, str(SERVICE), "--port", "0", "--seed", "7"])
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture
def rust_service() -> Iterator[Service]:
    """`failgate-demo serve --addr 127.0.0.1:0`; skipped when it is not built (failed
    with CI=true)."""
    binary = require_demo_binary()
    service = start_service([str(binary), "serve", "--addr", "127.0.0.1:0"])
    try:
        yield service
    finally:
        service.stop()
