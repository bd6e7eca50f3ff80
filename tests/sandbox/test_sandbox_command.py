"""`promote-sandbox` (`python -m promote_sandbox`): help, the announced variables, the seeded
state, stopping on SIGINT/SIGTERM."""

from __future__ import annotations

import base64
import os
import secrets
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from promote_sandbox import Sandbox, full_demo_fixture
from promote_sandbox.command import TOKEN_VARIABLE

ROOT = Path(__file__).resolve().parents[2]
ANNOUNCED = [
    "HEROKU_API_URL",
    "HEROKU_API_KEY",
    "KINTONE_BASE_URL",
    "KINTONE_USERNAME",
    "KINTONE_PASSWORD",
    "CONNECT_API_URL",
    "GITHUB_API_URL",
    "GITHUB_TOKEN",
    "GITHUB_REPOSITORY",
    "GITHUB_SHA",
]


def start_sandbox(*args: str, token: str | None = None) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != TOKEN_VARIABLE}
    if token is not None:
        env[TOKEN_VARIABLE] = token
    return subprocess.Popen(
        [sys.executable, "-m", "promote_sandbox", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def read_exports(process: subprocess.Popen[str]) -> dict[str, str]:
    """The `export KEY=value` lines, parsed as a shell would."""
    assert process.stdout is not None
    exported = {}
    while len(exported) < len(ANNOUNCED):
        line = process.stdout.readline()
        assert line, process.stderr.read() if process.stderr else ""
        words = shlex.split(line)
        assert words[:1] == ["export"], line
        assert len(words) == 2, line
        key, _, value = words[1].partition("=")
        exported[key] = value
    return exported


def test_help_prints_usage_and_exits_without_serving() -> None:
    completed = subprocess.run(
        [ROOT / ".venv/bin/promote-sandbox", "--help"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    for flag in ("--host", "--port", "--token", TOKEN_VARIABLE):
        assert flag in completed.stdout
    assert "listening" not in completed.stdout + completed.stderr


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_it_announces_every_variable_and_stops_cleanly(stop: signal.Signals) -> None:
    token = "HRKU-" + secrets.token_hex(30)
    process = start_sandbox("--host", "127.0.0.2", token=token)
    try:
        exported = read_exports(process)
        assert list(exported) == ANNOUNCED
        url = exported["HEROKU_API_URL"]
        assert url.startswith("http://127.0.0.2:")
        assert exported["HEROKU_API_KEY"] == exported["KINTONE_PASSWORD"] == token
        assert exported["GITHUB_TOKEN"] == token
        assert exported["KINTONE_BASE_URL"] == url
        assert exported["CONNECT_API_URL"] == f"{url}/connect"
        assert exported["GITHUB_API_URL"] == f"{url}/github"
        assert exported["GITHUB_REPOSITORY"] == "acme/shop"
        heroku = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.heroku+json; version=3",
        }
        assert httpx.get(f"{url}/pipelines/demo", headers=heroku).json()["name"] == "demo"
    finally:
        process.send_signal(stop)
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0, stderr
    assert stderr.startswith(f"sandbox listening on {url}\n"), stderr


def test_the_token_flag_wins_and_without_any_the_token_is_random() -> None:
    chosen = start_sandbox("--token", "HRKU-chosen", token="HRKU-from-env")
    random_one = start_sandbox()
    try:
        assert read_exports(chosen)["HEROKU_API_KEY"] == "HRKU-chosen"
        generated = read_exports(random_one)["HEROKU_API_KEY"]
        assert generated.startswith("HRKU-")
        assert len(generated) > 40
    finally:
        for process in (chosen, random_one):
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=10)


def test_the_token_reaches_every_seeded_thing_and_nothing_else() -> None:
    token = "HRKU-" + secrets.token_hex(30)
    with Sandbox() as sb:
        full_demo_fixture(sb, token)
        other = sb.heroku.add_user("someone@example.com")
        sb.heroku.add_app("not-demo", owner_token=other)
        headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.heroku+json; version=3",
        }
        for app in ["demo-staging", "demo-production-eu", "demo-production-us"]:
            assert httpx.get(f"{sb.url}/apps/{app}", headers=headers).status_code == 200
        assert httpx.get(f"{sb.url}/apps/not-demo", headers=headers).status_code in (403, 404)
        pipeline = httpx.get(f"{sb.url}/pipelines/demo", headers=headers).json()["id"]
        couplings = httpx.get(f"{sb.url}/pipelines/{pipeline}/pipeline-couplings", headers=headers)
        names = {
            sb.heroku.app(n).id: n
            for n in ("demo-staging", "demo-production-eu", "demo-production-us")
        }
        assert sorted((names[c["app"]["id"]], c["stage"]) for c in couplings.json()) == [
            ("demo-production-eu", "production"),
            ("demo-production-us", "production"),
            ("demo-staging", "staging"),
        ]
        kintone = httpx.get(
            f"{sb.url}/k/v1/apps.json",
            headers={"X-Cybozu-Authorization": base64.b64encode(f"demo:{token}".encode()).decode()},
        )
        assert [app["appId"] for app in kintone.json()["apps"]] == ["1", "2", "3"]
        repo = httpx.get(
            f"{sb.url}/github/repos/acme/shop", headers={"Authorization": f"Bearer {token}"}
        )
        assert repo.status_code == 200
