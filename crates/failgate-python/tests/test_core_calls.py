"""The ways into a breaker: decorators (sync and async), `with` / `async with`,
`call` / `call_async`, and hand-reported permits."""

from __future__ import annotations

import asyncio
import gc
import inspect
from collections.abc import Callable

import pytest

import failgate
from failgate import State

from _core_support import Boom, breaker, refusal, state, totals


@pytest.fixture
def clock() -> failgate.ManualClock:
    return failgate.ManualClock()


# -- decorators ------------------------------------------------------------------------


def test_sync_decorator_keeps_metadata_and_values(clock: failgate.ManualClock) -> None:
    b = breaker(clock, consecutive_failures=2, totals=True)

    @b
    def add(x: int, *, y: int = 2) -> int:
        """Adds."""
        return x + y

    assert add.__name__ == "add" and add.__doc__ == "Adds."
    assert add.__module__ == __name__
    assert add.__qualname__.endswith("add")
    # Strings: this module has `from __future__ import annotations`.
    assert add.__annotations__ == {"x": "int", "y": "int", "return": "int"}
    assert inspect.unwrap(add) is not add
    assert inspect.signature(add) == inspect.signature(inspect.unwrap(add))
    assert add(1) == 3 and add(1, y=5) == 6
    assert totals(b).successes == 2


def test_sync_decorator_copies_the_function_dict(clock: failgate.ManualClock) -> None:
    def plain() -> int:
        return 1

    plain.__dict__["route"] = "/charge"  # as functools.wraps copies it
    guarded = breaker(clock)(plain)
    assert inspect.unwrap(guarded) is plain
    assert guarded.__dict__.get("route") == "/charge"


def test_sync_decorator_reraises_the_original_exception(clock: failgate.ManualClock) -> None:
    b = breaker(clock, consecutive_failures=2)
    raised = Boom("down")

    @b
    def broken() -> None:
        raise raised

    for _ in range(2):
        with pytest.raises(Boom) as info:
            broken()
        assert info.value is raised
    assert state(b) is State.OPEN
    with pytest.raises(failgate.CircuitOpenError):
        broken()


def test_decorated_methods_staticmethods_classmethods(clock: failgate.ManualClock) -> None:
    b = breaker(clock, totals=True)

    class Client:
        @b
        def get(self, key: str) -> tuple[Client, str]:
            return self, key

        @staticmethod
        @b
        def ping(x: int) -> int:
            return x

        # Over a staticmethod: called on the class. (On an instance it would bind
        # the instance, as any plain function decorator over a staticmethod does.)
        @b
        @staticmethod
        def pong(x: int) -> int:
            return -x

        @classmethod
        @b
        def make(cls, tag: str) -> tuple[type[Client], str]:
            return cls, tag

    c = Client()
    assert c.get("k") == (c, "k")
    assert Client.get(c, "j") == (c, "j")
    assert Client.ping(1) == 1 and c.ping(2) == 2
    assert Client.pong(3) == -3
    assert Client.make("t") == (Client, "t")
    assert totals(b).successes == 6


@pytest.mark.asyncio
async def test_async_decorator(clock: failgate.ManualClock) -> None:
    b = breaker(clock, consecutive_failures=1)

    @b
    async def fetch(x: int) -> int:
        """Fetches."""
        await asyncio.sleep(0)
        if x < 0:
            raise Boom(x)
        return x * 2

    assert inspect.iscoroutinefunction(fetch)
    assert fetch.__name__ == "fetch" and fetch.__doc__ == "Fetches."
    assert await fetch(21) == 42
    with pytest.raises(Boom):
        await fetch(-1)
    assert state(b) is State.OPEN
    with pytest.raises(failgate.CircuitOpenError):
        await fetch(1)


@pytest.mark.asyncio
async def test_async_decorated_method(clock: failgate.ManualClock) -> None:
    b = breaker(clock)

    class Service:
        @b
        async def get(self, key: str) -> tuple[Service, str]:
            return self, key

    s = Service()
    assert await s.get("a") == (s, "a")


# -- call and call_async ---------------------------------------------------------------


def test_call_passes_args_and_kwargs(clock: failgate.ManualClock) -> None:
    b = breaker(clock, totals=True)

    def f(*args: int, **kwargs: int) -> tuple[tuple[int, ...], dict[str, int]]:
        return args, kwargs

    assert b.call(f, 1, 2, z=3) == ((1, 2), {"z": 3})
    with pytest.raises(ZeroDivisionError):
        b.call(lambda: 1 / 0)
    assert (totals(b).successes, totals(b).failures) == (1, 1)


def test_call_does_not_run_the_function_when_open(clock: failgate.ManualClock) -> None:
    b = breaker(clock, consecutive_failures=1, open_for=9)
    b.acquire().failure()
    ran: list[int] = []
    with pytest.raises(failgate.CircuitOpenError) as info:
        b.call(ran.append, 1)
    assert ran == [] and info.value.retry_after == pytest.approx(9.0)


@pytest.mark.asyncio
async def test_call_async_passes_args_and_kwargs(clock: failgate.ManualClock) -> None:
    b = breaker(clock, consecutive_failures=1)

    async def f(a: int, *, b: int) -> int:
        await asyncio.sleep(0)
        return a - b

    assert await b.call_async(f, 5, b=3) == 2

    async def broken() -> None:
        raise Boom()

    with pytest.raises(Boom):
        await b.call_async(broken)
    with pytest.raises(failgate.CircuitOpenError):
        await b.call_async(f, 1, b=1)


# -- with / async with -----------------------------------------------------------------


def test_with_block_records_and_reraises(clock: failgate.ManualClock) -> None:
    b = breaker(clock, consecutive_failures=2)
    with b:
        pass
    for _ in range(2):
        with pytest.raises(Boom):
            with b:
                raise Boom()
    assert state(b) is State.OPEN
    entered = False
    with pytest.raises(failgate.CircuitOpenError):
        with b:
            entered = True
    assert not entered


def test_nested_and_interleaved_with_blocks(clock: failgate.ManualClock) -> None:
    a = breaker(clock, name="a", consecutive_failures=1, totals=True)
    z = breaker(clock, name="z", consecutive_failures=1)
    with a:
        with a:  # nested on one breaker: two permits
            pass
        with pytest.raises(Boom):
            with z:
                raise Boom()
    # The inner failure went to z, the outer success to a.
    assert state(z) is State.OPEN and state(a) is State.CLOSED
    assert totals(a).successes == 2


@pytest.mark.asyncio
async def test_async_with_block(clock: failgate.ManualClock) -> None:
    b = breaker(clock, consecutive_failures=1)
    async with b:
        await asyncio.sleep(0)
    with pytest.raises(Boom):
        async with b:
            raise Boom()
    with pytest.raises(failgate.CircuitOpenError):
        async with b:
            pass


@pytest.mark.asyncio
async def test_two_breakers_interleaved_across_tasks(clock: failgate.ManualClock) -> None:
    # Task "ok" is inside both breakers while task "bad" enters and fails inside z:
    # each block must report its own permit, whatever order the tasks leave in.
    a = breaker(clock, name="a", consecutive_failures=5, totals=True)
    z = breaker(clock, name="z", consecutive_failures=5, totals=True)
    both_in = asyncio.Event()
    bad_done = asyncio.Event()

    async def ok() -> None:
        async with a:
            async with z:
                both_in.set()
                await bad_done.wait()  # leaves after "bad" has failed and left

    async def bad() -> None:
        await both_in.wait()
        try:
            async with z:
                async with a:
                    raise Boom()
        finally:
            bad_done.set()

    results = await asyncio.gather(ok(), bad(), return_exceptions=True)
    assert results[0] is None and isinstance(results[1], Boom)
    for b in (a, z):
        assert (totals(b).successes, totals(b).failures) == (1, 1), b.name


@pytest.mark.asyncio
async def test_concurrent_tasks_each_hold_their_own_permit(
    clock: failgate.ManualClock,
) -> None:
    b = breaker(clock, consecutive_failures=1, open_for=5, half_open_permits=4)
    b.acquire().failure()
    clock.advance(5)
    gate = asyncio.Event()
    inside = 0

    async def probe(i: int) -> int:
        nonlocal inside
        async with b:
            inside += 1
            await gate.wait()  # all four inside at once, then each leaves
        return i

    tasks = [asyncio.create_task(probe(i)) for i in range(4)]
    while inside < 4:
        await asyncio.sleep(0)
    assert refusal(b).state is State.HALF_OPEN  # the four slots are taken
    gate.set()
    assert sorted(await asyncio.gather(*tasks)) == [0, 1, 2, 3]
    assert state(b) is State.CLOSED  # four probes succeeded


# -- permits ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "first", ["success", "failure", "ignore", "abandon", "record", "result", "exception"]
)
def test_a_second_report_raises_runtime_error(
    clock: failgate.ManualClock, first: str
) -> None:
    # Permit's docs: "Report it once ... A second report raises RuntimeError."
    b = breaker(clock, consecutive_failures=5, totals=True)
    permit = b.acquire()
    assert not permit.done
    report: dict[str, Callable[[], None]] = {
        "success": permit.success,
        "failure": permit.failure,
        "ignore": permit.ignore,
        "abandon": permit.abandon,
        "record": lambda: permit.record(failgate.Outcome.FAILURE),
        "result": lambda: permit.record_result(1),
        "exception": lambda: permit.record_exception(Boom()),
    }
    report[first]()
    assert permit.done
    before = b.metrics().as_dict()
    for again in report.values():
        with pytest.raises(RuntimeError):
            again()
    assert b.metrics().as_dict() == before  # the refused reports counted nothing


def test_record_outcomes(clock: failgate.ManualClock) -> None:
    b = breaker(clock, consecutive_failures=3, totals=True)
    b.acquire().record(failgate.Outcome.SUCCESS)
    b.acquire().record(failgate.Outcome.FAILURE)
    b.acquire().record(failgate.Outcome.IGNORE)
    b.acquire().record_result("value")
    b.acquire().record_exception(Boom())
    t = totals(b)
    assert (t.successes, t.failures, t.ignored) == (2, 2, 1)


def test_an_unreported_permit_is_abandoned_when_dropped(
    clock: failgate.ManualClock,
) -> None:
    b = breaker(clock, consecutive_failures=1, open_for=1, totals=True)
    b.acquire().failure()
    clock.advance(1)
    probe = b.acquire()
    assert probe.is_probe
    with pytest.raises(failgate.CircuitOpenError):
        b.acquire()  # the one slot is held
    del probe
    gc.collect()  # CPython frees it at `del`; other interpreters may need this
    again = b.acquire()  # the dropped probe's slot came back
    assert again.is_probe
    again.success()
    assert state(b) is State.CLOSED
    assert totals(b).abandoned == 1


def test_closed_permits_are_not_probes(clock: failgate.ManualClock) -> None:
    permit = breaker(clock).acquire()
    assert not permit.is_probe
    permit.success()
