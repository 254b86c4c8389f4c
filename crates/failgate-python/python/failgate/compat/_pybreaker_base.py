"""The parts of `failgate.compat.pybreaker` other than its CircuitBreaker: pybreaker's
error, listener, state and storage classes, and argument checks. Import them from
`failgate.compat.pybreaker`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from failgate import CircuitOpenError, State

if TYPE_CHECKING:
    from .pybreaker import CircuitBreaker

STATE_OPEN = "open"
STATE_CLOSED = "closed"
STATE_HALF_OPEN = "half-open"

_log = logging.getLogger("failgate.compat.pybreaker")

# pybreaker knows three states; failgate's operator states map to what they do to calls.
_NAMES: dict[State, str] = {
    State.CLOSED: STATE_CLOSED,
    State.OPEN: STATE_OPEN,
    State.HALF_OPEN: STATE_HALF_OPEN,
    State.FORCED_OPEN: STATE_OPEN,
    State.DISABLED: STATE_CLOSED,
    State.COUNT_ONLY: STATE_CLOSED,
}
_MANUAL = frozenset({"manual", "manual_open", "manual_half_open", "manual_close"})
Exclusion = type[BaseException] | Callable[[BaseException], bool]


class CircuitBreakerError(CircuitOpenError):
    """Raised when the breaker refuses a call, and (``throw_new_error_on_trip``) by the
    call that trips it, chained to that call's error. ``str(e)`` is pybreaker's message."""

    def __init__(
        self,
        message: str = "",
        *,
        name: str = "default",
        state: State = State.OPEN,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self._fg_name = name
        self._fg_state = state
        self._fg_retry_after = retry_after

    @property
    def name(self) -> str:
        return self._fg_name

    @property
    def state(self) -> State:
        return self._fg_state

    @property
    def retry_after(self) -> float | None:
        return self._fg_retry_after

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class CircuitBreakerListener:
    """Subclass and override what you need; register with ``add_listener``."""

    def before_call(
        self, cb: CircuitBreaker, func: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> None:
        """Called before an admitted call runs."""

    def failure(self, cb: CircuitBreaker, exc: BaseException) -> None:
        """Called when a call fails (before a trip's state_change, as in pybreaker)."""

    def success(self, cb: CircuitBreaker) -> None:
        """Called when a call succeeds (after a close's state_change, as in pybreaker)."""

    def state_change(
        self,
        cb: CircuitBreaker,
        old_state: CircuitBreakerState | None,
        new_state: CircuitBreakerState,
    ) -> None:
        """Called on every transition."""


class CircuitBreakerState:
    """What a listener's ``state_change`` receives: ``name`` is pybreaker's state string."""

    def __init__(self, cb: CircuitBreaker, name: str) -> None:
        self._breaker = cb
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._name!r}>"


class CircuitClosedState(CircuitBreakerState):
    def __init__(self, cb: CircuitBreaker, prev_state: object = None, notify: bool = False):
        super().__init__(cb, STATE_CLOSED)


class CircuitOpenState(CircuitBreakerState):
    def __init__(self, cb: CircuitBreaker, prev_state: object = None, notify: bool = False):
        super().__init__(cb, STATE_OPEN)


class CircuitHalfOpenState(CircuitBreakerState):
    def __init__(self, cb: CircuitBreaker, prev_state: object = None, notify: bool = False):
        super().__init__(cb, STATE_HALF_OPEN)


_STATE_CLASSES: dict[str, type[CircuitClosedState | CircuitOpenState | CircuitHalfOpenState]] = {
    STATE_CLOSED: CircuitClosedState,
    STATE_OPEN: CircuitOpenState,
    STATE_HALF_OPEN: CircuitHalfOpenState,
}


class CircuitBreakerStorage:
    """pybreaker's storage base: only `CircuitMemoryStorage` is supported here."""

    def __init__(self, name: str) -> None:
        self._name = name

    @property
    def name(self) -> str:
        return self._name


class CircuitMemoryStorage(CircuitBreakerStorage):
    """In-memory state (the default); its ``state`` picks the breaker's initial state."""

    def __init__(self, state: str) -> None:
        super().__init__("memory")
        if state not in _STATE_CLASSES:
            raise ValueError(f"Unknown state {state!r}, valid states: {', '.join(_STATE_CLASSES)}")
        self.state = state


class CircuitRedisStorage(CircuitBreakerStorage):
    """Not supported: failgate.FleetBreaker shares one breaker between processes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError(
            "failgate.compat.pybreaker keeps state in memory only; for a breaker shared "
            "through Redis use failgate.FleetBreaker(name, redis='redis://...')"
        )


def _safe(listener: object, event: str, *args: Any, **kwargs: Any) -> None:
    # failgate's rule: a listener never breaks a call or the breaker's bookkeeping.
    try:
        getattr(listener, event)(*args, **kwargs)
    except Exception:
        _log.exception("pybreaker listener %r raised in %s", listener, event)



class _Registry:
    """CircuitBreaker's exclusions and listeners. Both are replaced, never mutated, so a
    call iterates them without a lock."""

    _excluded: list[Exclusion]
    _listeners: tuple[CircuitBreakerListener, ...]

    @property
    def excluded_exceptions(self) -> tuple[Exclusion, ...]:
        return tuple(self._excluded)

    def add_excluded_exception(self, exception: Exclusion) -> None:
        self._excluded = [*self._excluded, exception]

    def add_excluded_exceptions(self, *exceptions: Exclusion) -> None:
        self._excluded = [*self._excluded, *exceptions]

    def remove_excluded_exception(self, exception: Exclusion) -> None:
        excluded = list(self._excluded)
        excluded.remove(exception)
        self._excluded = excluded

    def is_system_error(self, exception: BaseException) -> bool:
        """False when an exclusion (a type, or a predicate) matches ``exception``."""
        for exclusion in self._excluded:
            if isinstance(exclusion, type):
                if isinstance(exception, exclusion):
                    return False
            elif exclusion(exception):
                return False
        return True

    @property
    def listeners(self) -> tuple[CircuitBreakerListener, ...]:
        return self._listeners

    def add_listener(self, listener: CircuitBreakerListener) -> None:
        self._listeners = (*self._listeners, listener)

    def add_listeners(self, *listeners: CircuitBreakerListener) -> None:
        self._listeners = (*self._listeners, *listeners)

    def remove_listener(self, listener: CircuitBreakerListener) -> None:
        listeners = list(self._listeners)
        listeners.remove(listener)
        self._listeners = tuple(listeners)


def _positive(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    return value


def _timeout(value: float) -> float:
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
        raise ValueError(f"reset_timeout must be seconds >= 0, got {value!r}")
    return value
