"""The request log: arrival order, writes, and no secret in any form of it."""

from __future__ import annotations

import base64
import json

import httpx

from promote_sandbox import LoggedRequest, Sandbox

ACCEPT = "application/vnd.heroku+json; version=3"


def test_log_holds_no_token_and_no_stream_secret(
    http: httpx.Client, sandbox: Sandbox, api: httpx.Client, world
) -> None:
    sandbox.heroku.set_release_behaviour(
        "prod-app", pending_seconds=0.05, release_phase_lines=["ok"], stream_delay_seconds=0
    )
    created = api.post("/apps/prod-app/releases", json={"slug": world.staging_slugs[2]}).json()
    stream_url = created["output_stream_url"]
    secret = stream_url.rsplit("/", 1)[1]
    http.get(stream_url)
    basic = base64.b64encode(f"ops@example.com:{world.token}".encode()).decode()
    http.get(
        f"{sandbox.url}/account", headers={"Accept": ACCEPT, "Authorization": f"Basic {basic}"}
    )
    api.get("/account", params={"api_key": world.token}, headers={"X-Cybozu-API-Token": "kintone"})
    api.post("/apps/prod-app/releases", json={"slug": world.staging_slugs[2], "note": world.token})
    api.get("/account", headers={"Authorization": "Bearer HRKU-never-issued-anywhere"})

    text = sandbox.request_log_text()
    served = http.get(f"{sandbox.url}/__sandbox__/requests").text
    for leak in [world.token, secret, basic, "kintone", "HRKU-never-issued-anywhere"]:
        assert leak not in text
        assert leak not in served
    assert "GET /streams/[REDACTED]" in text
    assert len(text.splitlines()) == len(sandbox.requests) == 6
    assert sandbox.requests[3].query == "api_key=[REDACTED]"
    assert sandbox.requests[4].body == {"slug": world.staging_slugs[2], "note": "[REDACTED]"}


def test_log_keeps_arrival_order_and_http_view_matches(
    http: httpx.Client, sandbox: Sandbox, api: httpx.Client
) -> None:
    api.get("/account")
    api.get("/apps/no-such-app")
    api.get("/apps/staging-app/releases", params={"x": "1"})
    assert [(r.method, r.path, r.query, r.status, r.service) for r in sandbox.requests] == [
        ("GET", "/account", "", 200, "heroku"),
        ("GET", "/apps/no-such-app", "", 404, "heroku"),
        ("GET", "/apps/staging-app/releases", "x=1", 200, "heroku"),
    ]
    served = http.get(f"{sandbox.url}/__sandbox__/requests").json()
    assert [LoggedRequest(**entry) for entry in served] == sandbox.requests
    assert len(sandbox.requests) == 3, "the log view is not logged itself"
    sandbox.clear_requests()
    assert sandbox.requests == []


def test_writes_exclude_reads_and_method_overridden_posts(
    sandbox: Sandbox, api: httpx.Client, world
) -> None:
    api.get("/account")
    api.post("/apps/prod-app/releases", json={"slug": world.staging_slugs[2]})
    api.post("/apps/prod-app/releases", json={}, headers={"X-HTTP-Method-Override": "GET"})
    api.options("/account")
    writes = sandbox.writes()
    assert [(w.method, w.status) for w in writes] == [("POST", 201)]
    assert writes[0].body == {"slug": world.staging_slugs[2]}
    assert json.loads(writes[0].line().split(" body=", 1)[1]) == writes[0].body


def test_promotion_releases_stream_secrets_are_scrubbed_too(
    http: httpx.Client, sandbox: Sandbox, api: httpx.Client, pipeline, finish
) -> None:
    """A promotion's releases are written lazily; their stream secrets must still be known to
    the log's scrubber by the time anyone can learn them."""
    sandbox.heroku.set_release_behaviour(
        "prod-app", pending_seconds=0.05, release_phase_lines=["ok"], stream_delay_seconds=0
    )
    body = {
        "pipeline": {"id": pipeline.pipeline_id},
        "source": {"app": {"id": pipeline.ids["staging-app"]}},
        "targets": [{"app": {"id": pipeline.ids["prod-app"]}}],
    }
    promotion = api.post("/pipeline-promotions", json=body).json()
    (target,) = finish(api, promotion["id"])
    release = api.get(f"/apps/prod-app/releases/{target['release']['id']}").json()
    secret = release["output_stream_url"].rsplit("/", 1)[1]
    assert http.get(release["output_stream_url"]).text == "ok\n"
    text = sandbox.request_log_text()
    assert secret not in text
    assert "HRKU-" not in text
    assert "GET /streams/[REDACTED]" in text
    assert sandbox.writes()[0].body == body
