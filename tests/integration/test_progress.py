"""Every wait says what it waits for, then "still waiting for ... (state, elapsed)": here at
every poll (PROGRESS_EVERY 0), so the lines show without waiting 20 s; the cadence itself is
tested with an injected clock in tests/unit/test_waiting.py; promotions in
test_pipeline_promote.py (whose `world` fixture is another)."""

from __future__ import annotations

import re

import pytest

from conftest import HerokuWorld
from connect_world import ConnectWorld, connect_world_fixture  # noqa: F401 - `world` fixture
from kintone_world import KintoneWorld, kintone_world_fixture  # noqa: F401 - fixture
from runner import run_action


@pytest.fixture(autouse=True)
def progress_at_every_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("promote_action.waiting.PROGRESS_EVERY", 0.0)


def still_waiting(stdout: str, what: str) -> list[str]:
    """The states reported in "still waiting for <what> (<state>, <elapsed>)" lines."""
    pattern = rf"^still waiting for {re.escape(what)} \((.+), [0-9.]+s\)$"
    return re.findall(pattern, stdout, re.M)


def test_a_heroku_release_without_a_log(heroku: HerokuWorld) -> None:
    heroku.sandbox.heroku.set_release_behaviour("shop-prod-eu", pending_seconds=1.0)
    run = run_action(heroku.inputs(target_apps="shop-prod-eu"))
    assert run.exit_code == 0, run.stdout
    assert "waiting for release v2 on shop-prod-eu" in run.stdout.splitlines()
    states = still_waiting(run.stdout, "release v2 on shop-prod-eu")
    assert states, run.stdout
    assert set(states) == {"pending"}


def test_a_kintone_deploy(kintone: KintoneWorld) -> None:
    kintone.sandbox.kintone.set_deploy_behaviour(processing_seconds=1.6)  # polls at 1 s, 1.5 s, 2 s
    run = run_action(kintone.inputs())
    assert run.exit_code == 0, run.stdout
    assert "waiting for the kintone deploy of 3 app(s)" in run.stdout.splitlines()
    assert "PROCESSING" in still_waiting(run.stdout, "the kintone deploy of 3 app(s)"), run.stdout


def test_a_connect_pause(world: ConnectWorld) -> None:
    world.sandbox.connect.set_timing(pause_seconds=3.0, diagnose_polls=1)  # polls at 2 s, 4 s
    run = run_action(world.inputs("connect-pause"))
    assert run.exit_code == 0, run.stdout
    assert "waiting for the connection to be PAUSED" in run.stdout.splitlines()
    states = still_waiting(run.stdout, "the connection to be PAUSED")
    assert states, run.stdout
    assert "PAUSED" not in states
