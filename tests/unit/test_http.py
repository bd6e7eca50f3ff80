"""The shared HTTP layer: which failures are retried, and that a write is never repeated blindly."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from promote_action.errors import AmbiguousWriteError, Cancelled, RemoteError, TransportError
from promote_action.heroku.client import decode_heroku_error
from promote_action.http import HttpClient, RetryPolicy, parse_retry_after
from promote_action.waiting import CancelToken, Deadline

FAST = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.02)


def client(handler, *, deadline: float = 10, policy: RetryPolicy = FAST, cancel=None) -> HttpClient:
    return HttpClient(
        platform="Heroku",
        base_url="https://api.example.test",
        deadline=Deadline(deadline),
        cancel=cancel or CancelToken(),
        decode_error=decode_heroku_error,
        auth_headers={"Authorization": "Bearer SECRET"},
        rate_limit_header="RateLimit-Remaining",
        policy=policy,
        transport=httpx.MockTransport(handler),
    )


def sequence(*responses):
    """A handler answering with the given responses in turn, recording the requests."""
    seen: list[httpx.Request] = []
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        item = queue.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    return handler, seen


def error(status: int, error_id: str, **headers: str) -> httpx.Response:
    return httpx.Response(
        status, json={"id": error_id, "message": f"{error_id} happened"}, headers=headers
    )


def test_get_is_retried_on_503_and_429_then_succeeds():
    handler, seen = sequence(
        error(503, "unavailable"), error(429, "rate_limit"), httpx.Response(200, json={"ok": 1})
    )
    assert client(handler).get_json("/apps/x") == {"ok": 1}
    assert len(seen) == 3


def test_get_gives_up_after_max_attempts_with_the_platform_error_id():
    handler, seen = sequence(*[error(503, "unavailable")] * 4)
    with pytest.raises(RemoteError) as caught:
        client(handler).get_json("/apps/x")
    assert caught.value.code == "unavailable"
    assert caught.value.status == 503
    assert "unavailable happened" in str(caught.value)
    assert len(seen) == 4


def test_terminal_errors_are_not_retried():
    handler, seen = sequence(error(404, "not_found"))
    with pytest.raises(RemoteError, match="not_found"):
        client(handler).get_json("/apps/x")
    assert len(seen) == 1


def test_post_answered_503_is_ambiguous_and_not_repeated():
    handler, seen = sequence(error(503, "unavailable"))
    with pytest.raises(AmbiguousWriteError):
        client(handler).request("POST", "/apps/x/releases", json={"slug": "s"})
    assert len(seen) == 1


def test_post_with_lost_response_is_ambiguous_and_not_repeated():
    handler, seen = sequence(
        httpx.RemoteProtocolError("Server disconnected without sending a response.")
    )
    with pytest.raises(AmbiguousWriteError):
        client(handler).request("POST", "/apps/x/releases", json={"slug": "s"})
    assert len(seen) == 1


def test_post_rejected_with_429_is_repeated_because_nothing_happened():
    handler, seen = sequence(
        error(429, "rate_limit", **{"Retry-After": "0"}), httpx.Response(201, json={})
    )
    client(handler).request("POST", "/apps/x/releases", json={"slug": "s"})
    assert len(seen) == 2


def test_post_that_never_connected_is_repeated():
    handler, seen = sequence(httpx.ConnectError("refused"), httpx.Response(201, json={}))
    client(handler).request("POST", "/apps/x/releases", json={"slug": "s"})
    assert len(seen) == 2


def test_connection_failures_exhausted_raise_transport_error():
    handler, _ = sequence(*[httpx.ConnectError("[Errno 111] Connection refused")] * 4)
    with pytest.raises(
        TransportError, match=r"cannot reach api\.example\.test: connection refused"
    ):
        client(handler).get_json("/apps/x")


@pytest.mark.parametrize(
    ("failure", "cause"),
    [
        (httpx.ConnectError("[Errno -3] Temporary failure in name resolution"), "DNS lookup"),
        (httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"), "TLS"),
        (httpx.ConnectTimeout("timed out"), "connection timed out"),
        (httpx.ConnectError("[Errno 111] Connection refused"), "connection refused"),
    ],
)
def test_unreachable_host_error_names_host_and_cause(failure, cause):
    handler, seen = sequence(*[failure] * 4)
    with pytest.raises(TransportError) as caught:
        client(handler).get_json("/apps/x")
    assert f"cannot reach api.example.test: {cause}" in str(caught.value)
    assert len(seen) == 4


def test_a_host_that_does_not_exist_is_not_retried():
    handler, seen = sequence(httpx.ConnectError("[Errno -2] Name or service not known"))
    with pytest.raises(TransportError, match="DNS lookup failed \\(no such host\\)"):
        client(handler).get_json("/apps/x")
    assert len(seen) == 1


def test_unreachable_budget_spans_requests_and_bounds_the_retries():
    """A host down for longer than the budget is given up on, also by later requests, however
    many attempts the policy would allow and however far away the deadline is."""
    policy = RetryPolicy(
        max_attempts=10_000, base_delay=0.01, max_delay=0.02, unreachable_budget=0.2
    )
    handler, seen = sequence(*[httpx.ConnectError("[Errno 111] Connection refused")] * 10_000)
    http = client(handler, policy=policy, deadline=3600)
    with pytest.raises(TransportError, match=r"connection refused"):
        http.get_json("/apps/x")
    first = len(seen)
    assert first < 10_000
    with pytest.raises(TransportError, match="connection refused"):
        http.get_json("/apps/y")
    assert len(seen) == first + 1, "the budget is spent: no more retries"


def test_a_success_resets_the_unreachable_budget():
    policy = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.02, unreachable_budget=0.0)
    refused = httpx.ConnectError("[Errno 111] Connection refused")
    handler, seen = sequence(refused, httpx.Response(200, json={}), refused)
    http = client(handler, policy=policy)
    with pytest.raises(TransportError):
        http.get_json("/apps/x")
    assert http.get_json("/apps/x") == {}
    with pytest.raises(TransportError):
        http.get_json("/apps/x")
    assert len(seen) == 3


@pytest.mark.parametrize(
    ("method", "message"),
    [
        ("GET", r"cancelled \(SIGTERM\) during GET /apps/x$"),
        ("POST", r"cancelled \(SIGTERM\) during POST /apps/x; it may still take effect$"),
    ],
)
def test_cancel_abandons_a_request_in_flight(method, message):
    """httpx has no cancel: the request runs in a thread the cancel token does not wait for.
    The cancel comes when the request has arrived (an event), not after a sleep."""
    cancel = CancelToken()
    arrived, release = threading.Event(), threading.Event()

    def hang(request: httpx.Request) -> httpx.Response:
        arrived.set()
        release.wait(30)
        return httpx.Response(200, json={})

    canceller = threading.Thread(target=lambda: arrived.wait(10) and cancel.cancel("SIGTERM"))
    canceller.start()
    try:
        with pytest.raises(Cancelled, match=message):
            client(hang, cancel=cancel).request(method, "/apps/x")
    finally:
        release.set()
        canceller.join()


def test_retry_after_is_honoured():
    handler, seen = sequence(
        error(429, "rate_limit", **{"Retry-After": "1"}), httpx.Response(200, json={})
    )
    started = time.monotonic()
    client(handler).get_json("/apps/x")
    assert time.monotonic() - started >= 0.95
    assert len(seen) == 2


def test_a_retry_that_would_pass_the_deadline_is_not_attempted():
    handler, seen = sequence(
        error(429, "rate_limit", **{"Retry-After": "60"}), httpx.Response(200, json={})
    )
    with pytest.raises(RemoteError, match="rate_limit"):
        client(handler, deadline=2).get_json("/apps/x")
    assert len(seen) == 1


def test_cancellation_interrupts_a_backoff():
    cancel = CancelToken()
    handler, _ = sequence(
        error(429, "rate_limit", **{"Retry-After": "30"}), httpx.Response(200, json={})
    )
    http = client(handler, cancel=cancel)
    cancel.cancel("SIGTERM")
    with pytest.raises(Cancelled):
        http.get_json("/apps/x")


def test_low_rate_limit_remaining_slows_requests_down():
    policy = RetryPolicy(low_water=100, paced_interval=0.5)
    handler, _ = sequence(
        httpx.Response(200, json={}, headers={"RateLimit-Remaining": "0"}),
        httpx.Response(200, json={}, headers={"RateLimit-Remaining": "4000"}),
        httpx.Response(200, json={}, headers={"RateLimit-Remaining": "4000"}),
    )
    cancel = RecordingCancel()
    http = client(handler, policy=policy, cancel=cancel)
    http.get_json("/a")
    http.get_json("/b")
    assert cancel.slept, "an empty bucket must pace the next request"
    assert cancel.slept[0] >= 0.45
    paced = len(cancel.slept)
    http.get_json("/c")
    assert len(cancel.slept) == paced, "a full bucket must not slow requests"


class RecordingCancel(CancelToken):
    """Records the pauses the client takes instead of timing them: no wall-clock race."""

    def __init__(self) -> None:
        super().__init__()
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.slept.append(seconds)


def test_credentials_go_only_to_our_own_api():
    handler, seen = sequence(
        *[httpx.Response(200, json={})] * 2, *[httpx.Response(200, text="log")] * 2
    )
    http = client(handler)
    http.get_json("/apps/x")
    http.get_json("https://elsewhere.example.test/apps/x")
    for url in ("https://streams.example.test/abc?token=t", "https://api.example.test/streams/abc"):
        with http.stream(url) as response:
            response.read()
    assert seen[0].headers["Authorization"] == "Bearer SECRET"
    assert ["Authorization" in r.headers for r in seen[1:]] == [False, False, False]


def test_errors_never_show_foreign_urls():
    handler, _ = sequence(*[error(503, "unavailable")] * 4)
    with pytest.raises(RemoteError) as caught:
        client(handler).get_json("https://other.example.test/secret-token")
    assert "secret-token" not in str(caught.value)


def test_non_json_error_bodies_are_reported_by_status_and_type():
    handler, _ = sequence(
        httpx.Response(404, text="<html>maintenance</html>", headers={"Content-Type": "text/html"})
    )
    with pytest.raises(RemoteError) as caught:
        client(handler).get_json("/apps/x")
    assert caught.value.code == "http_404"
    assert "text/html" in caught.value.message


@pytest.mark.parametrize(
    ("value", "expected"),
    [("3", 3.0), (" 10 ", 10.0), ("", None), (None, None), ("soon", None)],
)
def test_parse_retry_after(value, expected):
    assert parse_retry_after(value) == expected


def test_parse_retry_after_http_date():
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_post_answered_500_is_ambiguous_not_a_refusal():
    """A server error after the request arrived may hide a created release."""
    handler, seen = sequence(error(500, "internal_server_error"))
    with pytest.raises(AmbiguousWriteError):
        client(handler).request("POST", "/apps/x/releases", json={"slug": "s"})
    assert len(seen) == 1
