"""Release-phase output: 404 until it starts, lines as they happen, closed when terminal."""

from __future__ import annotations

import time

import httpx
import pytest

from promote_sandbox import Sandbox

LINES = ["Running migrations", "Migrating 20261123_add_orders", "done"]
PENDING = 0.45
DELAY = 0.15


@pytest.fixture
def stream_url(sandbox: Sandbox, api: httpx.Client, world) -> tuple[str, str]:
    sandbox.heroku.set_release_behaviour(
        "prod-app", pending_seconds=PENDING, release_phase_lines=LINES, stream_delay_seconds=DELAY
    )
    created = api.post("/apps/prod-app/releases", json={"slug": world.staging_slugs[2]}).json()
    return created["output_stream_url"], created["id"]


def test_stream_is_404_then_lines_then_closes_when_release_is_terminal(
    http: httpx.Client, sandbox: Sandbox, api: httpx.Client, world
) -> None:
    sandbox.heroku.set_release_behaviour(
        "prod-app", pending_seconds=PENDING, release_phase_lines=LINES, stream_delay_seconds=DELAY
    )
    posted = time.monotonic()
    created = api.post("/apps/prod-app/releases", json={"slug": world.staging_slugs[2]}).json()
    answered = time.monotonic()
    early = http.get(created["output_stream_url"])
    assert early.status_code == 404
    assert early.headers["Content-Type"].startswith("text/plain")
    time.sleep(max(0.0, answered + DELAY - time.monotonic()))
    arrivals = []
    with http.stream("GET", created["output_stream_url"]) as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert response.headers["Transfer-Encoding"] == "chunked"
        arrivals = [(time.monotonic() - posted, line) for line in response.iter_lines()]
    closed = time.monotonic() - posted
    assert [line for _, line in arrivals] == LINES
    # Lines are spread over [DELAY, PENDING): due at 0.15, 0.25 and 0.35 s after creation, so
    # they arrive apart (streamed, not in one piece at the end) and the stream closes when the
    # release phase ends. Lower bounds only: a busy machine can make anything late.
    assert arrivals[-1][0] - arrivals[0][0] >= 0.1
    assert arrivals[-1][0] >= 0.35
    assert closed >= PENDING
    release = api.get(f"/apps/prod-app/releases/{created['id']}").json()
    assert release["status"] == "succeeded"


def test_stream_resumes_from_a_byte_offset(
    http: httpx.Client, api: httpx.Client, stream_url: tuple[str, str], settle
) -> None:
    url, release_id = stream_url
    settle(api, "prod-app", release_id)
    full = http.get(url)
    assert full.status_code == 200
    assert full.text == "".join(f"{line}\n" for line in LINES)
    offset = len(LINES[0]) + 4
    resumed = http.get(url, headers={"Range": f"bytes={offset}-"})
    assert resumed.status_code == 206
    assert resumed.content == full.content[offset:]
    beyond = http.get(url, headers={"Range": f"bytes={len(full.content)}-"})
    assert beyond.status_code == 416


def test_failed_release_phase_ends_with_the_failure(
    http: httpx.Client, sandbox: Sandbox, api: httpx.Client, world
) -> None:
    sandbox.heroku.set_release_behaviour(
        "prod-app",
        pending_seconds=0.1,
        outcome="failed",
        release_phase_lines=["Running migrations"],
        stream_delay_seconds=0,
    )
    created = api.post("/apps/prod-app/releases", json={"slug": world.staging_slugs[2]}).json()
    lines = http.get(created["output_stream_url"]).text.splitlines()
    assert lines[0] == "Running migrations"
    assert "release command failed" in lines[-1]
    assert api.get(f"/apps/prod-app/releases/{created['id']}").json()["status"] == "failed"


def test_stream_needs_no_credentials_and_no_rate_limit_tokens(
    http: httpx.Client, sandbox: Sandbox, stream_url: tuple[str, str]
) -> None:
    sandbox.heroku.set_rate_limit(capacity=0, refill_per_second=0)
    time.sleep(0.16)
    assert http.get(stream_url[0]).status_code == 200


def test_unknown_stream_is_404(http: httpx.Client, sandbox: Sandbox) -> None:
    assert http.get(f"{sandbox.url}/streams/{'0' * 64}").status_code == 404
