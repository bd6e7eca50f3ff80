"""GitHub-native delivery: deployments and statuses, sticky PR comments, health checks with
rollback; GitHub is only written to when github-token is given."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import HerokuWorld
from runner import ACTION, run_action

SHA = "c0ffee" + "0" * 34
GITHUB_TOKEN = "ghs_" + "A1b2C3d4" * 4


@pytest.fixture
def github(heroku: HerokuWorld) -> dict[str, str]:
    """The fake GitHub knows acme/shop and the commit being deployed; env as in a workflow."""
    g = heroku.sandbox.github
    g.add_repo("acme/shop", GITHUB_TOKEN)
    g.add_ref("acme/shop", "main", SHA, statuses=["pending"])
    return {"GITHUB_API_URL": f"{heroku.sandbox.url}/github", "GITHUB_SHA": SHA}


def github_requests(world: HerokuWorld) -> list:
    return [r for r in world.sandbox.requests if r.path.startswith("/github")]


def test_deployment_in_progress_then_success_with_urls(heroku: HerokuWorld, github):
    run = run_action(
        heroku.inputs(
            target_apps="shop-prod-eu", github_token=GITHUB_TOKEN, environment="production"
        ),
        **github,
    )
    assert run.exit_code == 0, run.stdout + run.stderr
    [deployment] = heroku.sandbox.github.deployments("acme/shop")
    assert deployment.sha == SHA
    assert deployment.environment == "production"
    statuses = heroku.sandbox.github.statuses("acme/shop", deployment.id)
    assert [s.state for s in statuses] == ["in_progress", "success"]
    web_url = heroku.sandbox.heroku.app("shop-prod-eu").web_url
    assert statuses[-1].environment_url == web_url
    assert statuses[-1].log_url == "https://github.com/acme/shop/actions/runs/4242"
    assert run.outputs["deployment-id"] == str(deployment.id)
    assert run.outputs["environment-url"] == web_url
    assert {"deployment-id", "environment-url"} <= set(ACTION["outputs"])
    posts = [
        r for r in github_requests(heroku) if r.method == "POST" and r.path.endswith("/deployments")
    ]
    assert posts[0].body["auto_merge"] is False
    assert posts[0].body["required_contexts"] == []


def test_failed_deploy_marks_the_deployment_failed(heroku: HerokuWorld, github):
    heroku.sandbox.heroku.set_release_behaviour(
        "shop-prod-eu", pending_seconds=0.3, outcome="failed", release_phase_lines=["boom"]
    )
    run = run_action(
        heroku.inputs(
            target_apps="shop-prod-eu", github_token=GITHUB_TOKEN, environment="production"
        ),
        **github,
    )
    assert run.exit_code == 1
    [deployment] = heroku.sandbox.github.deployments("acme/shop")
    statuses = heroku.sandbox.github.statuses("acme/shop", deployment.id)
    assert [s.state for s in statuses] == ["in_progress", "failure"]
    assert "shop-prod-eu" in statuses[-1].description


def test_pull_request_preview_keeps_one_sticky_comment(heroku: HerokuWorld, github, tmp_path: Path):
    g = heroku.sandbox.github
    head = "feed" + "1" * 36
    g.add_pull("acme/shop", 7, "feature", head)
    someone = g.add_comment(
        "acme/shop", 7, "<!-- promote-action:pr-7 --> quoting the bot", login="octocat"
    )
    event = tmp_path / "event.json"
    event.write_text(
        json.dumps({"number": 7, "pull_request": {"number": 7, "head": {"sha": head}}})
    )
    env = {**github, "GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": str(event)}
    inputs = heroku.inputs(
        target_apps="shop-prod-eu",
        github_token=GITHUB_TOKEN,
        environment="pr-7",
        transient_environment="true",
    )
    first = run_action(inputs, **env)
    assert first.exit_code == 0, first.stdout
    heroku.sandbox.heroku.set_release_behaviour("shop-prod-eu", pending_seconds=0.2)
    heroku.sandbox.heroku.add_release("shop-prod-eu", slug_id=heroku.old_slug_id)
    second = run_action(inputs, **env)
    assert second.exit_code == 0, second.stdout
    comments = g.comments("acme/shop", 7)
    ours = [c for c in comments if c.login == "github-actions[bot]"]
    assert len(ours) == 1, "updated in place, never duplicated"
    assert ours[0].body.startswith("<!-- promote-action:pr-7 -->")
    assert "Heroku slug copy" in ours[0].body
    assert ours[0].updated_at >= ours[0].created_at
    assert next(c for c in comments if c.id == someone).body.endswith("quoting the bot")
    deployments = g.deployments("acme/shop")
    assert {d.sha for d in deployments} == {head}
    assert all(d.transient_environment for d in deployments)


def test_no_github_writes_without_a_token(heroku: HerokuWorld, github):
    run = run_action(heroku.inputs(target_apps="shop-prod-eu", environment="production"), **github)
    assert run.exit_code == 0
    assert github_requests(heroku) == []
    assert "deployment-id" not in run.outputs


def test_github_failures_are_warnings_not_failed_deploys(heroku: HerokuWorld, github):
    run = run_action(
        heroku.inputs(
            target_apps="shop-prod-eu", github_token="ghs_unknown", environment="production"
        ),
        **github,
    )
    assert run.exit_code == 0, run.stdout
    assert "::warning title=promote-action::GitHub deployment not created: HTTP 401" in run.stdout


def test_no_token_leaks(heroku: HerokuWorld, github):
    run = run_action(
        heroku.inputs(
            target_apps="shop-prod-eu", github_token=GITHUB_TOKEN, environment="production"
        ),
        RUNNER_DEBUG="1",
        **github,
    )
    visible = "\n".join(
        line for line in run.everything.splitlines() if not line.startswith("::add-mask::")
    )
    assert GITHUB_TOKEN not in visible
    assert GITHUB_TOKEN not in heroku.sandbox.request_log_text()


# -- health checks and rollback ------------------------------------------------------------------


def health_url(world: HerokuWorld) -> str:
    return f"{world.sandbox.url}/web/{{app}}/health"


def test_health_check_retries_then_succeeds(heroku: HerokuWorld):
    heroku.sandbox.web.script("shop-prod-eu", status=200, body="healthy", failures=2)
    run = run_action(
        heroku.inputs(
            target_apps="shop-prod-eu",
            health_check="true",
            health_check_url=health_url(heroku),
            health_check_text="healthy",
        )
    )
    assert run.exit_code == 0, run.stdout
    assert heroku.sandbox.web.hits("shop-prod-eu") == 3
    assert json.loads(run.outputs["result"])["targets"][0]["health"] == "HTTP 200"


def test_failed_health_check_rolls_back_exactly_once(heroku: HerokuWorld):
    heroku.sandbox.web.script("shop-prod-eu", failures=1000, failure_status=500)
    run = run_action(
        heroku.inputs(
            target_apps="shop-prod-eu",
            health_check="true",
            health_check_url=health_url(heroku),
            health_check_timeout="3s",
            rollback_on_failure="true",
        )
    )
    assert run.exit_code == 1
    line = run.error_lines()[0]
    assert "health check failed" in line
    assert "HTTP 500" in line
    assert "rolled back to v1 (release v3)" in line
    releases = heroku.sandbox.heroku.releases("shop-prod-eu")
    rollbacks = [
        r for r in heroku.sandbox.requests if r.method == "POST" and r.body and "release" in r.body
    ]
    assert len(rollbacks) == 1, "exactly one rollback release"
    assert [r.version for r in releases] == [1, 2, 3]
    assert heroku.sandbox.heroku.current_release("shop-prod-eu").slug_id == heroku.old_slug_id
    assert "↩️ Rollback: rolled back to v1" in run.summary


def test_no_rollback_when_the_app_still_runs_its_previous_release(heroku: HerokuWorld):
    heroku.sandbox.heroku.set_release_behaviour(
        "shop-prod-eu",
        pending_seconds=0.3,
        outcome="failed",
        release_phase_lines=["migration failed"],
    )
    run = run_action(heroku.inputs(target_apps="shop-prod-eu", rollback_on_failure="true"))
    assert run.exit_code == 1
    assert "rollback: not needed: shop-prod-eu still runs v1" in run.error_lines()[0]
    assert not [
        r for r in heroku.sandbox.requests if r.method == "POST" and r.body and "release" in r.body
    ]


def test_rollback_never_touches_an_unchanged_target(heroku: HerokuWorld):
    heroku.sandbox.heroku.add_release("shop-prod-us", slug_id=heroku.slug_id)
    heroku.sandbox.web.script("shop-prod-eu", failures=1000, failure_status=500)
    run = run_action(
        heroku.inputs(
            health_check="true",
            health_check_url=health_url(heroku),
            health_check_timeout="2s",
            rollback_on_failure="true",
        )
    )
    assert run.exit_code == 1
    targets = {t["app"]: t for t in json.loads(run.outputs["result"])["targets"]}
    assert targets["shop-prod-us"]["status"] == "unchanged"
    assert targets["shop-prod-us"]["rollback"] is None
    assert len(heroku.sandbox.heroku.releases("shop-prod-us")) == 2


def test_unreachable_github_is_a_warning_and_the_deploy_still_reports(heroku: HerokuWorld, github):
    closed = {**github, "GITHUB_API_URL": "http://127.0.0.1:9/github"}
    run = run_action(
        heroku.inputs(
            target_apps="shop-prod-eu", github_token=GITHUB_TOKEN, environment="production"
        ),
        **closed,
    )
    assert run.exit_code == 0, run.stdout
    assert run.outputs["status"] == "succeeded"
    assert "::warning title=promote-action::GitHub deployment not created" in run.stdout


def test_a_commit_that_is_not_a_sha_never_becomes_a_link(heroku: HerokuWorld):
    h = heroku.sandbox.heroku
    evil = h.add_slug("shop-staging", commit="![x](https://t.example/p.png) @acme/admins")
    h.add_release("shop-staging", slug_id=evil)
    run = run_action(heroku.inputs(target_apps="shop-prod-eu", mode="plan"))
    assert run.exit_code == 0, run.stdout
    assert "compare/" not in run.summary
    assert "](https://t.example" not in run.summary
    assert "@acme" not in run.summary.replace("\\@acme", "")


def test_deployment_statuses_say_the_wave(heroku: HerokuWorld, github):
    run = run_action(
        heroku.inputs(
            canary_apps="shop-prod-eu", github_token=GITHUB_TOKEN, environment="production"
        ),
        **github,
    )
    assert run.exit_code == 0, run.stdout
    [deployment] = heroku.sandbox.github.deployments("acme/shop")
    statuses = heroku.sandbox.github.statuses("acme/shop", deployment.id)
    assert [(s.state, s.description) for s in statuses] == [
        ("in_progress", "deploying"),
        ("in_progress", "wave 1 of 2 (canary): shop-prod-eu"),
        ("in_progress", "wave 2 of 2: shop-prod-us"),
        ("success", "succeeded"),
    ]
