"""A `requests` transport adapter that sends every request through a circuit breaker.

>>> import failgate, requests
>>> from failgate.requests import BreakerAdapter
>>> session = requests.Session()
>>> adapter = BreakerAdapter(failgate.CircuitBreaker(name="api", consecutive_failures=3))
>>> session.mount("https://", adapter)
>>> session.mount("http://", adapter)

Or one breaker per ``scheme://host:port``, made on first use::

    BreakerAdapter(per_host=lambda origin: failgate.CircuitBreaker(name=origin))

What counts (as in the Rust core's ``HttpClassifier``):

- a response whose status is in ``failure_statuses`` (default: 500-599) is a failure;
  any other response (404, 400, and 429 unless you add it) is a success;
- a connection error, a timeout or any other error from the transport is a failure,
  unless the breaker's own ``exclude`` / ``classify`` says otherwise; a malformed URL
  or unsupported scheme (requests' `ValueError` subclasses) is the caller's mistake and
  counts for nothing;
- a ``Retry-After`` (seconds or an HTTP-date) on a 503 or 429 goes to the breaker with
  the outcome; a breaker built with ``honor_retry_after=True`` then stays open at least
  that long (up to its ``max_retry_after``);
- a `KeyboardInterrupt` during the request abandons the permit.

A refused request raises `failgate.CircuitOpenError` and nothing is sent. The outcome is
known when the response's headers arrive: reading the body (``stream=True``) happens
after, outside the breaker. urllib3's retries (``max_retries=``) happen inside one call.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

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

__all__ = ["DEFAULT_FAILURE_STATUSES", "BreakerAdapter"]


class BreakerAdapter(HTTPAdapter):
    """An `HTTPAdapter` whose requests go through ``breaker``, or through the breaker
    that ``per_host(origin)`` made for the request's ``scheme://host:port`` (called
    once per origin and cached; thread-safe). Give exactly one of the two.

    ``failure_statuses`` is any container of ints (a set, a range) of the statuses that
    count as failures: ``{429, *range(500, 600)}`` also counts rate limiting.
    ``adapter_kwargs`` go to `HTTPAdapter` (``pool_connections``, ``max_retries``...).
    """

    def __init__(
        self,
        breaker: Breaker | None = None,
        *,
        per_host: BreakerFactory | None = None,
        failure_statuses: Container[int] = DEFAULT_FAILURE_STATUSES,
        **adapter_kwargs: Any,
    ) -> None:
        self._router = BreakerRouter("BreakerAdapter", breaker, per_host)
        self.failure_statuses = check_statuses("BreakerAdapter", failure_statuses)
        super().__init__(**adapter_kwargs)

    def breaker_for(self, url: str) -> Breaker:
        """The breaker that serves requests to ``url`` (made now for a new host)."""
        # A shared breaker needs no origin: skip splitting the URL on every request.
        shared = self._router.shared
        return shared if shared is not None else self._router.get(_origin_of(url))

    @property
    def breakers(self) -> dict[str, Breaker]:
        """The per-host breakers made so far, by origin (empty with one shared)."""
        return self._router.snapshot()

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        url = request.url
        if url is None:  # requests' own send would fail too; let it say how
            return super().send(request, stream, timeout, verify, cert, proxies)
        # acquire() raises CircuitOpenError when refused: before any byte is sent.
        permit = self.breaker_for(url).acquire()
        try:
            response = super().send(request, stream, timeout, verify, cert, proxies)
        except BaseException as exc:
            # requests' caller errors (InvalidURL, InvalidSchema, InvalidHeader...) are
            # ValueErrors; its transport errors (ConnectionError, Timeout) are not.
            record_error(permit, exc, caller_error=isinstance(exc, ValueError))
            raise
        record_response(
            permit,
            response.status_code,
            response.headers,
            self.failure_statuses,
        )
        return response


def _origin_of(url: str) -> str:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        # A URL requests' own checks let through but urllib cannot split (or a port out
        # of range): key on its text, and let the transport refuse it.
        return url.lower()
    return origin(parts.scheme, parts.hostname or "", port)
