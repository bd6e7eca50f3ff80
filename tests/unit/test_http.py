"""The shared HTTP layer: which failures are retried, and that a write is never repeated blindly."""

from __future__ import annotations

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
    handler, _ = sequence(*[httpx.ConnectError("refused")] * 4)
    with pytest.raises(TransportError, match="cannot connect"):
        client(handler).get_json("/apps/x")


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
