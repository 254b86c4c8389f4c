"""`httpx` transports that send every request through a circuit breaker.

>>> import failgate, httpx
>>> from failgate.httpx import BreakerTransport, AsyncBreakerTransport
>>> breaker = failgate.CircuitBreaker(name="api", consecutive_failures=3)
>>> client = httpx.Client(transport=BreakerTransport(breaker))
>>> aclient = httpx.AsyncClient(transport=AsyncBreakerTransport(breaker))

Or one breaker per ``scheme://host:port``, made on first use::

    BreakerTransport(per_host=lambda origin: failgate.CircuitBreaker(name=origin))

``transport=`` is the transport that really sends (default: a new
`httpx.HTTPTransport()` / `httpx.AsyncHTTPTransport()`); give your own for retries,
proxies or HTTP/2. Closing the breaker transport closes it.

What counts (as in the Rust core's ``HttpClassifier``):

- a response whose status is in ``failure_statuses`` (default: 500-599) is a failure;
  any other response (404, 400, and 429 unless you add it) is a success;
- a transport error (`httpx.ConnectError`, a timeout, a dropped connection) is a
  failure, unless the breaker's own ``exclude`` / ``classify`` says otherwise; an
  unsupported scheme or a request httpx cannot encode (`httpx.UnsupportedProtocol`,
  `httpx.LocalProtocolError`) is the caller's mistake and counts for nothing;
- a ``Retry-After`` (seconds or an HTTP-date) on a 503 or 429 goes to the breaker with
  the outcome; a breaker built with ``honor_retry_after=True`` then stays open at least
  that long (up to its ``max_retry_after``);
- a cancelled request (`asyncio.CancelledError`, a task group's cancellation) abandons
  its permit: it counts for nothing and a half-open probe slot comes back.

A refused request raises `failgate.CircuitOpenError` and nothing is sent. The outcome is
known when the response's headers arrive; the body is read after, outside the breaker.
"""

from __future__ import annotations

from collections.abc import Container

import httpx

from ._failgate import Permit
from ._api import Breaker
from ._http import (
    DEFAULT_FAILURE_STATUSES,
    BreakerFactory,
    BreakerRouter,
    check_statuses,
    origin,
    record_error,
    record_response,
)

__all__ = ["DEFAULT_FAILURE_STATUSES", "AsyncBreakerTransport", "BreakerTransport"]

# Raised before anything reaches the network, for a request that no server could take.
_CALLER_ERRORS = (httpx.UnsupportedProtocol, httpx.LocalProtocolError)


def _origin_of(url: httpx.URL) -> str:
    return origin(url.scheme, url.host, url.port)


class _Routing:
    """The breaker choice and classification that both transports share."""

    def __init__(
        self,
        owner: str,
        breaker: Breaker | None,
        per_host: BreakerFactory | None,
        failure_statuses: Container[int],
    ) -> None:
        self._router = BreakerRouter(owner, breaker, per_host)
        self.failure_statuses = check_statuses(owner, failure_statuses)

    def breaker_for(self, url: httpx.URL | str) -> Breaker:
        """The breaker that serves requests to ``url`` (made now for a new host)."""
        return self._breaker_of(httpx.URL(url))

    def _breaker_of(self, url: httpx.URL) -> Breaker:
        # A shared breaker needs no origin: skip building its string on every request.
        shared = self._router.shared
        return shared if shared is not None else self._router.get(_origin_of(url))

    @property
    def breakers(self) -> dict[str, Breaker]:
        """The per-host breakers made so far, by origin (empty with one shared)."""
        return self._router.snapshot()

    def _record(self, permit: Permit, response: httpx.Response) -> None:
        record_response(
            permit,
            response.status_code,
            response.headers,
            self.failure_statuses,
        )


class BreakerTransport(_Routing, httpx.BaseTransport):
    """A sync transport: ``httpx.Client(transport=BreakerTransport(breaker))``.

    Give ``breaker`` (shared by every request) or ``per_host`` (a factory called once
    per origin, cached, thread-safe), not both. ``failure_statuses`` is any container of
    ints: ``{429, *range(500, 600)}`` also counts rate limiting.
    """

    def __init__(
        self,
        breaker: Breaker | None = None,
        *,
        per_host: BreakerFactory | None = None,
        transport: httpx.BaseTransport | None = None,
        failure_statuses: Container[int] = DEFAULT_FAILURE_STATUSES,
    ) -> None:
        super().__init__("BreakerTransport", breaker, per_host, failure_statuses)
        self.transport = httpx.HTTPTransport() if transport is None else transport

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        # acquire() raises CircuitOpenError when refused: before any byte is sent.
        permit = self._breaker_of(request.url).acquire()
        try:
            response = self.transport.handle_request(request)
        except BaseException as exc:
            record_error(permit, exc, caller_error=isinstance(exc, _CALLER_ERRORS))
            raise
        self._record(permit, response)
        return response

    def close(self) -> None:
        self.transport.close()


class AsyncBreakerTransport(_Routing, httpx.AsyncBaseTransport):
    """An async transport: ``httpx.AsyncClient(transport=AsyncBreakerTransport(b))``.

    The same options as `BreakerTransport`; ``transport`` defaults to a new
    `httpx.AsyncHTTPTransport()`. A cancelled request abandons its permit.
    """

    def __init__(
        self,
        breaker: Breaker | None = None,
        *,
        per_host: BreakerFactory | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        failure_statuses: Container[int] = DEFAULT_FAILURE_STATUSES,
    ) -> None:
        super().__init__("AsyncBreakerTransport", breaker, per_host, failure_statuses)
        self.transport = httpx.AsyncHTTPTransport() if transport is None else transport

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        permit = self._breaker_of(request.url).acquire()
        try:
            response = await self.transport.handle_async_request(request)
        except BaseException as exc:
            # asyncio.CancelledError is a BaseException: record_exception abandons it.
            record_error(permit, exc, caller_error=isinstance(exc, _CALLER_ERRORS))
            raise
        self._record(permit, response)
        return response

    async def aclose(self) -> None:
        await self.transport.aclose()
