"""slug-copy end to end: the entrypoint run as the runner runs it, against the sandbox."""

from __future__ import annotations

import json

import httpx
import pytest

from conftest import COMMIT, HerokuWorld
from heroku_schema import validate_request
from promote_sandbox import Fault
from runner import ACTION, run_action


def posts(world: HerokuWorld) -> list:
    return [r for r in world.sandbox.requests if r.method == "POST"]


def test_copies_the_newest_good_slug_to_two_apps_and_reports_each(heroku: HerokuWorld):
    run = run_action(heroku.inputs())

    assert run.exit_code == 0, run.stdout + run.stderr
    written = {
        "status",
        "result",
        "release-id",
        "release-version",
        "slug-id",
        "source-release-version",
        "environment-url",
        "waves",
    }
    assert set(run.outputs) == written
    assert written <= set(ACTION["outputs"]), "every output written is declared"
    assert run.outputs["status"] == "succeeded"
    assert run.outputs["slug-id"] == heroku.slug_id
    assert run.outputs["source-release-version"] == "2"
    assert json.loads(run.outputs["release-version"]) == {"shop-prod-eu": 2, "shop-prod-us": 2}
    result = json.loads(run.outputs["result"])
    assert [
        (t["app"], t["status"], t["previous_version"], t["release_version"])
        for t in result["targets"]
    ] == [
        ("shop-prod-eu", "succeeded", 1, 2),
        ("shop-prod-us", "succeeded", 1, 2),
    ]
    for target in heroku.targets:
        current = heroku.sandbox.heroku.current_release(target)
        assert current.slug_id == heroku.slug_id
        assert json.loads(run.outputs["release-id"])[target] == current.id
    # exactly one create per target, with the documented body
    assert sorted((r.path, json.dumps(r.body, sort_keys=True)) for r in posts(heroku)) == [
        (
            f"/apps/{app_id}/releases",
            json.dumps(
                {
                    "description": f"Copy of shop-staging v2 ({COMMIT[:7]}), GitHub run 4242",
                    "slug": heroku.slug_id,
                },
                sort_keys=True,
            ),
        )
        for app_id in sorted(heroku.sandbox.heroku.app(t).id for t in heroku.targets)
    ]
    # the source release is found with one ranged request, not by listing every release
    source_lists = [
        r
        for r in heroku.sandbox.requests
        if r.method == "GET"
        and r.path.endswith("/releases")
        and heroku.sandbox.heroku.app("shop-staging").id in r.path
    ]
    assert [r.headers.get("Range") for r in source_lists] == ["version ..; max=10, order=desc"]
    assert "| Target | Before | After | Status | Duration |" in run.summary
    assert "[shop-prod-eu](https://dashboard.heroku.com/apps/shop-prod-eu/activity)" in run.summary
    assert "✅ succeeded" in run.summary
    assert "https://dashboard.heroku.com/apps/shop-prod-us/activity" in run.summary


def test_a_single_target_still_gets_json_objects_keyed_by_app(heroku: HerokuWorld):
    run = run_action(heroku.inputs(target_apps="shop-prod-eu"))
    assert run.exit_code == 0, run.stdout
    current = heroku.sandbox.heroku.current_release("shop-prod-eu")
    assert json.loads(run.outputs["release-id"]) == {"shop-prod-eu": current.id}
    assert json.loads(run.outputs["release-version"]) == {"shop-prod-eu": current.version}


def test_nothing_released_gives_empty_objects(heroku: HerokuWorld):
    run = run_action(heroku.inputs(target_apps="shop-prod-eu", dry_run="true"))
    assert run.exit_code == 0, run.stdout
    assert run.outputs["release-id"] == "{}"
    assert run.outputs["release-version"] == "{}"


def test_release_phase_output_is_streamed_in_a_group_with_commands_disabled(heroku: HerokuWorld):
    heroku.sandbox.heroku.set_release_behaviour(
        "shop-prod-eu",
        pending_seconds=0.6,
        outcome="succeeded",
        release_phase_lines=["Running migrations", "::add-mask::hijack"],
        stream_delay_seconds=0.1,
    )
    run = run_action(heroku.inputs(target_apps="shop-prod-eu"))
    assert run.exit_code == 0, run.stdout
    lines = run.stdout.splitlines()
    start = lines.index("::group::Release phase: shop-prod-eu v2")
    block = lines[start : lines.index("::endgroup::", start)]
    assert "Running migrations" in block
    hijack = block.index("::add-mask::hijack")
    assert any(line.startswith("::stop-commands::") for line in block[:hijack])


def test_failed_release_phase_fails_the_step_and_names_the_app(heroku: HerokuWorld):
    heroku.sandbox.heroku.set_release_behaviour(
        "shop-prod-us",
        pending_seconds=0.4,
        outcome="failed",
        release_phase_lines=["Running migrations"],
        stream_delay_seconds=0.05,
    )
    run = run_action(heroku.inputs())
    assert run.exit_code == 1
    assert run.outputs["status"] == "failed"
    targets = {t["app"]: t for t in json.loads(run.outputs["result"])["targets"]}
    assert targets["shop-prod-eu"]["status"] == "succeeded"
    assert targets["shop-prod-us"]["status"] == "failed"
    assert "release command failed" in targets["shop-prod-us"]["error"]
    errors = run.error_lines()
    assert len(errors) == 1
    assert "shop-prod-us" in errors[0]
    assert "shop-prod-eu v2 (succeeded)" in errors[0]
    assert "❌ failed" in run.summary
    assert "Release-phase output" in run.summary


def test_a_release_phase_that_says_release_command_failed_is_not_repeated(heroku: HerokuWorld):
    heroku.sandbox.heroku.set_release_behaviour(
        "shop-prod-eu",
        pending_seconds=0.2,
        outcome="failed",
        release_phase_lines=["Running migrations"],
        stream_delay_seconds=0.02,
    )
    run = run_action(heroku.inputs(target_apps="shop-prod-eu"))
    assert run.exit_code == 1
    (target,) = json.loads(run.outputs["result"])["targets"]
    # Heroku's (and the fake's) last line of a failed release phase says it already.
    assert target["error"] == "release v2 failed: release command failed: exit status 1"
    assert run.error_lines()[0].lower().count("release command failed") == 1


def test_target_already_running_the_slug_is_left_alone(heroku: HerokuWorld):
    first = run_action(heroku.inputs())
    assert first.exit_code == 0
    heroku.sandbox.clear_requests()
    again = run_action(heroku.inputs())
    assert again.exit_code == 0
    assert again.outputs["status"] == "unchanged"
    assert heroku.sandbox.writes() == []


@pytest.mark.parametrize("pin", ["2", "v2", "release-id"])
def test_pinned_release(heroku: HerokuWorld, pin: str):
    if pin == "release-id":
        pin = heroku.sandbox.heroku.releases("shop-staging")[1].id
    heroku.sandbox.heroku.add_release(
        "shop-staging", slug_id=heroku.old_slug_id, status="succeeded"
    )
    run = run_action(heroku.inputs(release=pin, target_apps="shop-prod-eu"))
    assert run.exit_code == 0, run.stdout
    assert run.outputs["source-release-version"] == "2"
    assert heroku.sandbox.heroku.current_release("shop-prod-eu").slug_id == heroku.slug_id


def test_pinned_slug(heroku: HerokuWorld):
    run = run_action(heroku.inputs(slug=heroku.slug_id, target_apps="shop-prod-eu"))
    assert run.exit_code == 0, run.stdout
    assert run.outputs["source-release-version"] == ""
    assert (
        posts(heroku)[0]
        .body["description"]
        .startswith(f"Copy of shop-staging slug {heroku.slug_id[:8]}")
    )


def test_no_wait_reports_created_releases_without_polling(heroku: HerokuWorld):
    heroku.sandbox.heroku.set_release_behaviour(
        "shop-prod-eu", pending_seconds=5, outcome="succeeded"
    )
    run = run_action(heroku.inputs(target_apps="shop-prod-eu", wait="false"))
    assert run.exit_code == 0
    assert run.outputs["status"] == "created"
    after_post = heroku.sandbox.requests[heroku.sandbox.requests.index(posts(heroku)[0]) + 1 :]
    assert after_post == []


def test_dry_run_makes_no_write_and_shows_the_plan(heroku: HerokuWorld):
    run = run_action(heroku.inputs(dry_run="true"))
    assert run.exit_code == 0
    assert run.outputs["status"] == "dry-run"
    assert heroku.sandbox.writes() == []
    assert "Dry run" in run.summary
    assert "would release" in run.summary


# -- errors a user meets -------------------------------------------------------------------------


def test_no_access_to_a_target_is_a_remote_failure_with_the_error_id(heroku: HerokuWorld):
    h = heroku.sandbox.heroku
    stranger = h.add_user("someone@else.example")
    h.add_app("foreign-app", owner_token=stranger)
    run = run_action(heroku.inputs(target_apps="foreign-app"))
    assert run.exit_code == 1
    assert "forbidden" in run.error_lines()[0]
    assert heroku.sandbox.writes() == []


def test_two_factor_requirement_is_explained(heroku: HerokuWorld):
    heroku.sandbox.heroku.require_two_factor(heroku.token)
    run = run_action(heroku.inputs())
    assert run.exit_code == 1
    assert "two_factor" in run.error_lines()[0]


def test_rate_limit_that_does_not_clear_fails_with_its_id(heroku: HerokuWorld):
    heroku.sandbox.add_fault(
        Fault(
            status=429,
            error_id="rate_limit",
            message="Your account reached the API rate limit",
            retry_after="0",
        )
    )
    run = run_action(heroku.inputs())
    assert run.exit_code == 1
    assert "rate_limit" in run.error_lines()[0]
    assert heroku.sandbox.writes() == []


# -- faults ----------------------------------------------------------------------------------------


def test_every_third_request_failing_503_still_ends_with_one_release_per_target(
    heroku: HerokuWorld,
):
    heroku.sandbox.add_fault(
        Fault(status=503, error_id="unavailable", message="Service Unavailable", every=3)
    )
    run = run_action(heroku.inputs())
    assert run.exit_code == 0, run.stdout
    for target in heroku.targets:
        assert len(heroku.sandbox.heroku.releases(target)) == 2


def test_429_bursts_are_waited_out(heroku: HerokuWorld):
    heroku.sandbox.add_fault(
        Fault(status=429, error_id="rate_limit", message="slow down", retry_after="1", times=3)
    )
    run = run_action(heroku.inputs())
    assert run.exit_code == 0, run.stdout
    assert sum(1 for r in heroku.sandbox.requests if r.status == 429) == 3


def test_dropped_post_response_creates_exactly_one_release_per_target(heroku: HerokuWorld):
    heroku.sandbox.add_fault(Fault(match=r"^POST /apps/.*/releases$", drop_response=True, times=2))
    run = run_action(heroku.inputs())
    assert run.exit_code == 0, run.stdout + run.stderr
    assert len(posts(heroku)) == 2
    for target in heroku.targets:
        releases = heroku.sandbox.heroku.releases(target)
        assert len(releases) == 2
        assert heroku.sandbox.heroku.current_release(target).slug_id == heroku.slug_id
    assert "checking whether it took effect" in run.stdout
    assert "it had taken effect" in run.stdout


def test_timeout_reports_the_release_it_left_pending(heroku: HerokuWorld):
    heroku.sandbox.heroku.set_release_behaviour(
        "shop-prod-eu", pending_seconds=60, outcome="succeeded"
    )
    run = run_action(heroku.inputs(target_apps="shop-prod-eu", timeout="2s"))
    assert run.exit_code == 1
    # It stopped at its deadline: the release it created is still pending.
    assert heroku.sandbox.heroku.releases("shop-prod-eu")[-1].status == "pending"
    assert run.outputs["status"] == "timed-out"
    assert "timed out after 2.0s waiting for release v2 on shop-prod-eu" in run.error_lines()[0]
    assert "Releases created: shop-prod-eu v2" in run.error_lines()[0]


def test_no_secret_reaches_any_output_or_the_request_log(heroku: HerokuWorld):
    heroku.sandbox.heroku.set_release_behaviour(
        "shop-prod-eu",
        pending_seconds=0.4,
        outcome="failed",
        release_phase_lines=["boom"],
        stream_delay_seconds=0.05,
    )
    run = run_action(heroku.inputs(), RUNNER_DEBUG="1")
    stream_urls = [
        r.output_stream_url
        for t in heroku.targets
        for r in heroku.sandbox.heroku.releases(t)
        if r.output_stream_url
    ]
    assert stream_urls
    secrets = [heroku.token, *stream_urls, *(u.rsplit("/", 1)[1] for u in stream_urls)]
    log_text = heroku.sandbox.request_log_text()
    visible = "\n".join(
        line for line in run.everything.splitlines() if not line.startswith("::add-mask::")
    )
    for secret in secrets:
        assert secret not in visible
        assert secret not in log_text
    assert f"::add-mask::{heroku.token}" in run.stdout.splitlines()[0]


def test_every_request_is_a_documented_platform_api_call(heroku: HerokuWorld):
    """Our client must work against any faithful server: only documented routes and bodies,
    the versioned Accept header, Bearer auth."""
    heroku.sandbox.heroku.set_release_behaviour(
        "shop-prod-eu",
        pending_seconds=0.3,
        release_phase_lines=["migrate"],
        stream_delay_seconds=0.05,
    )
    run = run_action(heroku.inputs())
    assert run.exit_code == 0
    api_requests = [r for r in heroku.sandbox.requests if not r.path.startswith("/streams/")]
    assert len(api_requests) < len(heroku.sandbox.requests), "the release-phase stream was read"
    for request in api_requests:
        validate_request(request.method, request.path, request.body)
        assert request.headers["Accept"] == "application/vnd.heroku+json; version=3"
        assert request.headers["Authorization"] == "[REDACTED]"
    streams = [r for r in heroku.sandbox.requests if r.path.startswith("/streams/")]
    assert all("Authorization" not in r.headers for r in streams)


def test_platform_warnings_become_warning_annotations(heroku: HerokuWorld):
    heroku.sandbox.add_fault(
        Fault(
            match=r"^GET /apps/shop-staging$",
            headers=(("Warning-Message", "API version 3 is deprecated::soon"),),
        )
    )
    run = run_action(heroku.inputs(target_apps="shop-prod-eu"))
    assert run.exit_code == 0
    assert (
        "::warning title=promote-action::Heroku says: API version 3 is deprecated::soon"
        in run.stdout
    )


def test_a_pending_release_of_the_same_slug_is_adopted_not_repeated(heroku: HerokuWorld):
    """Two runs, one target (issue 11, point 9): the second run finds the first one's release
    of the same slug still pending, follows it and reports it, and releases nothing itself."""
    heroku.sandbox.heroku.set_release_behaviour("shop-prod-eu", pending_seconds=3)
    other_run = httpx.post(
        f"{heroku.sandbox.url}/apps/shop-prod-eu/releases",
        json={"slug": heroku.slug_id, "description": "the other run"},
        headers={
            "Authorization": f"Bearer {heroku.token}",
            "Accept": "application/vnd.heroku+json; version=3",
        },
    )
    assert other_run.status_code == 201
    heroku.sandbox.clear_requests()
    run = run_action(heroku.inputs(target_apps="shop-prod-eu"))
    assert run.exit_code == 0, run.stdout
    assert posts(heroku) == [], "no second release"
    assert json.loads(run.outputs["release-id"]) == {"shop-prod-eu": other_run.json()["id"]}
    (target,) = json.loads(run.outputs["result"])["targets"]
    assert target["adopted"] is True
    assert target["status"] == "succeeded"
    assert "already in progress" in run.stdout
    assert "was followed, not created again" in run.summary
    assert [r.version for r in heroku.sandbox.heroku.releases("shop-prod-eu")] == [1, 2]


def test_targets_are_planned_concurrently(heroku: HerokuWorld):
    """A slow answer about one target does not hold up planning the others (50 targets read
    one after another took seconds): the second target is fully planned while the first
    target's app is still being read."""
    heroku.sandbox.add_fault(Fault(match=r"^GET /apps/shop-prod-eu$", delay_seconds=1.0))
    run = run_action(heroku.inputs(dry_run="true"))
    assert run.exit_code == 0, run.stdout + run.stderr
    eu, us = (heroku.sandbox.heroku.app(name).id for name in ("shop-prod-eu", "shop-prod-us"))
    paths = [r.path for r in heroku.sandbox.requests if r.method == "GET"]
    assert paths.index(f"/apps/{us}/releases") < paths.index(f"/apps/{eu}/releases")


def test_the_first_unknown_target_in_the_input_is_the_one_named(heroku: HerokuWorld):
    run = run_action(heroku.inputs(target_apps="ghost-one,shop-prod-eu,ghost-two"))
    assert run.exit_code == 2
    [error] = run.error_lines()
    assert "input 'target-apps': app 'ghost-one' not found" in error
    assert not heroku.sandbox.writes()


def test_a_release_phase_longer_than_the_timeout_ends_the_run_at_its_deadline(
    heroku: HerokuWorld,
):
    """The log of a 60 s release phase is read under the run's deadline: the run stops at its
    2 s timeout with the release still running, rather than reading the log to its end."""
    heroku.sandbox.heroku.set_release_behaviour(
        "shop-prod-eu",
        pending_seconds=60,
        release_phase_lines=["Running migrations", "still migrating"],
        stream_delay_seconds=0.1,
    )
    run = run_action(heroku.inputs(target_apps="shop-prod-eu", timeout="2s"))
    assert run.exit_code == 1
    assert run.outputs["status"] == "timed-out"
    assert "Running migrations" in run.stdout
    assert heroku.sandbox.heroku.releases("shop-prod-eu")[-1].status == "pending"
