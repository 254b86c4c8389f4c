"""The Python walk-through (examples/python/main.py) tells the Rust demo's story, against
service.py and against `failgate-demo serve`, and refused calls never reach the server.

main.py runs as a user runs it, in a subprocess, with the Rust tests' short waits
(open 200ms, pause 300ms): the open period is real time there too, so the pause is a
real (short) sleep.
"""

from __future__ import annotations

import socket
import subprocess

import pytest

from _process_support import require_demo_binary
from _examples_support import (
    EXPECTED,
    FAST,
    STORY,
    Service,
    assert_story_in_order,
    flask_service,
    json_reports,
    normalized,
    run_main,
    run_ok,
    rust_service,
)

__all__ = ["flask_service", "rust_service"]  # fixtures, used by name


def assert_seed_scenario(reports: list[dict[str, object]], open_ms: int = 200) -> None:
    """The nine JSON reports: endpoints, outcomes and states in the Rust test's order."""
    got = [(r["endpoint"], r["outcome"], r["state"]) for r in reports]
    assert got == EXPECTED
    for i, report in enumerate(reports, start=1):
        assert report["step"] == i
        if report["outcome"] == "rejected":
            retry = report["retry_after_ms"]
            assert isinstance(retry, int) and 0 < retry <= open_ms, report
            assert "status" not in report, report
        else:
            assert report["status"] == (200 if report["outcome"] == "success" else 500)
            assert "retry_after_ms" not in report, report


def assert_six_requests_reached(service: Service) -> None:
    # Steps 1, 2, 7, 8 to /failure and 5, 6 to /success; 3, 4 and 9 were refused.
    stats = service.stats()
    assert (stats["failure"], stats["success"], stats["total"]) == (4, 2, 6), stats


@pytest.mark.parametrize("client", ["direct", "adapter"])
def test_the_seed_scenario_against_service_py(flask_service: Service, client: str) -> None:
    stdout = run_ok("--json", "--client", client, *FAST, "--target", flask_service.url)
    assert_seed_scenario(json_reports(stdout))
    assert_six_requests_reached(flask_service)


@pytest.mark.parametrize("client", ["direct", "adapter"])
def test_the_seed_scenario_against_the_rust_service(rust_service: Service, client: str) -> None:
    stdout = run_ok("--json", "--client", client, *FAST, "--target", rust_service.url)
    assert_seed_scenario(json_reports(stdout))
    assert_six_requests_reached(rust_service)


def test_the_story_in_process_with_either_client() -> None:
    """No --target: service.py runs in-process on a free port. Both clients tell the
    same story, line for line."""
    direct = run_ok(*FAST)
    assert_story_in_order(direct)
    adapter = run_ok("--client", "adapter", *FAST)
    assert normalized(direct) == normalized(adapter), f"{direct}\n---\n{adapter}"


def test_the_human_story_against_a_target_names_it(flask_service: Service) -> None:
    stdout = run_ok(*FAST, "--target", flask_service.url)
    first = stdout.splitlines()[0]
    assert first.endswith(
        'breaker "flaky": opens after 2 consecutive failures, stays open 200ms; '
        f"target: {flask_service.url}/"
    ), first
    assert_story_in_order(stdout, STORY[1:])
    assert_six_requests_reached(flask_service)


def test_a_pause_shorter_than_open_for_leaves_step_5_refused(flask_service: Service) -> None:
    args = ("--open-for", "10s", "--pause", "50ms", "--target", flask_service.url)
    reports = json_reports(run_ok("--json", *args))
    assert [r["outcome"] for r in reports] == ["failure"] * 2 + ["rejected"] * 7
    assert all(r["state"] == "open" for r in reports[2:])
    assert flask_service.stats()["total"] == 2
    story = run_ok(*args)
    assert "pausing 50ms (shorter than open-for 10s: the circuit will still be open)" in story
    assert "step 5: GET /success refused: circuit open, retry after 9." in story
    assert "done: 2 requests reached the server, 7 were refused" in story


def test_the_python_story_is_the_rust_story_step_by_step() -> None:
    """The Rust demo's own scenario (its service in-process) and main.py (service.py
    in-process) print the same lines once timestamps, ports and waits are set aside."""
    binary = require_demo_binary()
    rust = subprocess.run(
        [str(binary), "scenario", *FAST], capture_output=True, text=True, timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert rust.returncode == 0, rust.stderr
    python = run_ok(*FAST)
    assert normalized(python) == normalized(rust.stdout), f"{python}\n---\n{rust.stdout}"


def test_the_json_reports_are_the_rust_reports(rust_service: Service) -> None:
    binary = require_demo_binary()
    rust = subprocess.run(
        [str(binary), "scenario", "--json", *FAST, "--target", rust_service.url],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    assert rust.returncode == 0, rust.stderr
    python = run_ok("--json", *FAST, "--target", rust_service.url)

    def without_waits(stdout: str) -> list[dict[str, object]]:
        reports = json_reports(stdout)
        for r in reports:
            r.pop("retry_after_ms", None)  # varies by a millisecond or two
        return reports

    assert without_waits(python) == without_waits(rust.stdout)
    # Same keys in the same order too (serde's field order).
    assert [list(r) for r in json_reports(python)] == [list(r) for r in json_reports(rust.stdout)]


def _free_port() -> int:
    # Bound then closed: nothing listens there for the test's few milliseconds.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_an_unreachable_target_is_an_error_message() -> None:
    port = _free_port()
    done = run_main(*FAST, "--target", f"http://127.0.0.1:{port}")
    assert done.returncode == 1, done
    assert done.stderr.startswith(
        f"error: step 1: GET http://127.0.0.1:{port}/failure failed; "
        "is `failgate-demo serve` running there?"
    ), done.stderr
    assert "Traceback" not in done.stderr


def test_a_target_that_is_not_the_flaky_service_is_named(flask_service: Service) -> None:
    # A path prefix the service does not serve: /nope/failure answers 404.
    done = run_main(*FAST, "--target", flask_service.url + "/nope")
    assert done.returncode == 1, done
    assert done.stderr.startswith(
        f"error: step 1: GET {flask_service.url}/nope/failure answered 404 Not Found; "
        "is the target a `failgate-demo serve`?"
    ), done.stderr


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--threshold", "0", "must be at least 1"),
        ("--threshold", "two", "expected a whole number"),
        ("--open-for", "0s", "must be greater than zero"),
        ("--pause", "soon", "expected a duration such as 100ms, 2s or 1m"),
        ("--target", "https://example.invalid/", "https is not supported"),
        ("--target", "ftp://host/", "unsupported scheme"),
        ("--target", "http://", "no host in the URL"),
    ],
)
def test_bad_flags_are_refused_before_any_request(flag: str, value: str, message: str) -> None:
    done = run_main(flag, value)
    assert done.returncode == 2, done
    assert message in done.stderr and flag in done.stderr, done.stderr
    assert done.stdout == ""


def test_threshold_one_opens_on_the_first_failure(flask_service: Service) -> None:
    reports = json_reports(
        run_ok("--json", "--threshold", "1", *FAST, "--target", flask_service.url)
    )
    # Step 1 opens it; 2-4 are refused; after the pause the probe (a /success) closes
    # it; step 7 reopens it, and 8 and 9 are refused.
    assert [r["outcome"] for r in reports] == [
        "failure", "rejected", "rejected", "rejected", "success", "success",
        "failure", "rejected", "rejected",
    ]
    stats = flask_service.stats()
    assert (stats["failure"], stats["success"]) == (2, 2), stats
