"""An unreachable host fails fast and says which host and why (issue 11, point 10)."""

from __future__ import annotations

import socket

from conftest import HerokuWorld
from runner import run_action


def test_a_host_that_does_not_exist_is_named_with_the_cause(heroku: HerokuWorld):
    run = run_action(heroku.inputs(heroku_api_url="https://api.no-such-host.invalid"))
    assert run.exit_code == 1, run.stdout
    (line,) = run.error_lines()
    assert "cannot reach api.no-such-host.invalid: DNS lookup failed (no such host)" in line
    assert "Nothing was changed" in run.summary


def test_a_refused_connection_is_named_with_the_cause(heroku: HerokuWorld):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    run = run_action(heroku.inputs(heroku_api_url=f"http://127.0.0.1:{port}", timeout="3s"))
    assert run.exit_code == 1, run.stdout
    assert "cannot reach 127.0.0.1: connection refused" in run.error_lines()[0]


def test_an_unresolvable_connect_host_fails_at_once_naming_it(heroku: HerokuWorld):
    """It was retried for 15 minutes in silence (issue 11, point 10)."""
    run = run_action(
        {
            "operation": "connect-check",
            "heroku-api-key": heroku.token,
            "connect-api-url": "https://hc-central.no-such-host.invalid",
            "target-apps": "shop-prod-eu",
            "timeout": "15m",
        }
    )
    assert run.exit_code == 1, run.stdout
    line = run.error_lines()[0]
    assert "cannot reach hc-central.no-such-host.invalid: DNS lookup failed" in line
