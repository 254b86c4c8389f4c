"""The breakers compared, each built and applied through its own recommended API.

Every `Impl` wraps a function the way its library's README says to (a decorator in
each case) and can be tripped open with one real failure (threshold 1, an open period
of an hour, so no benchmark run ever reaches the half-open state). `check` proves,
before any timing, that a wrapped call really is refused with the library's own error.

The peers are imported by name at run time: they are optional (an absent one is left
out of the table, saying so) and mostly untyped, so they are `Any` here.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import failgate

Sync = Callable[[], object]
Async = Callable[[], Awaitable[object]]
OPEN_FOR_S = 3600  # long enough that an opened breaker stays open through every run
_counter = [0]


def _unique(prefix: str) -> str:
    # purgatory and circuitbreaker keep breakers in registries by name: one name each.
    _counter[0] += 1
    return f"{prefix}-{_counter[0]}"


def _module(name: str) -> Any | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "?"


class Boom(RuntimeError):
    """The failure each tripping call raises."""


def _boom() -> object:
    raise Boom("down")


async def _aboom() -> object:
    raise Boom("down")


@dataclass
class Impl:
    """One library: how it decorates a function, closed or tripped open."""

    name: str
    version: str
    # (threshold, open for s) -> decorator; None when the library has no such API
    sync: Callable[[int], Callable[[Sync], Sync]] | None
    asyncio: Callable[[int], Callable[[Async], Async]] | None
    rejection: type[BaseException]

    def open_sync(self, fn: Sync) -> Sync:
        """``fn`` decorated by a breaker that one failure has opened."""
        assert self.sync is not None
        make = self.sync(1)
        # The same breaker wraps both: the failing call trips it, then fn is refused.
        tripping, wrapped = make(_boom), make(fn)
        try:
            tripping()
        except Exception:  # pybreaker raises its CircuitBreakerError on the trip
            pass
        self.check_refused_sync(wrapped)
        return wrapped

    def check_refused_sync(self, wrapped: Sync) -> None:
        try:
            wrapped()
        except self.rejection:
            return
        raise AssertionError(f"{self.name}: an opened breaker let a call through")

    async def open_async(self, fn: Async) -> Async:
        assert self.asyncio is not None
        make = self.asyncio(1)
        tripping, wrapped = make(_aboom), make(fn)
        try:
            await tripping()
        except Exception:
            pass
        try:
            await wrapped()
        except self.rejection:
            return wrapped
        raise AssertionError(f"{self.name}: an opened breaker let a call through")


def _failgate_impl() -> Impl:
    def make(threshold: int) -> Callable[[Any], Any]:
        breaker = failgate.CircuitBreaker(
            _unique("bench"), consecutive_failures=threshold, open_for=OPEN_FOR_S
        )
        return breaker

    return Impl("failgate", failgate.__version__, make, make, failgate.CircuitOpenError)


def _pybreaker_impl(mod: Any) -> Impl:
    def make(threshold: int) -> Callable[[Any], Any]:
        breaker = mod.CircuitBreaker(fail_max=threshold, reset_timeout=OPEN_FOR_S)
        return breaker  # type: ignore[no-any-return]

    # pybreaker's asyncio needs tornado coroutines (call_async): not its asyncio API.
    return Impl("pybreaker", _version("pybreaker"), make, None, mod.CircuitBreakerError)


def _circuitbreaker_impl(mod: Any) -> Impl:
    def make(threshold: int) -> Callable[[Any], Any]:
        # `@circuit(...)` is the README's form; each call makes a new breaker, so the
        # tripping function and the measured one share it through one instance.
        return mod.circuit(  # type: ignore[no-any-return]
            failure_threshold=threshold, recovery_timeout=OPEN_FOR_S, name=_unique("cb")
        )

    return Impl(
        "circuitbreaker", _version("circuitbreaker"), make, make, mod.CircuitBreakerError
    )


def _aiobreaker_impl(mod: Any) -> Impl:
    def make(threshold: int) -> Callable[[Any], Any]:
        breaker = mod.CircuitBreaker(
            fail_max=threshold, timeout_duration=timedelta(seconds=OPEN_FOR_S)
        )
        return breaker  # type: ignore[no-any-return]

    return Impl("aiobreaker", _version("aiobreaker"), make, make, mod.CircuitBreakerError)


def _purgatory_impl(mod: Any) -> Impl:
    model = importlib.import_module("purgatory.domain.model")

    def make_sync(threshold: int) -> Callable[[Any], Any]:
        factory = mod.SyncCircuitBreakerFactory(
            default_threshold=threshold, default_ttl=OPEN_FOR_S
        )
        return factory(_unique("purgatory"))  # type: ignore[no-any-return]

    def make_async(threshold: int) -> Callable[[Any], Any]:
        factory = mod.AsyncCircuitBreakerFactory(
            default_threshold=threshold, default_ttl=OPEN_FOR_S
        )
        return factory(_unique("purgatory"))  # type: ignore[no-any-return]

    return Impl(
        "purgatory", _version("purgatory"), make_sync, make_async, model.OpenedState
    )


def available() -> tuple[list[Impl], list[str]]:
    """failgate and every peer that imports, and the names of those that do not."""
    impls = [_failgate_impl()]
    missing = []
    for module, build in (
        ("pybreaker", _pybreaker_impl),
        ("circuitbreaker", _circuitbreaker_impl),
        ("purgatory", _purgatory_impl),
        ("aiobreaker", _aiobreaker_impl),
    ):
        mod = _module(module)
        if mod is None:
            missing.append(module)
        else:
            impls.append(build(mod))
    return impls, missing


def no_breaker_sync(threshold: int) -> Callable[[Sync], Sync]:
    """The baseline: the function itself."""
    return lambda fn: fn


def no_breaker_async(threshold: int) -> Callable[[Async], Async]:
    return lambda fn: fn


NONE = Impl("no breaker", "-", no_breaker_sync, no_breaker_async, BaseException)


def run(coro: Awaitable[object]) -> None:
    """Runs ``coro`` on a fresh event loop (asyncio.run, typed for an Awaitable)."""

    async def main() -> None:
        await coro

    asyncio.run(main())
