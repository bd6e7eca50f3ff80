"""Fault injection: scripted 5xx/429 answers, slow answers and lost responses."""

from __future__ import annotations

import concurrent.futures
import re
import time
from typing import Any

import httpx
import pytest

from promote_sandbox import Fault, Sandbox


def test_every_third_matching_request_gets_503(sandbox: Sandbox, api: httpx.Client) -> None:
    sandbox.add_fault(Fault(match=r"^GET /account$", status=503, every=3))
    statuses = [api.get("/account").status_code for _ in range(9)]
    assert statuses == [200, 200, 503] * 3
    failed = api.get("/apps/staging-app")  # not matching: does not count
    assert failed.status_code == 200
    body = api.get("/account")
    assert body.status_code == 200
    assert [r.status for r in sandbox.requests if r.path == "/account"] == [*statuses, 200]


def test_fault_body_follows_heroku_error_shape(sandbox: Sandbox, api: httpx.Client) -> None:
    sandbox.add_fault(Fault(status=503, times=1))
    sandbox.add_fault(Fault(status=503, error_id="unavailable", message="API is down", times=1))
    first = api.get("/account")
    assert first.json() == {"id": "unavailable", "message": "Service Unavailable."}
    assert first.headers["Request-Id"]
    second = api.get("/account")
    assert second.json() == {"id": "unavailable", "message": "API is down"}
    assert api.get("/account").status_code == 200


def test_429_burst_with_retry_after_then_recovery(sandbox: Sandbox, api: httpx.Client) -> None:
    sandbox.add_fault(
        Fault(
            match="/releases",
            status=429,
            error_id="rate_limit",
            message="Your account reached the API rate limit",
            retry_after="7",
            times=2,
        )
    )
    responses = [api.get("/apps/staging-app/releases") for _ in range(3)]
    assert [r.status_code for r in responses] == [429, 429, 200]
    assert [r.headers.get("Retry-After") for r in responses] == ["7", "7", None]
    assert responses[0].json()["id"] == "rate_limit"


def test_slow_response(sandbox: Sandbox, api: httpx.Client) -> None:
    sandbox.add_fault(Fault(match="GET /account", delay_seconds=0.3, times=1))
    started = time.monotonic()
    assert api.get("/account").status_code == 200
    assert time.monotonic() - started >= 0.3
    sandbox.add_fault(Fault(match="GET /account", delay_seconds=0.3, times=1))
    with pytest.raises(httpx.ReadTimeout):
        api.get("/account", timeout=0.1)


def test_a_slowed_request_is_in_flight_until_answered(sandbox: Sandbox, api: httpx.Client) -> None:
    sandbox.add_fault(Fault(match="GET /account", delay_seconds=0.3, times=1))
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        answer = pool.submit(api.get, "/account")
        deadline = time.monotonic() + 3
        while not sandbox.requests_in_flight():
            assert time.monotonic() < deadline, "the request never arrived"
            time.sleep(0.01)
        (waiting,) = sandbox.requests_in_flight()
        assert (waiting.method, waiting.path, waiting.status) == ("GET", "/account", 0)
        assert sandbox.requests == []
        assert answer.result().status_code == 200
    assert sandbox.requests_in_flight() == []
    assert [r.status for r in sandbox.requests] == [200]


def test_dropped_post_is_processed_but_never_answered(
    sandbox: Sandbox, api: httpx.Client, world
) -> None:
    sandbox.add_fault(Fault(match=r"^POST /apps/prod-app/releases$", drop_response=True, times=1))
    with pytest.raises(httpx.RemoteProtocolError):
        api.post("/apps/prod-app/releases", json={"slug": world.staging_slugs[2]})
    releases = sandbox.heroku.releases("prod-app")
    assert len(releases) == 2
    assert releases[-1].slug_id == world.staging_slugs[2]
    (write,) = sandbox.writes()
    assert write.status == 0
    assert api.get("/apps/prod-app/releases").status_code == 200


def test_status_and_drop_together_lose_the_request(
    sandbox: Sandbox, api: httpx.Client, world
) -> None:
    sandbox.add_fault(Fault(match="POST", status=503, drop_response=True, times=1))
    with pytest.raises(httpx.RemoteProtocolError):
        api.post("/apps/prod-app/releases", json={"slug": world.staging_slugs[2]})
    assert len(sandbox.heroku.releases("prod-app")) == 1


def test_control_routes_are_never_faulted(http: httpx.Client, sandbox: Sandbox) -> None:
    sandbox.add_fault(Fault(status=500))
    response = http.get(f"{sandbox.url}/__sandbox__/requests")
    assert response.status_code == 200
    assert response.json() == []
    sandbox.clear_faults()


@pytest.mark.parametrize("bad", [{"every": 0}, {"times": -1}, {"status": 999}, {"match": "("}])
def test_fault_rejects_nonsense(bad: dict[str, Any]) -> None:
    with pytest.raises((ValueError, re.error)):
        Fault(**bad)


def test_a_hung_response_comes_only_when_released(sandbox: Sandbox, api: httpx.Client) -> None:
    sandbox.add_fault(Fault(match=r"^GET /account$", hang=True, times=1))
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pending = pool.submit(api.get, "/account")
        deadline = time.monotonic() + 3
        while not sandbox.requests_in_flight():
            assert time.monotonic() < deadline, "the request never arrived"
            time.sleep(0.01)
        assert not pending.done()
        assert [r.path for r in sandbox.requests_in_flight()] == ["/account"]
        sandbox.release_hung()
        assert pending.result(timeout=10).status_code == 200
    assert api.get("/account").status_code == 200
