"""The vocabulary shared by the native module and the Python layer."""

from __future__ import annotations

import enum


class State(str, enum.Enum):
    """A breaker's state. A `str` too: ``breaker.state == "open"`` holds when open."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"
    FORCED_OPEN = "forced_open"
    DISABLED = "disabled"
    COUNT_ONLY = "count_only"

    def __str__(self) -> str:
        return self.value


class Outcome(enum.Enum):
    """What a call's result means to the breaker (a `classify` callable returns one)."""

    SUCCESS = "success"
    FAILURE = "failure"
    IGNORE = "ignore"


class CircuitOpenError(Exception):
    """Raised instead of making a call the breaker refuses.

    ``retry_after`` is the wait in seconds until the breaker may let a call through
    (``None`` when it cannot say: forced open, or all half-open probe slots taken);
    ``name`` and ``state`` say which breaker refused and in what state.
    """

    # The native module raises it with (name, state, retry_after) as its args, and
    # nothing else: building the message only when it is shown keeps a rejection cheap.
    __slots__ = ()

    @property
    def name(self) -> str:
        return str(self.args[0])

    @property
    def state(self) -> State:
        return State(self.args[1])

    @property
    def retry_after(self) -> float | None:
        value = self.args[2]
        return None if value is None else float(value)

    def __str__(self) -> str:
        state = self.state
        if state is State.HALF_OPEN:
            text = f"circuit {self.name!r} is half-open: all probe slots are taken"
        elif state is State.FORCED_OPEN:
            text = f"circuit {self.name!r} is forced open"
        else:
            text = f"circuit {self.name!r} is open"
        retry_after = self.retry_after
        if retry_after is not None:
            text += f", retry after {retry_after:.3f}s"
        return text
