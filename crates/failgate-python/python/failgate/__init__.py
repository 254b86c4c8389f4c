"""Failgate: a lock-free circuit breaker with every detection policy, from Rust.

>>> import failgate
>>> clock = failgate.ManualClock()
>>> breaker = failgate.CircuitBreaker(
...     name="payments", consecutive_failures=2, open_for=60, clock=clock
... )
>>> @breaker
... def charge() -> None:
...     raise ConnectionError("down")
>>> for _ in range(2):
...     try:
...         charge()
...     except ConnectionError:
...         pass
>>> breaker.state
<State.OPEN: 'open'>
>>> try:
...     charge()
... except failgate.CircuitOpenError as e:
...     print(e.retry_after)
60.0
"""

from __future__ import annotations

import os as _os

from . import _failgate
from ._api import Breaker
from ._failgate import (
    Constant,
    CountWindow,
    Exponential,
    Guarded,
    ManualClock,
    Metrics,
    Permit,
    StateChange,
    TimeWindow,
    Totals,
)
from ._types import CircuitOpenError, Outcome, State

__version__: str = _failgate.__version__

__all__ = [
    "Breaker",
    "CircuitBreaker",
    "CircuitOpenError",
    "Constant",
    "CountWindow",
    "Exponential",
    "FleetBreaker",
    "Guarded",
    "ManualClock",
    "Metrics",
    "Outcome",
    "Permit",
    "State",
    "StateChange",
    "TimeWindow",
    "Totals",
]

_failgate._register(CircuitOpenError, State, Outcome)
# A forked child (gunicorn's pre-fork workers, multiprocessing's fork) must not use the
# parent's tokio runtime or Redis connections: its fleet breakers rebuild both on their
# next call.
_os.register_at_fork(after_in_child=_failgate._after_fork)

# The native class comes first among the bases: its layout and constructor are the
# instance's (`Breaker` adds no storage, and its own base has no constructor).


class CircuitBreaker(_failgate._Local, Breaker):
    """A circuit breaker in this process.

    With no policy given it trips on 5 consecutive failures and stays open 60 seconds.
    Give ``consecutive_failures``, or ``failure_rate`` with a ``window``, or
    ``slow_calls``, or several: the first to trip opens it. Durations are seconds, a
    `datetime.timedelta`, or a string such as ``"1m 30s"``.

    Use it as a decorator (sync or async functions), with ``with`` / ``async with``,
    or through `call` / `call_async`. A refused call raises `CircuitOpenError`.
    """

    __slots__ = ()


class FleetBreaker(_failgate._Fleet, Breaker):
    """A breaker shared by every process that names it in one Redis.

    Each process decides locally from a mirror of the shared state, which a background
    task (on a tokio runtime owned by this module, made anew in a forked child)
    synchronises with Redis; a call never waits on Redis. Policies: ``failure_rate``
    over a ``window`` with ``minimum_calls``. Listeners hear the changes of state this
    process sees, those made in Redis with reason ``"fleet"``, on the sync thread.
    """

    __slots__ = ()
