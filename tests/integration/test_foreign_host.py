"""Credentials reach only the hosts they belong to: a foreign host that records every request
unredacted never sees one (issue 11, point 7, for the channels outside Heroku Connect)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from conftest import HerokuWorld
from promote_action.heroku.client import HerokuClient
from promote_action.waiting import CancelToken, Deadline
from promote_sandbox import ForeignHost
from runner import run_action


@pytest.fixture
def foreign() -> Iterator[ForeignHost]:
    with ForeignHost() as host:
        yield host


def test_the_foreign_host_would_see_a_credential(foreign: ForeignHost):
    """The recorder keeps what it receives, headers unredacted: a leak would show."""
    httpx.get(f"{foreign.url}/x", headers={"Authorization": "Bearer HRKU-leak"})
    assert foreign.received("HRKU-leak")


def test_a_health_check_on_another_host_gets_no_credential(
    heroku: HerokuWorld, foreign: ForeignHost
):
    run = run_action(
        heroku.inputs(
            target_apps="shop-prod-eu",
            health_check="true",
            health_check_url=f"{foreign.url}/{{app}}/health",
            github_token="ghs_secret_token_value",
        ),
        RUNNER_DEBUG="1",
    )
    assert run.exit_code == 0, run.stdout
    assert [r.path for r in foreign.requests] == ["/shop-prod-eu/health"]
    for secret in (heroku.token, "ghs_secret_token_value"):
        assert not foreign.received(secret)
    assert "authorization" not in {k.lower() for r in foreign.requests for k in r.headers}


def test_a_url_the_platform_hands_back_gets_no_credential(
    heroku: HerokuWorld, foreign: ForeignHost
):
    """A capability URL (release output stream) on another host: fetched without our key."""
    client = HerokuClient.connect(
        heroku.sandbox.url, heroku.token, deadline=Deadline(10), cancel=CancelToken()
    )
    try:
        with client.output_stream(f"{foreign.url}/streams/abc", offset=0) as response:
            assert response.status_code == 200
        client.http.request("GET", f"{foreign.url}/apps/x")
    finally:
        client.close()
    assert len(foreign.requests) == 2
    assert not foreign.received(heroku.token)
