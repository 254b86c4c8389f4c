"""pybreaker 1.4's API over failgate: switch with one import.

    import failgate.compat.pybreaker as pybreaker

    breaker = pybreaker.CircuitBreaker(fail_max=5, reset_timeout=60)

Differences from pybreaker 1.4.1, each on purpose:

- Calls are not serialised: pybreaker holds one lock across every call; here no lock is
  held across a call, so threads call in parallel (and listeners may run concurrently).
- Half-open admits ``success_threshold`` probes per episode (one by default); other calls
  meanwhile raise CircuitBreakerError (retry_after None) instead of queueing on the lock.
- KeyboardInterrupt, SystemExit, asyncio.CancelledError and GeneratorExit abandon the
  call (it counts for nothing, a probe slot comes back); pybreaker counts them as failures.
- ``fail_counter`` can exceed ``fail_max`` by the calls that were in flight when another
  thread tripped the breaker; the trip itself happens exactly once.
- ``call_async`` and ``acall`` are asyncio coroutines (no tornado); decorating an
  ``async def`` function guards it properly (pybreaker 1.4 counted the coroutine object).
- An ``open`` initial state (``CircuitMemoryStorage("open")``) waits ``reset_timeout``;
  pybreaker's storage had no opening time and let the next call through.
- Only in-memory state: CircuitRedisStorage raises NotImplementedError; use
  ``failgate.FleetBreaker`` for state shared between processes.
- Setting ``fail_max``, ``reset_timeout`` or ``success_threshold`` rebuilds the inner
  breaker: its state is kept (an open wait restarts with the time left), its counters
  start again at zero, and calls in flight report to the old one.
- A listener that raises is logged (logger ``failgate.compat.pybreaker``) and never
  breaks a call or the breaker's bookkeeping; pybreaker let it propagate.
- ``CircuitBreakerError`` subclasses ``failgate.CircuitOpenError``: it has ``name``,
  ``state`` and ``retry_after`` too, and ``except`` for either catches it.
- failgate's operator states map to pybreaker's three: forced open reads "open",
  disabled and count-only read "closed".
- ``clock=`` (a ``failgate.ManualClock``) is failgate's extension for tests, and
  ``failgate_breaker`` exposes the inner breaker (``metrics()``).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import threading
import types
from collections.abc import Awaitable, Callable, Generator, Iterable, Iterator, Sequence
from typing import Any, TypeVar

import failgate
from failgate import CircuitOpenError, State

from ._pybreaker_base import (
    _MANUAL,
    _NAMES,
    _STATE_CLASSES,
    STATE_CLOSED,
    STATE_HALF_OPEN,
    STATE_OPEN,
    CircuitBreakerError,
    CircuitBreakerListener,
    CircuitBreakerState,
    CircuitBreakerStorage,
    CircuitClosedState,
    CircuitHalfOpenState,
    CircuitMemoryStorage,
    CircuitOpenState,
    CircuitRedisStorage,
    Exclusion,
    _positive,
    _Registry,
    _safe,
    _timeout,
)

__all__ = [
    "STATE_CLOSED",
    "STATE_HALF_OPEN",
    "STATE_OPEN",
    "CircuitBreaker",
    "CircuitBreakerError",
    "CircuitBreakerListener",
    "CircuitBreakerState",
    "CircuitBreakerStorage",
    "CircuitClosedState",
    "CircuitHalfOpenState",
    "CircuitMemoryStorage",
    "CircuitOpenState",
    "CircuitRedisStorage",
]

_T = TypeVar("_T")


class CircuitBreaker(_Registry):
    """pybreaker's CircuitBreaker over a `failgate.CircuitBreaker` (see the module doc)."""

    def __init__(
        self,
        fail_max: int = 5,
        reset_timeout: float = 60,
        success_threshold: int = 1,
        exclude: Iterable[Exclusion] | None = None,
        listeners: Sequence[CircuitBreakerListener] | None = None,
        state_storage: CircuitBreakerStorage | None = None,
        name: str | None = None,
        throw_new_error_on_trip: bool = True,
        *,
        clock: failgate.ManualClock | None = None,
    ) -> None:
        if state_storage is not None and not isinstance(state_storage, CircuitMemoryStorage):
            raise TypeError(
                "state_storage: only None or CircuitMemoryStorage is supported; for state "
                "shared between processes use failgate.FleetBreaker"
            )
        self._fail_max = _positive("fail_max", fail_max)
        self._reset_timeout = _timeout(reset_timeout)
        self._success_threshold = _positive("success_threshold", success_threshold)
        self._excluded: list[Exclusion] = list(exclude or [])
        # Copy-on-write tuples: calls iterate them without a lock.
        self._listeners: tuple[CircuitBreakerListener, ...] = tuple(listeners or ())
        self._name = name
        self._throw_new_error_on_trip = throw_new_error_on_trip
        self._clock = clock
        self._count_lock = threading.Lock()  # guards only the counter, never a call
        self._fail_count = 0
        self._trips = threading.local()  # the trip this thread's last record caused
        initial = state_storage.state if state_storage is not None else STATE_CLOSED
        self._inner = self._build({STATE_OPEN: State.OPEN, STATE_HALF_OPEN: State.HALF_OPEN}
                                  .get(initial, State.CLOSED), float(self._reset_timeout))

    # -- the inner breaker -------------------------------------------------------------

    def _build(self, state: State, wait: float | None) -> failgate.CircuitBreaker:
        inner = failgate.CircuitBreaker(
            self._name or "default",
            consecutive_failures=self._fail_max,
            open_for=self._reset_timeout,
            half_open_permits=self._success_threshold,
            clock=self._clock,
        )
        # The initial state is set before the listener is added: pybreaker does not
        # notify listeners of the state a breaker starts in.
        if state is State.OPEN:
            inner.open_for(wait or 0)
        elif state is State.HALF_OPEN:
            inner.half_open()
        elif state is State.FORCED_OPEN:
            inner.force_open()
        elif state is State.DISABLED:
            inner.disable()
        elif state is State.COUNT_ONLY:
            inner.count_only()
        inner.add_listener(self._on_change)
        return inner

    def _rebuild(self) -> None:
        old = self._inner
        metrics = old.metrics()
        old.remove_listener(self._on_change)
        self._inner = self._build(metrics.state, metrics.retry_after)
        with self._count_lock:
            self._fail_count = 0

    def _on_change(self, change: failgate.StateChange) -> None:
        if change.new is State.OPEN and change.reason not in _MANUAL:
            self._trips.change = change
        new_name = _NAMES[change.new]
        if new_name == STATE_CLOSED:
            with self._count_lock:
                self._fail_count = 0
        old_state = _STATE_CLASSES[_NAMES[change.old]](self)
        new_state = _STATE_CLASSES[new_name](self)
        for listener in self._listeners:
            _safe(listener, "state_change", self, old_state, new_state)

    @property
    def failgate_breaker(self) -> failgate.CircuitBreaker:
        """failgate's extension: the inner breaker (``metrics()``, ``force_open()``...)."""
        return self._inner

    # -- one call's bookkeeping --------------------------------------------------------

    def _admit(self, func: Callable[..., Any], args: Any, kwargs: Any) -> failgate.Permit:
        try:
            permit = self._inner.acquire()
        except CircuitOpenError as exc:
            if exc.state is State.HALF_OPEN:
                text = "Trial call in progress, circuit breaker half-open"
            else:
                text = "Timeout not elapsed yet, circuit breaker still open"
            raise CircuitBreakerError(
                text, name=exc.name, state=exc.state, retry_after=exc.retry_after
            ) from None
        for listener in self._listeners:
            _safe(listener, "before_call", self, func, *args, **kwargs)
        return permit

    def _record_success(self, permit: failgate.Permit) -> None:
        if self._fail_count:  # the common case (already 0) takes no lock
            with self._count_lock:
                self._fail_count = 0
        permit.success()
        for listener in self._listeners:
            _safe(listener, "success", self)

    def _record_error(self, permit: failgate.Permit, exc: BaseException) -> None:
        """Records a raise. When this call tripped the breaker (and throw_new_error_on_trip)
        raises CircuitBreakerError from ``exc``; otherwise returns, and the caller re-raises
        ``exc`` with a bare ``raise`` so its traceback stays as it was."""
        if not isinstance(exc, Exception):
            permit.abandon()
            return
        if not self.is_system_error(exc):
            # pybreaker treats a business exception as a success.
            self._record_success(permit)
            return
        with self._count_lock:
            self._fail_count += 1
        for listener in self._listeners:
            _safe(listener, "failure", self, exc)
        # The native breaker calls _on_change in this thread, inside failure().
        self._trips.change = None
        permit.failure()
        change: failgate.StateChange | None = self._trips.change
        self._trips.change = None
        if change is None or not self._throw_new_error_on_trip:
            return
        if change.reason == "probe_failed":
            text = "Trial call failed, circuit breaker opened"
        else:
            text = "Failures threshold reached, circuit breaker opened"
        raise CircuitBreakerError(
            text, name=change.name, state=State.OPEN, retry_after=change.wait
        ) from exc

    # -- calling -----------------------------------------------------------------------

    def call(self, func: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        """Calls ``func(*args, **kwargs)`` through the breaker. A generator it returns is
        wrapped: its outcome is recorded when it finishes."""
        permit = self._admit(func, args, kwargs)
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            self._record_error(permit, exc)
            raise
        if isinstance(result, types.GeneratorType):
            wrapped: Any = self._generator_call(result, permit)
            return wrapped  # type: ignore[no-any-return]
        self._record_success(permit)
        return result

    def _generator_call(
        self, gen: Generator[Any, Any, Any], permit: failgate.Permit
    ) -> Generator[Any, Any, Any]:
        # pybreaker's generator_call: the permit is held until the generator finishes.
        try:
            value = yield next(gen)
            while True:
                value = yield gen.send(value)
        except StopIteration as stop:
            self._record_success(permit)
            return stop.value
        except GeneratorExit:
            permit.abandon()
            gen.close()
            raise
        except BaseException as exc:
            self._record_error(permit, exc)
            gen.throw(exc)

    async def call_async(
        self, func: Callable[..., Awaitable[_T]], *args: Any, **kwargs: Any
    ) -> _T:
        """Awaits ``func(*args, **kwargs)`` through the breaker (asyncio; no tornado)."""
        if inspect.isasyncgenfunction(func) or inspect.isgeneratorfunction(func):
            raise TypeError("call_async does not support generators or async generators")
        permit = self._admit(func, args, kwargs)
        try:
            result = await func(*args, **kwargs)
        except BaseException as exc:
            self._record_error(permit, exc)
            raise
        self._record_success(permit)
        return result

    acall = call_async  # the name pybreaker's later releases use

    @contextlib.contextmanager
    def calling(self) -> Iterator[None]:
        """``with breaker.calling():`` runs the block through the breaker."""
        permit = self._admit(self.calling, (), {})
        try:
            yield
        except BaseException as exc:
            self._record_error(permit, exc)
            raise
        self._record_success(permit)

    def __call__(self, *call_args: Any, **call_kwargs: bool) -> Callable[..., Any]:
        """``@breaker`` or ``@breaker()``; ``__pybreaker_call_async=True`` (or an ``async
        def`` function) guards through `call_async`."""
        force_async = call_kwargs.pop("__pybreaker_call_async", False)

        def outer(func: Callable[..., Any]) -> Callable[..., Any]:
            if force_async or inspect.iscoroutinefunction(func):

                @functools.wraps(func)
                async def guarded_async(*args: Any, **kwargs: Any) -> Any:
                    return await self.call_async(func, *args, **kwargs)

                return guarded_async

            @functools.wraps(func)
            def guarded(*args: Any, **kwargs: Any) -> Any:
                return self.call(func, *args, **kwargs)

            return guarded

        if call_args:
            return outer(call_args[0])
        return outer

    # -- state and orders ----------------------------------------------------------------

    @property
    def current_state(self) -> str:
        """"closed", "open" or "half-open"."""
        return _NAMES[self._inner.state]

    @property
    def state(self) -> CircuitBreakerState:
        return _STATE_CLASSES[self.current_state](self)

    @state.setter
    def state(self, state_str: str) -> None:
        orders = {STATE_OPEN: self.open, STATE_CLOSED: self.close, STATE_HALF_OPEN: self.half_open}
        if state_str not in orders:
            raise ValueError(f"Unknown state {state_str!r}, valid states: {', '.join(orders)}")
        orders[state_str]()

    def open(self) -> bool:
        """Opens for ``reset_timeout``; returns ``throw_new_error_on_trip`` as pybreaker does."""
        self._inner.open_for(self._reset_timeout)
        return self._throw_new_error_on_trip

    def half_open(self) -> None:
        self._inner.half_open()

    def close(self) -> None:
        self._inner.close()

    @property
    def fail_counter(self) -> int:
        """Failed calls since the last success or close."""
        return self._fail_count

    @property
    def success_counter(self) -> int:
        """Successful probes in the current half-open episode."""
        return self._inner.metrics().half_open_successes

    @property
    def fail_max(self) -> int:
        return self._fail_max

    @fail_max.setter
    def fail_max(self, number: int) -> None:
        self._fail_max = _positive("fail_max", number)
        self._rebuild()

    @property
    def reset_timeout(self) -> float:
        return self._reset_timeout

    @reset_timeout.setter
    def reset_timeout(self, timeout: float) -> None:
        self._reset_timeout = _timeout(timeout)
        self._rebuild()

    @property
    def success_threshold(self) -> int:
        return self._success_threshold

    @success_threshold.setter
    def success_threshold(self, threshold: int) -> None:
        self._success_threshold = _positive("success_threshold", threshold)
        self._rebuild()

    @property
    def name(self) -> str | None:
        return self._name

    @name.setter
    def name(self, name: str) -> None:
        # Kept here only: renaming the inner breaker would mean rebuilding it.
        self._name = name

    def __repr__(self) -> str:
        return f"<pybreaker-compat CircuitBreaker {self._name!r} {self.current_state}>"
