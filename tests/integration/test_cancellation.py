"""A cancel abandons a request in flight at once, whatever the server does, and the report
says what had changed (issue 11, point 4). The cancel comes when the sandbox sees the hanging
request: an event, not a sleep."""

from __future__ import annotations

from conftest import HerokuWorld
from kintone_world import (
    KintoneWorld,
    kintone_world_fixture,  # noqa: F401 - the `kintone` fixture
)
from promote_sandbox import Fault
from runner import cancel_when, run_action


def test_cancel_during_a_hanging_plan_read(heroku: HerokuWorld):
    heroku.sandbox.add_fault(Fault(match=r"^GET /apps/[^/]+/releases", hang=True))
    with cancel_when(heroku.sandbox, lambda path: path.endswith("/releases")) as cancel:
        run = run_action(heroku.inputs(), cancel=cancel)
    assert run.exit_code == 130, run.stdout
    assert run.outputs["status"] == "cancelled"
    (line,) = run.error_lines()
    assert "cancelled (SIGTERM) during GET /apps/" in line
    assert "nothing was changed" in line
    assert heroku.sandbox.writes() == []
    assert heroku.sandbox.requests_in_flight(), "abandoned, not waited for"


def test_cancel_during_a_hanging_kintone_status_poll(kintone: KintoneWorld):
    kintone.sandbox.kintone.set_deploy_behaviour(processing_seconds=60)
    kintone.sandbox.add_fault(Fault(match=r"^GET /k/v1/preview/app/deploy.json", hang=True))
    with cancel_when(kintone.sandbox, lambda path: path.endswith("/deploy.json")) as cancel:
        run = run_action(kintone.inputs(), cancel=cancel)
    assert run.exit_code == 130, run.stdout
    assert run.outputs["status"] == "cancelled"
    assert len(kintone.deploy_posts()) == 1
    assert "kintone completes it on its own" in run.error_lines()[0]
    assert kintone.sandbox.requests_in_flight()


def test_cancel_during_a_hanging_write_says_it_may_take_effect(kintone: KintoneWorld):
    kintone.sandbox.add_fault(Fault(match=r"^POST /k/v1/preview/app/deploy.json", hang=True))
    deploys = cancel_when(kintone.sandbox, lambda path: path.endswith("/deploy.json"), "POST")
    with deploys as cancel:
        run = run_action(kintone.inputs(), cancel=cancel)
    assert run.exit_code == 130, run.stdout
    assert "was sent: kintone completes it on its own" in run.error_lines()[0]
    assert "nothing was changed" not in run.error_lines()[0]


def test_cancel_during_a_hanging_release_post_says_it_may_take_effect(heroku: HerokuWorld):
    heroku.sandbox.add_fault(Fault(match=r"^POST /apps/[^/]+/releases$", hang=True))
    posts = cancel_when(heroku.sandbox, lambda path: path.endswith("/releases"), "POST")
    with posts as cancel:
        run = run_action(heroku.inputs(), cancel=cancel)
    assert run.exit_code == 130, run.stdout
    assert "may still take effect" in run.stdout
    assert "Nothing was changed" not in run.summary
