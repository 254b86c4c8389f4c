"""failgate against pybreaker, circuitbreaker, purgatory and aiobreaker, side by side in
one process, each through its own decorator.

    python crates/failgate-python/bench/compare.py            # ~2 minutes
    python crates/failgate-python/bench/compare.py --quick    # ~20 seconds
    python crates/failgate-python/bench/compare.py --json results.json

Benchmarks (issue 17's targets in brackets):

    a   closed success through the decorator, sync     [failgate >= 5x the fastest peer]
    a'  the same for async functions                   [reported]
    b   open rejection, the exception raised and caught [>= 3x the fastest peer]
    b'  the same for async functions                   [reported]
    c   8 threads x 10 ms calls (time.sleep) through one breaker: calls/s
                                   [>= 6x pybreaker, within 10% of no breaker]
    d   asyncio, 1,000 concurrent tasks (await asyncio.sleep(0)) through one breaker:
        overhead per call over no breaker             [against purgatory, aiobreaker]

The harness is timeit's method, not pyperf's Runner: pyperf runs each benchmark in
twenty fresh worker processes, which breaks the "one process, side by side" rule and
would take many minutes for the thread benchmark on a shared 2-core machine.
pytest-benchmark stays in one process but runs each benchmark to its end before the
next starts, so a load spike on a shared machine lands on one library and skews the
ratios, which are what the targets are about. Instead
each sample times a calibrated loop with the GC off (as timeit does), the libraries
take turns sample by sample (so a load spike on the machine hits them all alike), and
the table shows the median of the samples with the spread (min-max) beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import failgate

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _peers import NONE, Async, Impl, Sync, available, run  # noqa: E402


@dataclass
class Settings:
    sample_s: float  # the length of one timed loop (a, b)
    samples: int  # samples per implementation (a, b)
    thread_calls: int  # calls per thread, per sample (c)
    thread_samples: int
    task_rounds: int  # gathers of 1,000 tasks, per sample (d)
    task_samples: int


FULL = Settings(0.1, 15, 25, 5, 5, 9)
QUICK = Settings(0.02, 5, 5, 2, 2, 3)


@dataclass
class Result:
    bench: str
    impl: str
    unit: str  # "ns/call", "calls/s" or "us/call"
    samples: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)


def _timed(loop: Callable[[int], float], n: int) -> float:
    """Seconds for ``loop(n)``, with the GC off as timeit does."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return loop(n)
    finally:
        if enabled:
            gc.enable()


def _calibrate(loop: Callable[[int], float], sample_s: float) -> int:
    n = 1
    while True:
        if _timed(loop, n) >= sample_s / 4:
            return max(1, int(n * 4 * (sample_s / max(_timed(loop, n) * 4, 1e-9))))
        n *= 4


def _interleaved(
    bench: str, loops: dict[str, Callable[[int], float]], s: Settings
) -> list[Result]:
    """ns per call of each loop: calibrated once, then sampled in turns."""
    # Calibrating also warms each one up (caches, the specializing interpreter).
    sizes = {name: _calibrate(loop, s.sample_s) for name, loop in loops.items()}
    results = {name: Result(bench, name, "ns/call") for name in loops}
    for _ in range(s.samples):
        for name, loop in loops.items():
            n = sizes[name]
            results[name].samples.append(_timed(loop, n) / n * 1e9)
    return list(results.values())


def _ok() -> int:
    return 1


async def _aok() -> int:
    return 1


def _sync_loop(fn: Sync, rejection: type[BaseException] | None) -> Callable[[int], float]:
    if rejection is None:

        def loop(n: int) -> float:
            start = time.perf_counter()
            for _ in range(n):
                fn()
            return time.perf_counter() - start

    else:

        def loop(n: int) -> float:
            start = time.perf_counter()
            for _ in range(n):
                try:
                    fn()
                except rejection:
                    pass
            return time.perf_counter() - start

    return loop


def _async_loop(
    fn: Async, rejection: type[BaseException] | None, loop_: asyncio.AbstractEventLoop
) -> Callable[[int], float]:
    async def body(n: int) -> float:
        start = time.perf_counter()
        if rejection is None:
            for _ in range(n):
                await fn()
        else:
            for _ in range(n):
                try:
                    await fn()
                except rejection:
                    pass
        return time.perf_counter() - start

    return lambda n: loop_.run_until_complete(body(n))


def bench_calls(impls: list[Impl], s: Settings) -> list[Result]:
    """a, a', b, b': one call after another through a closed or an open breaker."""
    results: list[Result] = []
    sync = [i for i in impls if i.sync is not None]
    closed = {i.name: _sync_loop(i.sync(5)(_ok), None) for i in sync if i.sync}
    closed[NONE.name] = _sync_loop(_ok, None)
    results += _interleaved("a closed success (sync)", closed, s)
    opened = {i.name: _sync_loop(i.open_sync(_ok), i.rejection) for i in sync}
    results += _interleaved("b open rejection (sync)", opened, s)

    loop_ = asyncio.new_event_loop()
    try:
        asyncs = [i for i in impls if i.asyncio is not None]
        aclosed = {i.name: _async_loop(i.asyncio(5)(_aok), None, loop_) for i in asyncs if i.asyncio}
        aclosed[NONE.name] = _async_loop(_aok, None, loop_)
        results += _interleaved("a' closed success (async)", aclosed, s)
        aopened = {
            i.name: _async_loop(loop_.run_until_complete(i.open_async(_aok)), i.rejection, loop_)
            for i in asyncs
        }
        results += _interleaved("b' open rejection (async)", aopened, s)
    finally:
        loop_.close()
    return results


def _io_call() -> None:
    time.sleep(0.01)


def _threads_once(fn: Sync, calls: int, threads: int = 8) -> float:
    """calls/s of ``threads`` threads each making ``calls`` calls of ``fn``."""
    barrier = threading.Barrier(threads + 1)

    def worker() -> None:
        barrier.wait()
        for _ in range(calls):
            fn()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in pool:
        t.join()
    return threads * calls / (time.perf_counter() - start)


def bench_threads(impls: list[Impl], s: Settings) -> list[Result]:
    """c: 8 threads x 10 ms I/O calls through one breaker each."""
    fns: dict[str, Sync] = {i.name: i.sync(5)(_io_call) for i in impls if i.sync}
    fns[NONE.name] = _io_call
    results = {name: Result("c 8 threads x 10 ms calls", name, "calls/s") for name in fns}
    for _ in range(s.thread_samples):
        for name, fn in fns.items():
            results[name].samples.append(_threads_once(fn, s.thread_calls))
    return list(results.values())


async def _io_task() -> None:
    await asyncio.sleep(0)


async def _tasks_once(fn: Async, rounds: int, tasks: int = 1000) -> float:
    """Microseconds per call: ``rounds`` gathers of ``tasks`` concurrent calls."""
    start = time.perf_counter()
    for _ in range(rounds):
        await asyncio.gather(*(fn() for _ in range(tasks)))
    return (time.perf_counter() - start) / (rounds * tasks) * 1e6


def _gathered(loop_: asyncio.AbstractEventLoop, fn: Async, rounds: int) -> float:
    """One sample of `_tasks_once`, with the GC off as in the other benchmarks."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return loop_.run_until_complete(_tasks_once(fn, rounds))
    finally:
        if enabled:
            gc.enable()


def bench_tasks(impls: list[Impl], s: Settings) -> list[Result]:
    """d: 1,000 concurrent asyncio tasks through one breaker; overhead over none."""
    fns: dict[str, Async] = {i.name: i.asyncio(5)(_io_task) for i in impls if i.asyncio}
    fns[NONE.name] = _io_task
    raw = {name: Result("d asyncio 1,000 tasks: per call", name, "us/call") for name in fns}
    loop_ = asyncio.new_event_loop()
    try:
        for fn in fns.values():  # a warm-up round each, untimed
            loop_.run_until_complete(_tasks_once(fn, 1))
        for _ in range(s.task_samples):
            for name, fn in fns.items():
                raw[name].samples.append(_gathered(loop_, fn, s.task_rounds))
    finally:
        loop_.close()
    # The overhead of each sample over the no-breaker sample taken in the same turn.
    base = raw[NONE.name].samples
    results = list(raw.values())
    for name, r in raw.items():
        over = Result("d asyncio 1,000 tasks: overhead", name, "us/call")
        over.samples = [v - b for v, b in zip(r.samples, base)]
        results.append(over)
    return results


def _fmt(value: float, unit: str) -> str:
    if unit == "calls/s":
        return f"{value:,.0f} calls/s"
    if unit == "us/call":
        return f"{value:.2f} us/call"
    return f"{value:,.0f} ns/call"


def table(results: list[Result]) -> str:
    # "failgate Nx": how many times faster (or, for calls/s, more throughput) failgate
    # is than that row; below 1 the row is faster.
    lines = ["medians; 'failgate Nx' = failgate is N times faster than that row"]
    benches = list(dict.fromkeys(r.bench for r in results))
    for bench in benches:
        rows = [r for r in results if r.bench == bench]
        fg = next(r for r in rows if r.impl == "failgate")
        lines.append(f"\n{bench}")
        for r in rows:
            if r.unit == "calls/s":
                ratio = fg.median / r.median  # higher throughput is better
            else:
                ratio = r.median / fg.median if fg.median > 0 else float("inf")
            spread = f"{_fmt(min(r.samples), r.unit)} - {_fmt(max(r.samples), r.unit)}"
            lines.append(
                f"  {r.impl:<16} {_fmt(r.median, r.unit):>20}   failgate {ratio:6.2f}x"
                f"   (range {spread})"
            )
    return "\n".join(lines)


def targets(results: list[Result]) -> list[dict[str, Any]]:
    """Each target of the issue: the measured ratio and whether it is met."""
    med = {(r.bench, r.impl): r.median for r in results}

    def faster(bench: str, goal: float) -> dict[str, Any]:
        peers = {i: v for (b, i), v in med.items() if b == bench and i not in ("failgate", "no breaker")}
        best = min(peers, key=peers.__getitem__)
        ratio = peers[best] / med[(bench, "failgate")]
        return {"target": f"{bench}: >= {goal}x the fastest peer ({best})",
                "ratio": round(ratio, 2), "met": ratio >= goal}

    out = [faster("a closed success (sync)", 5), faster("b open rejection (sync)", 3)]
    c = "c 8 threads x 10 ms calls"
    if (c, "pybreaker") in med:
        ratio = med[(c, "failgate")] / med[(c, "pybreaker")]
        out.append({"target": f"{c}: >= 6x pybreaker's calls/s", "ratio": round(ratio, 2), "met": ratio >= 6})
    share = med[(c, "failgate")] / med[(c, "no breaker")]
    out.append({"target": f"{c}: within 10% of no breaker", "ratio": round(share, 3), "met": share >= 0.9})
    d = "d asyncio 1,000 tasks: overhead"
    for peer in ("purgatory", "aiobreaker"):
        if (d, peer) in med:
            ratio = med[(d, peer)] / med[(d, "failgate")] if med[(d, "failgate")] > 0 else float("inf")
            out.append({"target": f"{d}: against {peer} (reported)", "ratio": round(ratio, 2), "met": None})
    return out


def _has_debug_info(path: str) -> bool | None:
    """Whether an ELF file has a .debug_info section: a dev-profile (debug) build of the
    native module carries DWARF, a release build does not. None when not ELF64 LE."""
    import struct

    with open(path, "rb") as f:
        data = f.read()
    if data[:6] != b"\x7fELF\x02\x01":
        return None
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    names_at, = struct.unpack_from("<Q", data, shoff + shstrndx * shentsize + 0x18)
    for i in range(shnum):
        name_off, = struct.unpack_from("<I", data, shoff + i * shentsize)
        end = data.index(b"\0", names_at + name_off)
        if data[names_at + name_off:end] == b".debug_info":
            return True
    return False


def metadata(quick: bool, missing: list[str]) -> dict[str, Any]:
    native = failgate._failgate.__file__ or ""
    debug_info = _has_debug_info(native)
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "failgate": failgate.__version__,
        "native_module": native,
        "native_size_bytes": os.path.getsize(native),
        "native_build": {True: "debug (has .debug_info)", False: "release (no debug info)",
                         None: "unknown"}[debug_info],
        "quick": quick,
        "peers_missing": missing,
        "harness": "timeit-style, interleaved samples, GC off, medians",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run (~20 s)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    impls, missing = available()
    meta = metadata(args.quick, missing)
    print(f"failgate {meta['failgate']} ({meta['native_build']}), Python {meta['python']}, "
          f"{meta['cpus']} CPUs, load {meta['load_average'][0]:.2f}; peers: "
          + ", ".join(f"{i.name} {i.version}" for i in impls[1:])
          + (f"; missing: {', '.join(missing)}" if missing else ""), flush=True)
    results: list[Result] = []
    for step in (bench_calls, bench_threads, bench_tasks):
        results += step(impls, settings)
    print(table(results))
    goals = targets(results)
    print("\ntargets")
    for g in goals:
        verdict = {True: "met", False: "MISSED", None: "-"}[g["met"]]
        print(f"  {verdict:<7} {g['target']}: {g['ratio']}")
    meta["load_average_after"] = os.getloadavg()
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "results": [
                {"bench": r.bench, "impl": r.impl, "unit": r.unit, "median": r.median,
                 "samples": r.samples} for r in results], "targets": goals}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
