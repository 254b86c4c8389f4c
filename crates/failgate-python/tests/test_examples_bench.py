"""bench/compare.py measures what it says: every peer's opened breaker really refuses
with its own error and its closed one really calls through, and a (tiny) run writes
the table, the targets and the JSON. No timing is asserted: that is the benchmark's
job, on a quiet machine, not a test's."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from conftest import skip_or_fail

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))
import _peers  # noqa: E402
import compare  # noqa: E402

TINY = compare.Settings(
    sample_s=0.001, samples=1, thread_calls=1, thread_samples=1, task_rounds=1, task_samples=1
)


def _impls() -> list[_peers.Impl]:
    impls, missing = _peers.available()
    if missing:
        # The benchmark runs without them (saying so); this test is about all of them.
        skip_or_fail(f"benchmark peers not installed: {', '.join(missing)}")
    return impls


def _ids() -> list[str]:
    return ["failgate", "pybreaker", "circuitbreaker", "purgatory", "aiobreaker"]


@pytest.mark.parametrize("name", _ids())
def test_each_sync_breaker_calls_through_when_closed_and_refuses_when_open(name: str) -> None:
    impl = next((i for i in _impls() if i.name == name), None)
    assert impl is not None and impl.sync is not None
    calls: list[int] = []

    def fn() -> int:
        calls.append(1)
        return 7

    assert impl.sync(5)(fn)() == 7
    assert calls == [1]
    opened = impl.open_sync(fn)  # checks one refusal itself
    with pytest.raises(impl.rejection):
        opened()
    assert calls == [1], f"{name}: an open breaker called the function"


@pytest.mark.parametrize("name", [n for n in _ids() if n != "pybreaker"])
def test_each_async_breaker_calls_through_when_closed_and_refuses_when_open(name: str) -> None:
    impl = next((i for i in _impls() if i.name == name), None)
    assert impl is not None and impl.asyncio is not None
    make = impl.asyncio
    calls: list[int] = []

    async def fn() -> int:
        calls.append(1)
        return 7

    async def scenario() -> None:
        assert await make(5)(fn)() == 7
        opened = await impl.open_async(fn)
        with pytest.raises(impl.rejection):
            await opened()

    asyncio.run(scenario())
    assert calls == [1], f"{name}: an open breaker called the function"


def test_pybreaker_has_no_asyncio_entry_of_its_own() -> None:
    # Its call_async needs tornado: the benchmark leaves it out of a', b' and d.
    impl = next(i for i in _impls() if i.name == "pybreaker")
    assert impl.asyncio is None


def test_a_tiny_run_writes_the_table_targets_and_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _impls()
    monkeypatch.setattr(compare, "QUICK", TINY)
    out = tmp_path / "bench.json"
    assert compare.main(["--quick", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    for bench in ["a closed success (sync)", "b open rejection (sync)",
                  "c 8 threads x 10 ms calls", "d asyncio 1,000 tasks: overhead"]:
        assert bench in printed
    data = json.loads(out.read_text())
    assert data["meta"]["quick"] is True
    assert data["meta"]["native_build"] in {
        "debug (has .debug_info)", "release (no debug info)", "unknown"
    }
    impls = {r["impl"] for r in data["results"]}
    assert {"failgate", "pybreaker", "circuitbreaker", "purgatory", "aiobreaker",
            "no breaker"} <= impls
    assert all(r["samples"] and r["median"] == r["median"] for r in data["results"])
    names = [t["target"] for t in data["targets"]]
    assert any("6x pybreaker" in n for n in names)
    assert any("within 10% of no breaker" in n for n in names)


def test_the_thread_benchmark_runs_calls_in_parallel() -> None:
    # 8 threads x 3 calls of 10 ms: serialised they take 240 ms (100 calls/s); the
    # no-breaker baseline must overlap them, or benchmark c compares nothing.
    rate = compare._threads_once(compare._io_call, 3)
    assert rate > 200, rate
