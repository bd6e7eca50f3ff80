"""Progressive delivery: a canary first, then waves; a bad wave halts the run and, with
rollback-on-failure, every app released in it goes back to the release it ran before."""

from __future__ import annotations

import json

import pytest

from conftest import HerokuWorld
from pipeline_world import (
    PipelineWorld,
    pipeline_world_fixture,  # noqa: F401 - the `world` fixture
    targets_of,
)
from promote_action.waiting import CancelToken
from runner import run_action

MORE = ("shop-prod-ap", "shop-prod-jp")


@pytest.fixture
def four(heroku: HerokuWorld) -> HerokuWorld:
    """The Heroku world with four production apps, all running the old slug."""
    h = heroku.sandbox.heroku
    for name in MORE:
        h.add_app(name, owner_token=heroku.token)
        h.add_release(name, slug_id=heroku.old_slug_id, status="succeeded")
        h.set_release_behaviour(name, pending_seconds=0.2, outcome="succeeded")
    heroku.targets = [*heroku.targets, *MORE]
    return heroku


def health(world: HerokuWorld, **overrides: str) -> dict[str, str]:
    return {
        "health_check": "true",
        "health_check_url": f"{world.sandbox.url}/web/{{app}}/health",
        "health_check_timeout": "2s",
        **overrides,
    }


def releases_path(world: HerokuWorld, app: str) -> str:
    return f"/apps/{world.sandbox.heroku.app(app).id}/releases"


def index_of(world: HerokuWorld, method: str, path: str) -> list[int]:
    return [
        i for i, r in enumerate(world.sandbox.requests) if r.method == method and r.path == path
    ]


def release_posts(world: HerokuWorld, app: str) -> list:
    """Every release created on `app` by the action: slug releases and rollbacks."""
    path = releases_path(world, app)
    return [r for r in world.sandbox.requests if r.method == "POST" and r.path == path]


def rollbacks(world: HerokuWorld, app: str) -> list:
    return [r for r in release_posts(world, app) if "release" in (r.body or {})]


def waves_of(run) -> list[dict]:
    return json.loads(run.outputs["waves"])


def test_canary_then_waves_each_live_and_healthy_before_the_next(four: HerokuWorld):
    run = run_action(four.inputs(canary_apps="shop-prod-eu", waves="1, 50%, 100%", **health(four)))
    assert run.exit_code == 0, run.stdout
    waves = waves_of(run)
    assert [(w["wave"], w["canary"], w["apps"], w["status"]) for w in waves] == [
        (1, True, ["shop-prod-eu"], "succeeded"),
        (2, False, ["shop-prod-us"], "succeeded"),
        (3, False, ["shop-prod-ap", "shop-prod-jp"], "succeeded"),
    ]
    assert all(w["started_at"] and w["live_at"] and not w["rolled_back"] for w in waves)
    assert waves[2]["health"] == {"shop-prod-ap": "HTTP 200", "shop-prod-jp": "HTTP 200"}
    # A wave starts only after the previous wave's last health check.
    for before, after in (("shop-prod-eu", "shop-prod-us"), ("shop-prod-us", "shop-prod-ap")):
        checked = index_of(four, "GET", f"/web/{before}/health")[-1]
        assert checked < index_of(four, "POST", releases_path(four, after))[0]
    for app in four.targets:
        assert len(release_posts(four, app)) == 1
        assert four.sandbox.heroku.current_release(app).slug_id == four.slug_id
    assert "### Waves" in run.summary
    assert "| wave 1 of 3 \\(canary\\) | shop-prod-eu |" in run.summary
    assert "| wave 3 of 3 | shop-prod-ap, shop-prod-jp |" in run.summary
    assert "✅ 2 healthy | ✅ succeeded |" in run.summary


def test_failed_canary_ships_nothing_more_and_is_rolled_back(four: HerokuWorld):
    four.sandbox.web.script("shop-prod-eu", failures=1000, failure_status=500)
    run = run_action(
        four.inputs(canary_apps="shop-prod-eu", rollback_on_failure="true", **health(four))
    )
    assert run.exit_code == 1
    assert run.outputs["status"] == "failed"
    [canary, rest] = waves_of(run)
    assert (canary["status"], canary["rolled_back"]) == ("failed", True)
    assert (rest["status"], rest["started_at"]) == ("not-started", None)
    assert len(rollbacks(four, "shop-prod-eu")) == 1, "exactly one rollback release"
    assert four.sandbox.heroku.current_release("shop-prod-eu").slug_id == four.old_slug_id
    for app in ("shop-prod-us", *MORE):
        assert release_posts(four, app) == [], f"{app} must not be touched"
        assert targets_of(run)[app]["status"] == "not-started"
    line = run.error_lines()[0]
    assert "wave 1 of 2 (canary) failed; no further wave started" in line
    assert "rolled back: wave 1; not started: wave 2" in line
    assert "health check failed" in line
    assert "**Halted:** wave 1 of 2 \\(canary\\) failed" in run.summary


def test_failed_second_wave_rolls_back_both_waves_once(four: HerokuWorld):
    four.sandbox.web.script("shop-prod-us", failures=1000, failure_status=500)
    run = run_action(
        four.inputs(
            waves="shop-prod-eu; shop-prod-us; shop-prod-ap, shop-prod-jp",
            rollback_on_failure="true",
            **health(four),
        )
    )
    assert run.exit_code == 1
    statuses = [(w["status"], w["rolled_back"]) for w in waves_of(run)]
    assert statuses == [("rolled back", True), ("failed", True), ("not-started", False)]
    targets = targets_of(run)
    assert targets["shop-prod-eu"]["status"] == "rolled back"
    assert targets["shop-prod-eu"]["rollback"].startswith("rolled back to v1")
    assert targets["shop-prod-us"]["status"] == "failed"
    for app in ("shop-prod-eu", "shop-prod-us"):
        assert len(rollbacks(four, app)) == 1, f"{app}: exactly one rollback release"
        assert four.sandbox.heroku.current_release(app).slug_id == four.old_slug_id
    for app in MORE:
        assert release_posts(four, app) == []
    line = run.error_lines()[0]
    assert "wave 2 of 3 failed; no further wave started; shipped: wave 1" in line
    assert "rolled back: wave 1, wave 2; not started: wave 3" in line
    assert "↩️ rolled back" in run.summary


def test_a_failed_release_phase_needs_no_rollback_but_the_shipped_wave_gets_one(
    heroku: HerokuWorld,
):
    heroku.sandbox.heroku.set_release_behaviour(
        "shop-prod-us", pending_seconds=0.2, outcome="failed", release_phase_lines=["boom"]
    )
    run = run_action(heroku.inputs(canary_apps="shop-prod-eu", rollback_on_failure="true"))
    assert run.exit_code == 1
    targets = targets_of(run)
    assert targets["shop-prod-us"]["rollback"] == "not needed: shop-prod-us still runs v1"
    assert rollbacks(heroku, "shop-prod-us") == []
    assert len(rollbacks(heroku, "shop-prod-eu")) == 1
    assert targets["shop-prod-eu"]["status"] == "rolled back"


def test_cancel_between_waves_starts_no_further_wave(four: HerokuWorld):
    cancel = CancelToken()
    four.sandbox.web.script("shop-prod-eu", on_healthy=lambda: cancel.cancel("SIGTERM"))
    run = run_action(
        four.inputs(canary_apps="shop-prod-eu", rollback_on_failure="true", **health(four)),
        cancel=cancel,
    )
    assert run.outputs["status"] == "cancelled"
    assert run.exit_code != 0
    [canary, rest] = waves_of(run)
    assert canary["status"] == "succeeded"
    assert rest["status"] == "not-started"
    for app in ("shop-prod-us", *MORE):
        assert release_posts(four, app) == []
    assert (
        "cancelled before wave 2 of 2; no further wave started; shipped: wave 1"
        in (run.error_lines()[0])
    )
    assert "Not rolled back, the job was cancelled: shop-prod-eu" in run.error_lines()[0]
    assert "Not rolled back, the job was cancelled: shop-prod-eu" in run.summary
    assert targets_of(run)["shop-prod-eu"]["rollback"] == "not rolled back: the job was cancelled"
    assert rollbacks(four, "shop-prod-eu") == []


def test_a_target_already_running_the_slug_stays_untouched_in_its_wave(four: HerokuWorld):
    four.sandbox.heroku.add_release("shop-prod-us", slug_id=four.slug_id)
    run = run_action(four.inputs(waves="shop-prod-eu; shop-prod-us, shop-prod-ap; shop-prod-jp"))
    assert run.exit_code == 0, run.stdout
    assert [w["status"] for w in waves_of(run)] == ["succeeded"] * 3
    assert release_posts(four, "shop-prod-us") == []
    assert targets_of(run)["shop-prod-us"]["status"] == "unchanged"
    assert "shop-prod-us (already runs it), shop-prod-ap" in run.summary


def test_health_check_soak_probes_over_the_period(heroku: HerokuWorld):
    run = run_action(
        heroku.inputs(target_apps="shop-prod-eu", **health(heroku, health_check_soak="1s"))
    )
    assert run.exit_code == 0, run.stdout
    assert heroku.sandbox.web.hits("shop-prod-eu") >= 2
    outcome = targets_of(run)["shop-prod-eu"]["health"]
    assert outcome.startswith("HTTP 200; healthy for 1.0s (")


def test_a_soak_fails_an_app_that_turns_unhealthy(heroku: HerokuWorld):
    heroku.sandbox.web.script("shop-prod-eu", healthy_for=1, failure_status=502)
    run = run_action(
        heroku.inputs(
            canary_apps="shop-prod-eu",
            rollback_on_failure="true",
            **health(heroku, health_check_soak="5s"),
        )
    )
    assert run.exit_code == 1
    assert "health check failed during the soak" in run.error_lines()[0]
    assert "answered HTTP 502" in run.error_lines()[0]
    assert release_posts(heroku, "shop-prod-us") == []
    assert len(rollbacks(heroku, "shop-prod-eu")) == 1


def test_plan_shows_the_waves_and_apply_follows_exactly_them(heroku: HerokuWorld):
    planned = run_action(heroku.inputs(mode="plan", waves="shop-prod-us; shop-prod-eu"))
    assert planned.exit_code == 0, planned.stdout
    assert [(w["apps"], w["status"]) for w in waves_of(planned)] == [
        (["shop-prod-us"], "planned"),
        (["shop-prod-eu"], "planned"),
    ]
    assert "| wave 1 of 2 | shop-prod-us | — | — | — | 📝 planned |" in planned.summary
    assert heroku.sandbox.writes() == []
    applied = run_action(heroku.inputs(mode="apply", plan=planned.outputs["plan"]))
    assert applied.exit_code == 0, applied.stdout
    assert [w["apps"] for w in waves_of(applied)] == [["shop-prod-us"], ["shop-prod-eu"]]
    us = index_of(heroku, "POST", releases_path(heroku, "shop-prod-us"))
    eu = index_of(heroku, "POST", releases_path(heroku, "shop-prod-eu"))
    assert len(us) == len(eu) == 1
    assert us[0] < eu[0]


def test_without_waves_the_output_is_an_empty_list(heroku: HerokuWorld):
    run = run_action(heroku.inputs(target_apps="shop-prod-eu"))
    assert run.exit_code == 0
    assert run.outputs["waves"] == "[]"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"waves": "1, shop-prod-eu"}, "input 'waves': expected either sizes"),
        ({"waves": "0, 100%"}, "input 'waves': expected sizes of at least 1"),
        (
            {"waves": "shop-prod-eu; shop-prod-eu"},
            "input 'waves': each app may be in one wave only",
        ),
        ({"waves": "shop-prod-eu; shop-prod-xx"}, "'shop-prod-xx' is not a target of this run"),
        ({"waves": "shop-prod-eu"}, "not in any: shop-prod-us"),
        ({"canary_apps": "shop-prod-eu", "wait": "false"}, "input 'canary-apps': needs wait: true"),
        ({"canary_apps": "shop-prod-eu, shop-prod-us"}, "input 'canary-apps': names every target"),
        ({"health_check_soak": "1m"}, "input 'health-check-soak': needs health-check: true"),
        ({"waves": "100%, 1"}, "input 'waves': sizes are cumulative and must not shrink"),
    ],
)
def test_bad_wave_inputs_are_usage_errors_before_any_write(
    heroku: HerokuWorld, overrides: dict[str, str], message: str
):
    run = run_action(heroku.inputs(**overrides))
    assert run.exit_code == 2, run.stdout
    assert message in run.error_lines()[0]
    assert heroku.sandbox.writes() == []


# -- pipeline-promote ----------------------------------------------------------------------------


def test_pipeline_promotion_in_waves_sends_one_promotion_per_wave_pinned_to_one_release(
    world: PipelineWorld,
):
    run = run_action(world.inputs(canary_apps="shop-prod-us"))
    assert run.exit_code == 0, run.stdout
    posts = world.promotion_posts()
    assert [[t["app"]["id"] for t in p.body["targets"]] for p in posts] == [
        [world.app_id("shop-prod-us")],
        [world.app_id("shop-prod-eu")],
    ]
    source = world.sandbox.heroku.current_release("shop-staging")
    assert {p.body["source"]["release"]["id"] for p in posts} == {source.id}
    waves = waves_of(run)
    assert [(w["apps"], w["status"]) for w in waves] == [
        (["shop-prod-us"], "succeeded"),
        (["shop-prod-eu"], "succeeded"),
    ]
    ids = [w["promotion_id"] for w in waves]
    assert run.outputs["promotion-id"] == ",".join(ids)
    assert len(set(ids)) == 2


def test_pipeline_wave_failure_halts_and_rolls_back(world: PipelineWorld):
    world.sandbox.heroku.set_release_behaviour(
        "shop-prod-eu", pending_seconds=0.2, outcome="failed", release_phase_lines=["boom"]
    )
    run = run_action(world.inputs(waves="shop-prod-us; shop-prod-eu", rollback_on_failure="true"))
    assert run.exit_code == 1
    assert [w["status"] for w in waves_of(run)] == ["rolled back", "failed"]
    assert len(world.promotion_posts()) == 2
    us = world.sandbox.heroku.current_release("shop-prod-us")
    assert us.slug_id == world.old_slug_id
    assert "wave 2 of 2 failed" in run.error_lines()[0]


def test_canary_must_be_an_app_of_the_target_stage(world: PipelineWorld):
    run = run_action(world.inputs(canary_apps="shop-dev"))
    assert run.exit_code == 2
    assert "input 'canary-apps': 'shop-dev' is not a target of this run" in run.error_lines()[0]
    assert world.promotion_posts() == []


def test_a_wave_that_times_out_halts_the_run(four: HerokuWorld):
    four.sandbox.heroku.set_release_behaviour("shop-prod-us", pending_seconds=600)
    run = run_action(
        four.inputs(
            waves="shop-prod-eu; shop-prod-us; shop-prod-ap, shop-prod-jp",
            rollback_on_failure="true",
            timeout="5s",
        )
    )
    assert run.exit_code == 1
    assert run.outputs["status"] == "timed-out"
    assert [w["status"] for w in waves_of(run)][1:] == ["timed-out", "not-started"]
    assert "wave 2 of 3 timed-out; no further wave started" in run.error_lines()[0]
    for app in MORE:
        assert release_posts(four, app) == []
    [rollback] = rollbacks(four, "shop-prod-eu")
    assert rollback.body["release"] == four.sandbox.heroku.releases("shop-prod-eu")[0].id
    # Past the deadline the rollback is sent; whether it is seen to the end depends on timing.
    assert targets_of(run)["shop-prod-eu"]["rollback"].startswith(
        ("rolled back to v1 (release v3)", "rollback release v3 created, not confirmed")
    )
