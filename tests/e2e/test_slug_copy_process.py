"""slug copy: the entrypoint started as a process, as the runner starts the container
(signals, interleaving with other writers, the CLI outside GitHub)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from conftest import HerokuWorld
from promote_sandbox import Fault
from runner import base_env, finish, parse_github_output, runner_env, start_action


def posts(world: HerokuWorld) -> list:
    return [r for r in world.sandbox.requests if r.method == "POST"]


def wait_for_post(world: HerokuWorld, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not posts(world):
        assert time.monotonic() < deadline, "the action never created a release"
        time.sleep(0.02)


def test_sigterm_stops_waiting_and_reports_what_changed(heroku: HerokuWorld):
    heroku.sandbox.heroku.set_release_behaviour(
        "shop-prod-eu", pending_seconds=60, outcome="succeeded"
    )
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        process = start_action(heroku.inputs(target_apps="shop-prod-eu"), tmp)
        deadline = time.monotonic() + 20
        while not posts(heroku) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        process.send_signal(signal.SIGTERM)
        # A ceiling far below what the action waits for (60 s), not a timing: it stopped
        # because of the signal, and says so below. (No wall-clock race in the assertions.)
        run = finish(process, tmp, timeout=10)
    assert run.exit_code == 130
    assert run.outputs["status"] == "cancelled"
    assert "shop-prod-eu v2 (cancelled)" in run.error_lines()[0]
    assert "🛑 cancelled" in run.summary


def test_a_concurrent_deploy_that_replaces_ours_is_not_reported_green(heroku: HerokuWorld):
    """`succeeded` alone proves nothing: the target must end up running our slug.

    Ours goes live 2 s after its POST; someone else's release, posted right after ours, goes
    live 2.5 s after its own POST and so replaces ours. Once ours is posted, every read of the
    target's releases is answered 4 s late, so whatever the action reads next already shows the
    replacement: no race between the two releases and the action's polls."""
    heroku.sandbox.heroku.set_release_behaviour("shop-prod-eu", pending_seconds=2)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        process = start_action(heroku.inputs(target_apps="shop-prod-eu"), tmp)
        wait_for_post(heroku)
        heroku.sandbox.add_fault(Fault(match=r"^GET /apps/[^/]+/releases", delay_seconds=4))
        heroku.sandbox.heroku.set_release_behaviour("shop-prod-eu", pending_seconds=2.5)
        someone_else = httpx.post(
            f"{heroku.sandbox.url}/apps/shop-prod-eu/releases",
            json={"slug": heroku.old_slug_id, "description": "hotfix by hand"},
            headers={
                "Accept": "application/vnd.heroku+json; version=3",
                "Authorization": f"Bearer {heroku.token}",
            },
        )
        assert someone_else.status_code == 201
        run = finish(process, tmp)
    assert run.exit_code == 1
    assert run.outputs["status"] == "failed"
    assert (
        f"the release succeeded but the app runs v3 with slug {heroku.old_slug_id}"
        in run.error_lines()[0]
    )


def test_sigint_is_handled_like_sigterm(heroku: HerokuWorld):
    heroku.sandbox.heroku.set_release_behaviour("shop-prod-eu", pending_seconds=60)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        process = start_action(heroku.inputs(target_apps="shop-prod-eu"), tmp)
        wait_for_post(heroku)
        process.send_signal(signal.SIGINT)
        run = finish(process, tmp, timeout=5)
    assert run.exit_code == 130
    assert run.outputs["status"] == "cancelled"


def test_outside_github_the_cli_takes_flags_and_prints_json(heroku: HerokuWorld):
    """A person runs the same entrypoint: flags win over INPUT_* variables, results on stdout."""
    env = {
        "PATH": os.environ["PATH"],
        "HEROKU_API_KEY": heroku.token,
        "INPUT_SOURCE-APP": "no-such-app",
    }
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "promote_action",
            "--json",
            "--operation",
            "slug-copy",
            "--heroku-api-url",
            heroku.sandbox.url,
            "--source-app",
            "shop-staging",
            "--target-apps",
            "shop-prod-eu",
            "--timeout",
            "30s",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    outputs = json.loads(completed.stdout)
    assert outputs["status"] == "succeeded"
    assert "::" not in completed.stdout + completed.stderr, "no workflow commands outside Actions"
    assert heroku.token not in completed.stdout + completed.stderr
    assert "shop-prod-eu: created release v2" in completed.stderr


def test_sigterm_abandons_a_hanging_plan_read(heroku: HerokuWorld):
    """A response that never comes does not hold a cancelled job (issue 11, point 4): without
    abandoning it the job would wait out httpx's 30 s read timeout, past `finish`'s bound."""
    heroku.sandbox.add_fault(Fault(match=r"^GET /apps/[^/]+/releases", hang=True))
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        process = start_action(heroku.inputs(), tmp)
        deadline = time.monotonic() + 20
        while not heroku.sandbox.requests_in_flight():
            assert time.monotonic() < deadline, "the plan never read the releases"
            time.sleep(0.02)
        process.send_signal(signal.SIGTERM)
        run = finish(process, tmp, timeout=10)
    assert run.exit_code == 130
    assert run.outputs["status"] == "cancelled"
    (line,) = run.error_lines()
    assert "cancelled (SIGTERM) during GET /apps/" in line
    assert "nothing was changed" in line
    assert heroku.sandbox.writes() == []


def test_the_console_script_flushes_every_output_and_log_before_its_fast_exit(
    heroku: HerokuWorld, tmp_path: Path
):
    """The process ends with os._exit (no interpreter shutdown): nothing written before may be
    lost, through either entrypoint the image and people use."""
    script = Path(sys.executable).parent / "promote-action"
    env = base_env(tmp_path) | runner_env(heroku.inputs())
    completed = subprocess.run(
        [str(script)], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert completed.returncode == 0, completed.stderr
    outputs = parse_github_output((tmp_path / "output").read_text())
    assert outputs["status"] == "succeeded"
    assert [t["app"] for t in json.loads(outputs["result"])["targets"]] == heroku.targets
    summary = (tmp_path / "summary").read_text()
    assert all(target in summary for target in heroku.targets)
    for target in heroku.targets:
        assert f"{target}: created release v2" in completed.stdout + completed.stderr
