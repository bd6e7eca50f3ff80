"""The one HTTP layer every platform client shares: timeouts, safe retries, rate-limit pacing.

Platform clients speak in requests and decoded JSON; how long to wait, when a retry is safe and
how to slow down for a shared rate limit are decided here once. The layer never logs headers or
query strings, and it attaches credentials only to requests for its own base URL, so a
capability URL returned by the platform (a release output stream) never receives our token.
"""

from __future__ import annotations

import email.utils
import logging
import random
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import certifi
import httpx

from promote_action.errors import (
    AmbiguousWriteError,
    Cancelled,
    CancelledWrite,
    RemoteError,
    TransportError,
    WaitTimeout,
)
from promote_action.waiting import CancelToken, Deadline

log = logging.getLogger("promote_action.http")
T = TypeVar("T")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CANCEL_CHECK_SECONDS = 0.1
"""How often a request in flight looks at the cancel token: abandoned well within 2 s."""
RETRY_STATUSES = frozenset({429, 502, 503, 504})

ErrorDecoder = Callable[[httpx.Response], tuple[str, str]]
"""Turns an error response into (platform error code, message)."""

RejectionCheck = Callable[[httpx.Response, str], bool]
"""True when the platform refused a request before acting on it (given the decoded code)."""


def _only_rate_limited(response: httpx.Response, code: str) -> bool:
    return response.status_code == 429


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter; Retry-After wins when the server sends one."""

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 20.0
    low_water: int = 100
    """Below this many remaining rate-limit tokens, requests are paced to the refill rate."""
    paced_interval: float = 0.8
    """Seconds between requests with an empty bucket: Heroku refills about 75 tokens a minute."""
    unreachable_budget: float = 30.0
    """Seconds a host may stay unreachable (DNS, refused, TLS, connect timeout), across all
    requests of the client, before the run gives up on it: a host that is down is not waited
    for in silence until the deadline."""

    def backoff(self, attempt: int, response: httpx.Response | None) -> float:
        if response is not None:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if retry_after is not None:
                return min(retry_after, 300.0)
        ceiling = min(self.max_delay, self.base_delay * 2**attempt)
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not cryptography


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After is either delta-seconds or an HTTP date (RFC 9110 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


@dataclass
class HttpClient:
    """A platform's HTTP session. Thread-safe: targets are followed from several threads."""

    platform: str
    base_url: str
    deadline: Deadline
    cancel: CancelToken
    decode_error: ErrorDecoder
    auth_headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    default_headers: Mapping[str, str] = field(default_factory=dict)
    is_rejection: RejectionCheck = _only_rate_limited
    rate_limit_header: str | None = None
    warning_headers: tuple[str, ...] = ()
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: httpx.Timeout = field(
        default_factory=lambda: httpx.Timeout(connect=10.0, read=30.0, write=30.0, pool=10.0)
    )
    transport: httpx.BaseTransport | None = None
    verify: ssl.SSLContext | bool = True

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        self._client = httpx.Client(
            timeout=self.timeout,
            transport=self.transport,
            verify=self.verify,
            follow_redirects=False,
            trust_env=True,
        )
        self._lock = threading.Lock()
        self._remaining: int | None = None
        self._unreachable_since: float | None = None
        self._gave_up = False
        """The unreachable budget is spent: later requests fail at their first connection
        failure, until one gets an answer."""
        self.requests_sent = 0

    def close(self) -> None:
        self._client.close()

    # -- requests -----------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        safe: bool | None = None,
        ok_statuses: frozenset[int] = frozenset(),
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
    ) -> httpx.Response:
        """Send a request and return a 2xx response (or one listed in `ok_statuses`).

        `safe` marks a request that may be repeated freely; it defaults to the method being a
        read; `files` sends a multipart/form-data upload instead of JSON. An unsafe request is
        repeated only when the server certainly did not act on it
        (connection refused, a rejection such as 429); any other failure after sending raises
        AmbiguousWriteError so the caller re-reads state instead of writing twice.
        """
        repeatable = method in SAFE_METHODS if safe is None else safe
        label = f"{method} {self._describe(path)}"
        attempt = 0
        while True:
            self._pace()
            self.cancel.raise_if_cancelled()
            try:
                response = self._send(
                    method, path, json=json, params=params, headers=headers, files=files
                )
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                # Nothing reached the server: repeating is safe even for a write.
                self._unreachable(attempt, label, path, exc)
            except httpx.TransportError as exc:
                if not repeatable:
                    raise AmbiguousWriteError(label, f"{type(exc).__name__}") from None
                self._retry_or_raise(
                    attempt, None, label, f"connection failed ({type(exc).__name__})"
                )
            else:
                with self._lock:
                    self._unreachable_since, self._gave_up = None, False
                if response.is_success or response.status_code in ok_statuses:
                    return response
                code, message = self.decode_error(response)
                refused = self.is_rejection(response, code)
                retryable = response.status_code in RETRY_STATUSES or refused
                if not repeatable and response.status_code >= 500 and not refused:
                    # A server error after the request arrived: it may have been acted on.
                    raise AmbiguousWriteError(label, f"HTTP {response.status_code} {code}")
                delay = self._next_delay(attempt, response) if retryable else None
                if delay is None:
                    raise RemoteError(
                        self.platform,
                        status=response.status_code,
                        code=code,
                        message=message,
                        request=label,
                        request_id=response.headers.get("Request-Id")
                        or response.headers.get("X-Request-Id"),
                    )
                log.info(
                    "%s: HTTP %s %s, retrying in %.1fs", label, response.status_code, code, delay
                )
                self.cancel.sleep(delay)
            attempt += 1

    def get_json(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs).json()

    @contextmanager
    def stream(
        self, url: str, headers: Mapping[str, str] | None = None
    ) -> Iterator[httpx.Response]:
        """Open a long-lived read of a capability URL (a release output stream).

        The URL itself is the secret: it gets no credentials of ours and is never logged, even
        when it lives on the API host. Not retried here: callers resume by Range.
        """
        self.cancel.raise_if_cancelled()
        with self._lock:
            self.requests_sent += 1
        request_headers = {**self.default_headers, **(headers or {})}
        with self._client.stream("GET", url, headers=request_headers) as response:
            log.debug("GET <capability URL> -> %s", response.status_code)
            yield response

    # -- internals ----------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        json: Any,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
    ) -> httpx.Response:
        request_headers = dict(self._headers_for(path))
        request_headers.update(headers or {})
        with self._lock:
            self.requests_sent += 1
        response = interruptible(
            lambda: self._client.request(
                method,
                self._absolute(path),
                json=json,
                params=params,
                headers=request_headers,
                files=files,
            ),
            self.cancel,
            f"{method} {self._describe(path)}",
            write=method not in SAFE_METHODS,
        )
        log.debug("%s %s -> %s", method, self._describe(path), response.status_code)
        self._observe(response)
        return response

    def _headers_for(self, path: str) -> dict[str, str]:
        headers = dict(self.default_headers)
        if self._is_own(path):
            headers.update(self.auth_headers)
        return headers

    def _is_own(self, path: str) -> bool:
        return not path.startswith(("http://", "https://")) or path.startswith(self.base_url + "/")

    def _absolute(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}{path}"

    def _describe(self, path: str) -> str:
        """What may appear in logs and errors: our own paths, never foreign URLs (secrets)."""
        if not self._is_own(path):
            return "<capability URL>"
        return path.removeprefix(self.base_url)

    def _observe(self, response: httpx.Response) -> None:
        if self.rate_limit_header:
            value = response.headers.get(self.rate_limit_header, "")
            if value.strip().isdigit():
                with self._lock:
                    self._remaining = int(value)
        for name in self.warning_headers:
            if warning := response.headers.get(name):
                log.warning("%s says: %s", self.platform, warning)

    def _pace(self) -> None:
        """Slow down as the shared rate limit drains, instead of running into 429s."""
        with self._lock:
            remaining = self._remaining
        if remaining is None or remaining >= self.policy.low_water:
            return
        shortfall = (self.policy.low_water - remaining) / self.policy.low_water
        self.cancel.sleep(min(self.deadline.remaining(), shortfall * self.policy.paced_interval))

    def _next_delay(self, attempt: int, response: httpx.Response | None) -> float | None:
        """The pause before the next attempt, or None when attempts or the deadline ran out."""
        if attempt + 1 >= self.policy.max_attempts:
            return None
        delay = self.policy.backoff(attempt, response)
        return delay if delay <= self.deadline.remaining() else None

    def _unreachable(self, attempt: int, label: str, path: str, exc: httpx.TransportError) -> None:
        """Retry a request that reached no server, within the client's unreachable budget;
        the error names the host and the cause."""
        host = httpx.URL(self._absolute(path)).host
        reason = f"cannot reach {host}: {connection_cause(exc)}"
        now = time.monotonic()
        with self._lock:
            since = self._unreachable_since = self._unreachable_since or now
            spent = self._gave_up
        # A name that does not exist will not exist in a second either (unlike EAI_AGAIN).
        delay = None if spent or NO_SUCH_HOST in reason else self._next_delay(attempt, None)
        if delay is None or now + delay - since > self.policy.unreachable_budget:
            with self._lock:
                self._gave_up = True
            waited = f" (unreachable for {now - since:.0f}s)" if now - since >= 1 else ""
            raise TransportError(f"{self.platform}: {label} failed: {reason}{waited}") from None
        log.info("%s: %s, retrying in %.1fs", label, reason, delay)
        self.cancel.sleep(delay)

    def _retry_or_raise(
        self, attempt: int, response: httpx.Response | None, label: str, reason: str
    ) -> None:
        delay = self._next_delay(attempt, response)
        if delay is None:
            raise TransportError(f"{self.platform}: {label} failed: {reason}") from None
        log.info("%s: %s, retrying in %.1fs", label, reason, delay)
        self.cancel.sleep(delay)


NO_SUCH_HOST = "DNS lookup failed (no such host)"
_CAUSES: tuple[tuple[type[BaseException], str], ...] = (
    (httpx.ConnectTimeout, "connection timed out"),
    (httpx.PoolTimeout, "connection timed out"),
    (socket.gaierror, "DNS lookup failed"),
    (ConnectionRefusedError, "connection refused"),
    (ssl.SSLError, "TLS handshake failed"),
    (TimeoutError, "connection timed out"),
)
_NO_NAME = frozenset({socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)})
_CAUSE_WORDS = (
    ("name or service not known", NO_SUCH_HOST),
    ("nodename nor servname", NO_SUCH_HOST),
    ("name resolution", "DNS lookup failed"),
    ("connection refused", "connection refused"),
    ("certificate", "TLS handshake failed (certificate)"),
    ("ssl", "TLS handshake failed"),
    ("timed out", "connection timed out"),
)


def connection_cause(exc: BaseException) -> str:
    """Why no connection was made, in the words an operator searches for: DNS, refused, TLS,
    timeout; from the exception chain httpx wraps around the socket error, else its text."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, socket.gaierror) and seen.errno in _NO_NAME:
            return NO_SUCH_HOST
        for kind, cause in _CAUSES:
            if isinstance(seen, kind):
                detail = getattr(seen, "reason", None) if kind is ssl.SSLError else None
                return f"{cause} ({detail})" if detail else cause
        seen = seen.__cause__ or seen.__context__
    text = str(exc).lower()
    fallback = f"connection failed ({type(exc).__name__})"
    return next((cause for words, cause in _CAUSE_WORDS if words in text), fallback)


def interruptible(
    call: Callable[[], T],
    cancel: CancelToken,
    label: str,
    *,
    write: bool = False,
    deadline: Deadline | None = None,
) -> T:
    """Run one blocking request so that a cancellation abandons it at once.

    httpx cannot cancel a request in flight, so it runs in a daemon thread while this one
    watches the cancel token (and `deadline`, for reads as long as a release phase: then
    WaitTimeout): a hanging response never holds a cancelled job past its grace period. An
    abandoned write may still take effect, and the error says so.
    """
    done = threading.Event()
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=work, name="http-request", daemon=True).start()
    while not done.wait(CANCEL_CHECK_SECONDS):
        if cancel.cancelled:
            if write:
                raise CancelledWrite(
                    f"cancelled ({cancel.reason}) during {label}; it may still take effect"
                )
            raise Cancelled(f"cancelled ({cancel.reason}) during {label}")
        if deadline is not None and deadline.expired():
            raise WaitTimeout(f"the deadline passed during {label}")
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value


def tls_context(environ: Mapping[str, str]) -> ssl.SSLContext:
    """The run's one TLS context, trusting what httpx would with `trust_env`: SSL_CERT_FILE or
    SSL_CERT_DIR when set, else certifi's bundle. Built once: each costs tens of milliseconds."""
    cafile = environ.get("SSL_CERT_FILE") or None
    capath = environ.get("SSL_CERT_DIR") or None
    if cafile is None and capath is None:
        cafile = certifi.where()
    return ssl.create_default_context(cafile=cafile, capath=capath)
