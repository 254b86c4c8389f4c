"""examples/python/service.py answers as `failgate-demo serve` does: its endpoints,
bodies, 400s, 404s and /stats, through Flask's test client (no socket)."""

from __future__ import annotations

import sys

import pytest
from flask.testing import FlaskClient

from _examples_support import EXAMPLES

sys.path.insert(0, str(EXAMPLES))
import service  # noqa: E402  (examples/python/service.py)


def client(failure_ratio: float = 0.5, seed: int | None = 7) -> FlaskClient:
    return service.create_app(failure_ratio, seed).test_client()


def test_success_and_failure_answer_the_rust_bodies() -> None:
    c = client()
    ok = c.get("/success")
    assert (ok.status_code, ok.get_json()) == (
        200, {"endpoint": "success", "outcome": "success", "status": 200}
    )
    failed = c.get("/failure")
    assert (failed.status_code, failed.get_json()) == (
        500, {"endpoint": "failure", "outcome": "failure", "status": 500}
    )
    assert c.get("/health").status_code == 200


@pytest.mark.parametrize(("ratio", "status"), [(0.0, 200), (1.0, 500)])
def test_random_honours_the_failure_ratio_at_its_bounds(ratio: float, status: int) -> None:
    c = client(failure_ratio=ratio)
    assert {c.get("/random").status_code for _ in range(50)} == {status}


def test_random_with_a_seed_is_reproducible_and_near_its_ratio() -> None:
    def draws(seed: int) -> list[int]:
        c = client(failure_ratio=0.3, seed=seed)
        return [c.get("/random").status_code for _ in range(400)]

    first = draws(11)
    assert first == draws(11)
    assert first != draws(12)
    # 400 draws at p = 0.3: 120 expected, sd ~9; 60..180 is far beyond chance.
    assert 60 < first.count(500) < 180


def test_per_request_overrides_and_their_400s() -> None:
    c = client(failure_ratio=0.0)
    assert c.get("/random?ratio=1").status_code == 500
    bad = c.get("/random?ratio=1.5")
    assert bad.status_code == 400
    body = bad.get_json()
    assert body["parameter"] == "ratio" and body["value"] == "1.5"
    assert body["message"] == (
        "invalid value '1.5' for query parameter `ratio`: must be between 0 and 1 (inclusive)"
    )
    assert c.get("/success?delay=61s").status_code == 400
    assert c.get("/success?delay=50").status_code == 400  # no unit: ambiguous
    assert c.get("/success?delay=0").status_code == 200


def test_unknown_paths_and_methods_are_json_errors() -> None:
    c = client()
    missing = c.get("/nope")
    assert missing.status_code == 404
    assert missing.get_json()["error"] == "not_found"
    wrong = c.post("/success")
    assert wrong.status_code == 405
    assert wrong.get_json()["error"] == "method_not_allowed"


def test_stats_count_what_reached_the_service() -> None:
    c = client(failure_ratio=1.0)
    for path in ["/success", "/success", "/failure", "/random", "/nope", "/random?ratio=x"]:
        c.get(path)
    stats = c.get("/stats").get_json()
    assert stats == {
        "success": 2, "failure": 1, "random": 1, "random_failures": 1, "health": 0,
        "not_found": 1, "bad_request": 1, "total": 6,
    }


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0", 0.0), ("100ms", 0.1), ("2s", 2.0), ("1m 30s", 90.0), ("1.5s", 1.5), ("1h", 3600.0)],
)
def test_durations_parse_as_humantime_does(text: str, seconds: float) -> None:
    assert service.parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "50", "soon", "-1s", "2 parsecs", "1s junk"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        service.parse_duration(text)


def test_a_bad_failure_ratio_is_refused_at_creation() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        service.create_app(failure_ratio=1.5)
