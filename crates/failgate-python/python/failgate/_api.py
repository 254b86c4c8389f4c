"""What both breakers add in Python over the native core: decorating async functions,
``with`` / ``async with`` blocks, and ``call_async``.

The native ``_Core`` does the work; this layer only chooses between sync and async and
keeps the permit of each ``with`` block in a context variable, so that threads and
asyncio tasks entering the same breaker at once each hold their own.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, TypeVar

from . import _failgate

_F = TypeVar("_F", bound=Callable[..., Any])
_T = TypeVar("_T")

# The permits of the `with` blocks open in this context, innermost last, each with the
# id of its breaker. A tuple, so a copy of the context (a new task) never shares it.
_open_blocks: contextvars.ContextVar[tuple[tuple[int, _failgate.Permit], ...]] = (
    contextvars.ContextVar("failgate_open_blocks", default=())
)


def _push(breaker: object, permit: _failgate.Permit) -> None:
    _open_blocks.set(_open_blocks.get() + ((id(breaker), permit),))


def _pop(breaker: object) -> _failgate.Permit:
    blocks = _open_blocks.get()
    key = id(breaker)
    for i in range(len(blocks) - 1, -1, -1):
        if blocks[i][0] == key:
            _open_blocks.set(blocks[:i] + blocks[i + 1 :])
            return blocks[i][1]
    raise RuntimeError("__exit__ without a matching __enter__ on this breaker")


def _finish(
    permit: _failgate.Permit, exc: BaseException | None
) -> None:
    if exc is None:
        permit.record_result(None)
    else:
        permit.record_exception(exc)


class BreakerAPI:
    """The Python half of every breaker (mixed into `CircuitBreaker` and `FleetBreaker`)."""

    __slots__ = ()

    def __call__(self, fn: _F) -> _F:
        """Decorates ``fn``, sync or async: each call goes through the breaker."""
        core: Any = self
        if inspect.iscoroutinefunction(fn):
            # One coroutine level, not two through call_async: each level costs about
            # 0.4 us per call.
            acquire = core.acquire

            @functools.wraps(fn)
            async def guarded(*args: Any, **kwargs: Any) -> Any:
                permit: _failgate.Permit = acquire()
                try:
                    result = await fn(*args, **kwargs)
                except BaseException as exc:
                    permit.record_exception(exc)
                    raise
                permit.record_result(result)
                return result

            return guarded  # type: ignore[return-value]
        guarded_sync: _F = core._guard(fn)
        return guarded_sync

    async def call_async(
        self, fn: Callable[..., Awaitable[_T]], /, *args: Any, **kwargs: Any
    ) -> _T:
        """Awaits ``fn(*args, **kwargs)`` through the breaker.

        Raises `CircuitOpenError` without calling ``fn`` when the breaker refuses. A
        cancellation (or any `BaseException` that is not an `Exception`) abandons the
        permit: the call counts for nothing and a half-open probe slot comes back.
        """
        core: Any = self
        permit: _failgate.Permit = core.acquire()
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            permit.record_exception(exc)
            raise
        permit.record_result(result)
        return result

    def __enter__(self) -> None:
        core: Any = self
        _push(self, core.acquire())

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _finish(_pop(self), exc)

    async def __aenter__(self) -> None:
        self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _finish(_pop(self), exc)


class Breaker(BreakerAPI, _failgate._Core):
    """Either breaker, `CircuitBreaker` or `FleetBreaker`: the type to annotate code
    that takes "a breaker" with, and to test with ``isinstance``. It has every method
    the two share (state, metrics, calls, orders, listeners); it is not made directly.

    >>> import failgate
    >>> isinstance(failgate.CircuitBreaker(name="db"), failgate.Breaker)
    True
    """

    __slots__ = ()
