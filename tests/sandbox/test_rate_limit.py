"""Per-account token bucket: RateLimit-Remaining, 429 rate_limit when empty, free rate-limits."""

from __future__ import annotations

import time

import httpx

from promote_sandbox import Sandbox

ACCEPT = "application/vnd.heroku+json; version=3"


def test_each_call_takes_one_token_and_rate_limits_is_free(api: httpx.Client) -> None:
    remaining = [int(api.get("/account").headers["RateLimit-Remaining"]) for _ in range(3)]
    assert remaining == [4499, 4498, 4497]  # the refill between calls is well under a token
    for _ in range(3):
        info = api.get("/account/rate-limits")
        assert info.status_code == 200
        assert info.json()["remaining"] == int(info.headers["RateLimit-Remaining"])
        assert info.json()["remaining"] >= remaining[-1]


def test_empty_bucket_answers_429_until_refilled(sandbox: Sandbox, api: httpx.Client) -> None:
    sandbox.heroku.set_rate_limit(capacity=3, refill_per_second=0, retry_after="30")
    statuses = [api.get("/apps/staging-app").status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    limited = api.get("/apps/staging-app")
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "30"
    assert limited.headers["RateLimit-Remaining"] == "0"
    assert limited.json() == {
        "id": "rate_limit",
        "message": "Your account reached the API rate limit\n"
        "Please wait a few minutes before making new requests",
        "url": "https://devcenter.heroku.com/articles/platform-api-reference#rate-limits",
    }
    assert api.get("/account/rate-limits").json() == {"remaining": 0}


def test_bucket_refills_over_time(sandbox: Sandbox, api: httpx.Client) -> None:
    sandbox.heroku.set_rate_limit(capacity=1, refill_per_second=20)
    assert api.get("/account").status_code == 200
    assert api.get("/account").status_code == 429
    time.sleep(0.06)
    assert api.get("/account").status_code == 200


def test_buckets_are_per_account(
    http: httpx.Client, sandbox: Sandbox, api: httpx.Client, world
) -> None:
    sandbox.heroku.set_rate_limit(capacity=1, refill_per_second=0)
    assert api.get("/account").status_code == 200
    assert api.get("/account").status_code == 429
    headers = {"Accept": ACCEPT, "Authorization": f"Bearer {world.other_token}"}
    assert http.get(f"{sandbox.url}/account", headers=headers).status_code == 200
