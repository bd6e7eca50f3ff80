"""`python -m promote_sandbox.fixed`: the demo sandbox with a key and address chosen by
the caller, as the self-test workflow runs it for the action's container."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading

import httpx

from promote_sandbox import Sandbox
from promote_sandbox.fixed import TOKEN_VARIABLE, fixed_fixture, serve
from runner import run_action


def _start(*args: str, token: str | None) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != TOKEN_VARIABLE}
    if token is not None:
        env[TOKEN_VARIABLE] = token
    return subprocess.Popen(
        [sys.executable, "-m", "promote_sandbox.fixed", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_the_action_promotes_the_demo_with_the_fixed_key_then_sigterm_stops_it():
    token = "HRKU-" + secrets.token_hex(30)
    sandbox = _start("--host", "127.0.0.2", "--port", "0", token=token)
    try:
        assert sandbox.stdout is not None
        line = sandbox.stdout.readline().strip()
        assert line.startswith("sandbox listening on http://127.0.0.2:"), line
        url = line.removeprefix("sandbox listening on ")
        run = run_action(
            {
                "operation": "slug-copy",
                "heroku-api-key": token,
                "heroku-api-url": url,
                "source-app": "demo-staging",
                "target-apps": "demo-production-eu,demo-production-us",
                "timeout": "1m",
            }
        )
        assert run.exit_code == 0, run.stdout + run.stderr
        assert run.outputs["status"] == "succeeded"
    finally:
        sandbox.send_signal(signal.SIGTERM)
        _, stderr = sandbox.communicate(timeout=10)
    assert sandbox.returncode == 0, stderr
    assert token not in stderr


def test_without_a_key_it_refuses_to_start():
    sandbox = _start(token=None)
    _, stderr = sandbox.communicate(timeout=30)
    assert sandbox.returncode == 2
    assert TOKEN_VARIABLE in stderr


def test_the_fixed_key_reaches_every_demo_app_and_no_other():
    token = "HRKU-" + secrets.token_hex(30)
    with Sandbox() as sb:
        fixture = fixed_fixture(sb, token)
        other = sb.heroku.add_user("someone@example.com")
        sb.heroku.add_app("not-demo", owner_token=other)
        assert fixture["token"] == token
        headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.heroku+json; version=3",
        }
        for app in ["demo-staging", "demo-production-eu", "demo-production-us"]:
            assert httpx.get(f"{sb.url}/apps/{app}", headers=headers).status_code == 200
        assert httpx.get(f"{sb.url}/apps/not-demo", headers=headers).status_code in (403, 404)


def test_serve_announces_its_address_and_returns_once_stopped():
    stopped, lines = threading.Event(), []
    announced = threading.Event()

    def announce(line: str) -> None:
        lines.append(line)
        announced.set()

    thread = threading.Thread(target=serve, args=("127.0.0.1", 0, "HRKU-x", stopped, announce))
    thread.start()
    assert announced.wait(10)
    stopped.set()
    thread.join(10)
    assert not thread.is_alive()
    assert lines[0].startswith("sandbox listening on http://127.0.0.1:")
