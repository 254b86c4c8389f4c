"""The native module: the Rust core behind `failgate`. Import from `failgate`, not here."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any, Final, TypeVar, final

from typing_extensions import Self, disjoint_base

from ._types import CircuitOpenError, Outcome, State

_Duration = float | int | timedelta | str
_F = TypeVar("_F", bound=Callable[..., Any])

__version__: Final[str]
__all__ = [
    "Constant",
    "CountWindow",
    "Exponential",
    "Guarded",
    "ManualClock",
    "Metrics",
    "Permit",
    "StateChange",
    "TimeWindow",
    "Totals",
    "_Core",
    "_Fleet",
    "_Local",
    "__version__",
    "_after_fork",
    "_register",
]

def _register(
    error: type[CircuitOpenError], state: type[State], outcome: type[Outcome]
) -> None: ...
def _after_fork() -> None: ...

@final
class CountWindow:
    def __new__(cls, calls: int) -> Self: ...
    @property
    def calls(self) -> int: ...

@final
class TimeWindow:
    def __new__(cls, span: _Duration, buckets: int | None = None) -> Self: ...
    @property
    def span(self) -> float: ...
    @property
    def buckets(self) -> int | None: ...

@final
class Constant:
    def __new__(cls, wait: _Duration) -> Self: ...

@final
class Exponential:
    def __new__(cls, base: _Duration, max: _Duration, jitter: float | None = None) -> Self: ...

@final
class ManualClock:
    def __new__(cls, start: _Duration | None = None) -> Self: ...
    def advance(self, by: _Duration) -> None: ...
    def set(self, to: _Duration) -> None: ...
    def now(self) -> float: ...

@final
class StateChange:
    @property
    def name(self) -> str: ...
    @property
    def old(self) -> State: ...
    @property
    def new(self) -> State: ...
    @property
    def reason(self) -> str: ...
    @property
    def generation(self) -> int: ...
    @property
    def wait(self) -> float | None: ...

@final
class Totals:
    @property
    def successes(self) -> int: ...
    @property
    def failures(self) -> int: ...
    @property
    def ignored(self) -> int: ...
    @property
    def slow_successes(self) -> int: ...
    @property
    def slow_failures(self) -> int: ...
    @property
    def abandoned(self) -> int: ...
    @property
    def refused(self) -> int: ...
    @property
    def calls(self) -> int: ...

@final
class Metrics:
    """A snapshot of a breaker. ``calls``, ``successes``, ``failures`` and
    ``slow_calls`` count the rate window (the last ``CountWindow`` calls or
    ``TimeWindow`` span; a fleet breaker's: the whole fleet's, as of its last round
    trip), so they are 0 for a breaker without a window. Counts since the breaker was
    made are in ``totals``, kept with ``totals=True``."""

    @property
    def name(self) -> str: ...
    @property
    def state(self) -> State: ...
    @property
    def generation(self) -> int: ...
    @property
    def consecutive_failures(self) -> int: ...
    @property
    def calls(self) -> int: ...
    @property
    def successes(self) -> int: ...
    @property
    def failures(self) -> int: ...
    @property
    def slow_calls(self) -> int: ...
    @property
    def failure_rate(self) -> float | None: ...
    @property
    def slow_call_rate(self) -> float | None: ...
    @property
    def half_open_probes(self) -> int: ...
    @property
    def half_open_successes(self) -> int: ...
    @property
    def retry_after(self) -> float | None: ...
    @property
    def time_in_state(self) -> float:
        """Seconds since the last change of state; on a FleetBreaker, since this process
        saw it (a transition made in Redis arrives within a round trip)."""
    @property
    def totals(self) -> Totals | None: ...
    def as_dict(self) -> dict[str, Any]: ...

@final
class Permit:
    @property
    def is_probe(self) -> bool: ...
    @property
    def done(self) -> bool: ...
    def success(self) -> None: ...
    def failure(self, retry_after: _Duration | None = None) -> None: ...
    def ignore(self) -> None: ...
    def abandon(self) -> None: ...
    def record(self, outcome: Outcome, retry_after: _Duration | None = None) -> None: ...
    def record_result(self, result: object) -> None: ...
    def record_exception(self, exception: BaseException) -> None: ...

@final
class Guarded:
    """A function wrapped by a breaker (`@breaker`): each call goes through it."""

    __wrapped__: Callable[..., Any]
    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...
    def __get__(self, obj: object, objtype: type | None = None, /) -> Any: ...

@disjoint_base
class _Core:
    @property
    def name(self) -> str: ...
    @property
    def state(self) -> State: ...
    def acquire(self) -> Permit: ...
    def call(self, func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any: ...
    def _guard(self, func: _F) -> _F: ...
    def metrics(self) -> Metrics: ...
    def force_open(self) -> None: ...
    def disable(self) -> None: ...
    def count_only(self) -> None: ...
    def reset(self) -> None: ...
    def open_for(self, wait: _Duration) -> None: ...
    def half_open(self) -> None: ...
    def close(self) -> None: ...
    def add_listener(self, listener: Callable[[StateChange], object]) -> None:
        """Calls ``listener(change)`` on each change of state callers see, inline on the
        thread that made it: a local breaker's calling thread; for a FleetBreaker also
        its sync thread, for a transition made in Redis (reason ``"fleet"``)."""
    def remove_listener(self, listener: Callable[[StateChange], object]) -> None: ...

class _Local(_Core):
    def __new__(
        cls,
        name: str | None = None,
        *,
        consecutive_failures: int | None = None,
        failure_rate: float | None = None,
        window: CountWindow | TimeWindow | None = None,
        minimum_calls: int | None = None,
        slow_calls: tuple[_Duration, float] | None = None,
        open_for: _Duration | None = None,
        backoff: Constant | Exponential | None = None,
        half_open_permits: int | None = None,
        half_open_timeout: _Duration | None = None,
        half_open_failure_rate: float | None = None,
        forget_failures_after: _Duration | None = None,
        initial_state: State | str | None = None,
        honor_retry_after: bool | None = None,
        max_retry_after: _Duration | None = None,
        exclude: type[BaseException] | tuple[type[BaseException], ...] | None = None,
        classify: Callable[[object, BaseException | None], Outcome] | None = None,
        listeners: tuple[Callable[[StateChange], object], ...]
        | list[Callable[[StateChange], object]]
        | None = None,
        clock: ManualClock | None = None,
        totals: bool | None = None,
    ) -> Self: ...

class _Fleet(_Core):
    def __new__(
        cls,
        name: str,
        *,
        redis: str,
        namespace: str | None = None,
        username: str | None = None,
        password: str | None = None,
        failure_rate: float | None = None,
        window: CountWindow | TimeWindow | None = None,
        minimum_calls: int | None = None,
        open_for: _Duration | None = None,
        half_open_permits: int | None = None,
        half_open_timeout: _Duration | None = None,
        half_open_failure_rate: float | None = None,
        flush_interval: _Duration | None = None,
        idle_poll: _Duration | None = None,
        redis_timeout: _Duration | None = None,
        key_ttl: _Duration | None = None,
        initial_state: State | str | None = None,
        honor_retry_after: bool | None = None,
        max_retry_after: _Duration | None = None,
        exclude: type[BaseException] | tuple[type[BaseException], ...] | None = None,
        classify: Callable[[object, BaseException | None], Outcome] | None = None,
        listeners: tuple[Callable[[StateChange], object], ...]
        | list[Callable[[StateChange], object]]
        | None = None,
        clock: ManualClock | None = None,
        totals: bool | None = None,
    ) -> Self: ...
    @property
    def namespace(self) -> str: ...
    @property
    def mode(self) -> str: ...
    def status(self) -> dict[str, Any]: ...
