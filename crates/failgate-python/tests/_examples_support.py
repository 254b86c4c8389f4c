"""What test_examples.py needs: the walk-through run as a subprocess, the two flaky
services (service.py and the Rust `failgate-demo serve`) on loopback port 0, and the
expected story."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

from conftest import skip_or_fail

REPO = Path(__file__).resolve().parents[3]
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
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def _read_lines(stream: IO[str], lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line)


def start_service(argv: list[str]) -> Service:
    """Starts ``argv`` (a service that prints "listening on URL") and waits for it."""
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        stdin=subprocess.DEVNULL, env=_env(),
    )
    assert proc.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    # A thread reads stdout, so a service that prints nothing cannot hang the test.
    threading.Thread(target=_read_lines, args=(proc.stdout, lines), daemon=True).start()
    try:
        while True:
            line = lines.get(timeout=20)
            if line.startswith("listening on "):
                url = line.removeprefix("listening on ").strip().rstrip("/")
                return Service(url, proc)
    except queue.Empty:
        proc.kill()
        proc.wait(5)
        pytest.fail(f"{argv} printed no 'listening on' line in 20 s")


def demo_binary() -> Path | None:
    """The Rust demo: $FAILGATE_DEMO_BIN, else target/{debug,release}/failgate-demo."""
    given = os.environ.get("FAILGATE_DEMO_BIN")
    candidates = [Path(given)] if given else [
        REPO / "target" / kind / "failgate-demo" for kind in ("debug", "release")
    ]
    return next((c for c in candidates if c.is_file() and os.access(c, os.X_OK)), None)


def require_demo_binary() -> Path:
    binary = demo_binary()
    if binary is None:
        skip_or_fail(
            "failgate-demo is not built (cargo build -p failgate-demo, "
            "or set FAILGATE_DEMO_BIN)"
        )
        raise AssertionError("unreachable")  # skip_or_fail raises
    return binary


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
