"""The health check runs under the run's deadline and cancel token (issue 11, point 3): a
health URL that hangs can end a run timed-out or cancelled, never green."""

from __future__ import annotations

import json

from conftest import HerokuWorld
from promote_sandbox import Fault
from runner import cancel_when, run_action


def hanging_health(world: HerokuWorld, **inputs: str) -> dict[str, str]:
    world.sandbox.add_fault(Fault(match=r"^GET /web/", hang=True))
    return world.inputs(
        target_apps="shop-prod-eu",
        health_check="true",
        health_check_url=f"{world.sandbox.url}/web/{{app}}/health",
        health_check_timeout="10m",
        **inputs,
    )


def test_deadline_during_a_hanging_health_check_times_out_and_rolls_back(heroku: HerokuWorld):
    run = run_action(hanging_health(heroku, timeout="3s", rollback_on_failure="true"))
    assert run.exit_code == 1, run.stdout
    assert run.outputs["status"] == "timed-out"
    target = json.loads(run.outputs["result"])["targets"][0]
    assert target["status"] == "timed-out"
    line = run.error_lines()[0]
    assert "during the health check of" in line
    assert "rollback release v3 created" in line
    rollbacks = [r for r in heroku.sandbox.writes() if r.body and "release" in r.body]
    assert len(rollbacks) == 1, "the target was changed, so it is rolled back"


def test_cancel_during_a_hanging_health_check_is_cancelled(heroku: HerokuWorld):
    inputs = hanging_health(heroku)
    with cancel_when(heroku.sandbox, lambda path: path.startswith("/web/")) as cancel:
        run = run_action(inputs, cancel=cancel)
    assert run.exit_code == 130, run.stdout
    assert run.outputs["status"] == "cancelled"
    assert json.loads(run.outputs["result"])["targets"][0]["status"] == "cancelled"
