"""What the tests that start services share: the Rust demo binary, and starting a
process that prints "listening on URL" (the demo's `serve`, examples/python/service.py)."""

from __future__ import annotations

import os
import queue
import subprocess
import threading
from pathlib import Path
from typing import IO

import pytest

from conftest import skip_or_fail

REPO = Path(__file__).resolve().parents[3]


def demo_binary() -> Path | None:
    """The Rust demo: $FAILGATE_DEMO_BIN, else target/{debug,release}/failgate-demo."""
    given = os.environ.get("FAILGATE_DEMO_BIN")
    candidates = [Path(given)] if given else [
        REPO / "target" / kind / "failgate-demo" for kind in ("debug", "release")
    ]
    return next((c for c in candidates if c.is_file() and os.access(c, os.X_OK)), None)


def require_demo_binary() -> Path:
    """The demo binary; the test is skipped without it (failed with CI=true)."""
    binary = demo_binary()
    if binary is None:
        skip_or_fail(
            "failgate-demo is not built (cargo build -p failgate-demo, "
            "or set FAILGATE_DEMO_BIN)"
        )
        raise AssertionError("unreachable")  # skip_or_fail raises
    return binary


def _read_lines(stream: IO[str], lines: queue.Queue[str]) -> None:
    # Reads stdout to its end, so that the service never blocks on a full pipe.
    for line in iter(stream.readline, ""):
        lines.put(line)


def start_listening(
    argv: list[str], env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], str]:
    """Starts ``argv`` and waits (20 s at most) for its "listening on URL" line."""
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        stdin=subprocess.DEVNULL, env=env,
    )
    assert proc.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    # A thread reads stdout, so a service that prints nothing cannot hang the test.
    threading.Thread(target=_read_lines, args=(proc.stdout, lines), daemon=True).start()
    try:
        while True:
            line = lines.get(timeout=20)
            if line.startswith("listening on "):
                return proc, line.removeprefix("listening on ").strip().rstrip("/")
    except queue.Empty:
        stop(proc)
        pytest.fail(f"{argv} printed no 'listening on' line in 20 s")


def stop(proc: subprocess.Popen[str]) -> None:
    """Terminates ``proc``, killing it if it does not stop within 10 s."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
