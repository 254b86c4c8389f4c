"""What the `requests` and `httpx` integrations share: which breaker serves a request,
how a response is classified, and how a ``Retry-After`` header is read.

The rules follow the Rust core's ``failgate::http::HttpClassifier``: a 5xx answer or a
transport error is the dependency failing; any other answer (a 404, a 400, and a 429 by
default) is the caller's business and counts as a success. A ``Retry-After`` on a 503
or a 429 is handed to the breaker whatever the outcome; a breaker built with
``honor_retry_after=True`` then stays open at least that long once it opens (capped by
its ``max_retry_after``), and one built without it ignores the hint.

Neither `requests` nor `httpx` is imported here, so that `failgate` never needs them.
"""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Callable, Container, Mapping
from datetime import timezone
from typing import Final

from ._api import Breaker
from ._failgate import Permit
from ._types import Outcome

#: ``per_host=``: called with an origin such as ``"https://api.example.com:443"``, once
#: per origin, and returns the breaker for every request to it.
BreakerFactory = Callable[[str], Breaker]

#: The statuses that count as failures unless ``failure_statuses=`` says otherwise:
#: every 5xx, as the core's HTTP classifier counts them.
DEFAULT_FAILURE_STATUSES: Final[Container[int]] = range(500, 600)

# The only answers whose Retry-After speaks of the service's availability (RFC 9110:
# on a 3xx it is a redirect delay, which says nothing about the service's health).
_RETRY_AFTER_STATUSES: Final = frozenset({429, 503})

# A bound on the seconds taken from a header before they reach the breaker: the native
# module refuses a duration it cannot hold, and a header must never make a call raise.
# The breaker's own max_retry_after (one hour by default) is far below it.
_MAX_HEADER_SECONDS: Final = 10**9

_DEFAULT_PORTS: Final = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """The wait in seconds that a ``Retry-After`` value asks for, or None.

    Delay-seconds (``"120"``) or an HTTP-date, taken relative to ``now`` (seconds since
    the epoch; the wall clock when omitted), a date in the past meaning no wait (0.0).
    Anything else (``"soon"``, ``"-5"``, ``"1.5"``) is None, as in the core's
    ``parse_retry_after``.
    """
    if value is None:
        return None
    text = value.strip()
    # isascii first: str.isdigit accepts digits of other scripts, which int() takes but
    # no HTTP peer means.
    if text.isascii() and text.isdigit():
        return float(min(int(text), _MAX_HEADER_SECONDS))
    try:
        date = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if date.tzinfo is None:
        # The asctime form carries no zone; HTTP dates are always GMT.
        date = date.replace(tzinfo=timezone.utc)
    current = time.time() if now is None else now
    return min(max(0.0, date.timestamp() - current), float(_MAX_HEADER_SECONDS))


def origin(scheme: str, host: str, port: int | None) -> str:
    """``scheme://host:port``, lower-cased, with the scheme's default port filled in, so
    that ``https://API.example.com/`` and ``https://api.example.com:443/x`` share one."""
    scheme = scheme.lower()
    host = host.lower()
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 literal, bracketed as in a URL
    if port is None:
        port = _DEFAULT_PORTS.get(scheme)
    return f"{scheme}://{host}" if port is None else f"{scheme}://{host}:{port}"


class BreakerRouter:
    """One shared breaker, or one per origin made by a factory (called once per origin,
    under a lock, so that two threads racing to the same new host share one breaker)."""

    __slots__ = ("_shared", "_factory", "_breakers", "_lock")

    def __init__(
        self, owner: str, breaker: Breaker | None, per_host: BreakerFactory | None
    ) -> None:
        if (breaker is None) == (per_host is None):
            raise TypeError(f"{owner}: give exactly one of breaker= and per_host=")
        if breaker is not None and not isinstance(breaker, Breaker):
            raise TypeError(
                f"{owner}: breaker must be a failgate.CircuitBreaker or FleetBreaker, "
                f"got {type(breaker).__name__}"
            )
        if per_host is not None and not callable(per_host):
            raise TypeError(
                f"{owner}: per_host must be a callable taking an origin, "
                f"got {type(per_host).__name__}"
            )
        self._shared = breaker
        self._factory = per_host
        self._breakers: dict[str, Breaker] = {}
        self._lock = threading.Lock()

    @property
    def shared(self) -> Breaker | None:
        """The one breaker for every origin, or None with ``per_host``."""
        return self._shared

    def get(self, key: str) -> Breaker:
        """The breaker for requests to the origin ``key``."""
        if self._shared is not None:
            return self._shared
        found = self._breakers.get(key)  # lock-free once the origin is known
        if found is not None:
            return found
        factory = self._factory
        assert factory is not None  # __init__ ensures one of the two
        with self._lock:
            found = self._breakers.get(key)
            if found is None:
                made = factory(key)
                if not isinstance(made, Breaker):
                    raise TypeError(
                        "per_host must return a failgate.CircuitBreaker or "
                        f"FleetBreaker, got {type(made).__name__} for {key}"
                    )
                self._breakers[key] = found = made
        return found

    def snapshot(self) -> dict[str, Breaker]:
        """The per-host breakers made so far, by origin (empty with a shared breaker)."""
        with self._lock:
            return dict(self._breakers)


def check_statuses(owner: str, failure_statuses: Container[int]) -> Container[int]:
    """``failure_statuses`` itself, once it is known to answer ``in``."""
    if not hasattr(failure_statuses, "__contains__"):
        raise TypeError(
            f"{owner}: failure_statuses must be a container of status codes (a set, a "
            f"range...), got {type(failure_statuses).__name__}"
        )
    return failure_statuses


def record_response(
    permit: Permit,
    status: int,
    headers: Mapping[str, str],
    failure_statuses: Container[int],
) -> None:
    """Reports a response (its status and headers) to the breaker that admitted it."""
    # Headers are read only on a 503 or 429: a lookup costs more than the breaker does.
    retry_after = (
        parse_retry_after(headers.get("Retry-After"))
        if status in _RETRY_AFTER_STATUSES
        else None
    )
    if status in failure_statuses:
        permit.record(Outcome.FAILURE, retry_after)
    elif retry_after is None:
        permit.success()  # the common case, and the native module's shortest path
    else:
        permit.record(Outcome.SUCCESS, retry_after)


def record_error(permit: Permit, exc: BaseException, caller_error: bool) -> None:
    """Reports a request that raised instead of answering.

    A mistake of the caller's (a malformed URL, an unsupported scheme) says nothing of
    the dependency and is ignored. Anything else goes through the breaker's own rules:
    a failure unless its ``exclude`` or ``classify`` says otherwise, and a
    `BaseException` that is not an `Exception` (a cancellation) abandons the permit.
    """
    if caller_error and isinstance(exc, Exception):
        permit.ignore()
    else:
        permit.record_exception(exc)
