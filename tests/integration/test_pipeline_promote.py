"""pipeline-promote end to end: the entrypoint run as the runner runs it, against the sandbox."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from heroku_schema import validate_request
from pipeline_world import (
    PipelineWorld,
    pipeline_world_fixture,  # noqa: F401 - the `world` fixture
    targets_of,
)
from promote_sandbox import Fault
from runner import ACTION, run_action


def test_promotes_to_the_next_stage_and_proves_every_target_runs_it(world: PipelineWorld):
    run = run_action(world.inputs())

    assert run.exit_code == 0, run.stdout + run.stderr
    written = {
        "status",
        "result",
        "promotion-id",
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
    promotion = world.sandbox.heroku.promotions()[0]
    assert run.outputs["promotion-id"] == promotion.id
    assert run.outputs["source-release-version"] == "2"
    assert {app: t["status"] for app, t in targets_of(run).items()} == {
        "shop-prod-eu": "succeeded",
        "shop-prod-us": "succeeded",
    }
    for app in ("shop-prod-eu", "shop-prod-us"):
        assert world.sandbox.heroku.current_release(app).slug_id == world.slug_id
    [post] = world.promotion_posts()
    staging_release = world.sandbox.heroku.current_release("shop-staging")
    assert post.body == {
        "pipeline": {"id": world.pipeline_id},
        "source": {
            "app": {"id": world.app_id("shop-staging")},
            "release": {"id": staging_release.id},
        },
        "targets": [
            {"app": {"id": world.app_id("shop-prod-eu")}},
            {"app": {"id": world.app_id("shop-prod-us")}},
        ],
    }
    for request in world.sandbox.requests:
        if not request.path.startswith("/streams/"):
            validate_request(request.method, request.path, request.body)
    assert world.app_id("shop-dev") not in json.dumps(post.body), (
        "development is upstream, never a target"
    )
    assert "### Pipeline" in run.summary
    assert "| development | [shop-dev]" in run.summary
    assert "(source)" in run.summary


def test_explicit_target_anywhere_in_the_pipeline_gets_outputs_keyed_by_app(
    world: PipelineWorld,
):
    run = run_action(world.inputs(target_apps="shop-dev"))
    assert run.exit_code == 0, run.stdout
    current = world.sandbox.heroku.current_release("shop-dev")
    assert current.slug_id == world.slug_id
    assert json.loads(run.outputs["release-id"]) == {"shop-dev": current.id}
    assert json.loads(run.outputs["release-version"]) == {"shop-dev": current.version}
    assert world.sandbox.heroku.current_release("shop-prod-eu").slug_id == world.old_slug_id


def test_target_stage(world: PipelineWorld):
    run = run_action(world.inputs(target_stage="development"))
    assert run.exit_code == 0, run.stdout
    assert list(targets_of(run)) == ["shop-dev"]


def test_pinned_release_is_promoted_not_the_current_one(world: PipelineWorld):
    h = world.sandbox.heroku
    tested = h.current_release("shop-staging")
    newer_slug = h.add_slug("shop-staging", commit="2" * 40, commit_description="Untested")
    h.add_release("shop-staging", slug_id=newer_slug)
    run = run_action(world.inputs(release="2", target_apps="shop-prod-eu"))
    assert run.exit_code == 0, run.stdout
    assert world.promotion_posts()[0].body["source"]["release"] == {"id": tested.id}
    assert run.outputs["source-release-version"] == "2"
    assert h.current_release("shop-prod-eu").slug_id == world.slug_id


def test_twenty_targets_cost_one_request_per_poll(world: PipelineWorld):
    h = world.sandbox.heroku
    apps = [f"shop-region-{i:02d}" for i in range(20)]
    for name in apps:
        h.add_app(name, owner_token=world.token)
        h.add_release(name, slug_id=world.old_slug_id)
        h.couple(name, world.pipeline_id, "production")
        h.set_release_behaviour(
            name, pending_seconds=0.5, release_phase_lines=["migrate"], stream_delay_seconds=0.1
        )
    h.set_promotion_behaviour(pending_seconds=1.0)
    run = run_action(world.inputs(target_apps=",".join(apps)))
    assert run.exit_code == 0, run.stdout
    assert all(t["status"] == "succeeded" for t in targets_of(run).values())
    assert len(targets_of(run)) == 20
    target_polls = [r for r in world.sandbox.requests if r.path.endswith("/promotion-targets")]
    assert 1 <= len(target_polls) <= 6, "one request per poll covers all 20 targets"


def test_a_failing_target_reports_herokus_message_verbatim(world: PipelineWorld):
    world.sandbox.heroku.fail_promotion_target("shop-prod-us", "Could not verify slug checksum")
    run = run_action(world.inputs())
    assert run.exit_code == 1
    assert run.outputs["status"] == "failed"
    targets = targets_of(run)
    assert targets["shop-prod-eu"]["status"] == "succeeded"
    assert targets["shop-prod-us"]["status"] == "failed"
    assert targets["shop-prod-us"]["error"] == "Could not verify slug checksum"
    assert "Could not verify slug checksum" in run.error_lines()[0]
    assert "**shop-prod-us:** Could not verify slug checksum" in run.summary


def test_failed_release_phase_is_red_even_when_the_target_says_succeeded(world: PipelineWorld):
    """The official CLI reports success here: the target turns succeeded when its release is
    created, before the release phase fails."""
    world.sandbox.heroku.set_release_behaviour(
        "shop-prod-eu",
        pending_seconds=0.4,
        outcome="failed",
        release_phase_lines=["rake db:migrate", "ERROR: relation exists"],
    )
    run = run_action(world.inputs())
    assert run.exit_code == 1
    targets = targets_of(run)
    assert targets["shop-prod-eu"]["status"] == "failed"
    assert "release command failed" in targets["shop-prod-eu"]["error"]
    assert "ERROR: relation exists" in run.summary
    assert targets["shop-prod-us"]["status"] == "succeeded"


def test_target_failed_by_heroku_after_its_release_phase(world: PipelineWorld):
    h = world.sandbox.heroku
    h.set_promotion_behaviour(pending_seconds=0.2, target_waits_for_release=True)
    h.set_release_behaviour(
        "shop-prod-us", pending_seconds=0.3, outcome="failed", release_phase_lines=["boom"]
    )
    run = run_action(world.inputs())
    assert run.exit_code == 1
    assert targets_of(run)["shop-prod-us"]["error"] == "release command failed"


def test_dry_run_resolves_everything_and_writes_nothing(world: PipelineWorld):
    run = run_action(world.inputs(dry_run="true"))
    assert run.exit_code == 0
    assert run.outputs["status"] == "dry-run"
    assert run.outputs["promotion-id"] == ""
    assert world.sandbox.writes() == []
    assert "would get v2" in run.summary
    assert "source: shop-staging (staging) v2 commit 9f8e7d6" in run.stdout


# -- usage errors: exit 2, nothing written ---------------------------------------------------------


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        (
            {"target_apps": "shop-staging"},
            "input 'target-apps': 'shop-staging' is also the source app",
        ),
        (
            {"source_app": "shop-prod-eu"},
            "input 'target-stage': shop-prod-eu is in the production stage, which has no next stage",
        ),
        (
            {"target_apps": "lonely-app"},
            "input 'target-apps': app 'lonely-app' is not in this pipeline",
        ),
        ({"target_apps": "ghost-app"}, "input 'target-apps': app 'ghost-app' not found"),
        (
            {"source_app": "lonely-app"},
            "input 'source-app': app 'lonely-app' is not in any pipeline",
        ),
        (
            {"source_app": "shop-dev", "target_stage": "test"},
            "input 'target-stage': no downstream apps in the test stage",
        ),
        (
            {"pipeline": "other-pipeline"},
            "input 'pipeline': shop-staging is in pipeline shop, not other-pipeline",
        ),
        (
            {"pipeline": "01234567-89ab-cdef-0123-456789abcdef"},
            "input 'pipeline': shop-staging is in pipeline shop",
        ),
        (
            {"target_stage": "prod"},
            "input 'target-stage': expected one of: test, review, development, staging, production",
        ),
        (
            {"target_stage": "production", "target_apps": "shop-prod-eu"},
            "input 'target-stage': give either 'target-apps' or 'target-stage'",
        ),
        ({"pipeline": "Shop!"}, "input 'pipeline': 'Shop!' is not a pipeline name"),
        ({"release": "9"}, "input 'release': release 9 not found on shop-staging"),
    ],
)
def test_usage_errors(world: PipelineWorld, inputs, message):
    world.sandbox.heroku.add_app("lonely-app", owner_token=world.token)
    run = run_action(world.inputs(**inputs))
    assert run.exit_code == 2, run.stdout + run.stderr
    assert message in run.error_lines()[0]
    assert world.sandbox.writes() == []


def test_ambiguous_pipeline_name_lists_the_candidates(world: PipelineWorld):
    other = world.sandbox.heroku.add_pipeline("shop", owner_token=world.token)
    run = run_action(world.inputs(pipeline="shop"))
    assert run.exit_code == 2
    line = run.error_lines()[0]
    assert "2 pipelines are named 'shop'" in line
    assert world.pipeline_id in line
    assert other.id in line
    assert world.sandbox.writes() == []


def test_pipeline_given_by_its_id_or_unique_name_passes(world: PipelineWorld):
    for pipeline in (world.pipeline_id, "shop"):
        world.sandbox.clear_requests()
        run = run_action(world.inputs(pipeline=pipeline, dry_run="true"))
        assert run.exit_code == 0, run.stdout


# -- faults, cancellation, secrets ------------------------------------------------------------------


def test_every_third_request_failing_still_promotes_once(world: PipelineWorld):
    world.sandbox.add_fault(
        Fault(status=503, error_id="unavailable", message="Service Unavailable", every=3)
    )
    run = run_action(world.inputs())
    assert run.exit_code == 0, run.stdout
    assert len(world.sandbox.heroku.promotions()) == 1


def test_lost_promotion_response_is_found_not_repeated(world: PipelineWorld):
    world.sandbox.add_fault(
        Fault(match=r"^POST /pipeline-promotions$", drop_response=True, times=1)
    )
    run = run_action(world.inputs())
    assert run.exit_code == 0, run.stdout + run.stderr
    assert len(world.sandbox.heroku.promotions()) == 1
    assert "checking whether it took effect" in run.stdout
    assert "it had taken effect" in run.stdout
    for app in ("shop-prod-eu", "shop-prod-us"):
        assert world.sandbox.heroku.current_release(app).slug_id == world.slug_id


def test_timeout_while_targets_are_pending(world: PipelineWorld):
    world.sandbox.heroku.set_promotion_behaviour(pending_seconds=60)
    run = run_action(world.inputs(timeout="2s"))
    assert run.exit_code == 1
    assert run.outputs["status"] == "timed-out"
    assert "timed out after 2.0s waiting for the promotion's targets" in run.error_lines()[0]


def test_no_secret_leaks(world: PipelineWorld):
    world.sandbox.heroku.set_release_behaviour(
        "shop-prod-eu", pending_seconds=0.3, release_phase_lines=["x"]
    )
    run = run_action(world.inputs(), RUNNER_DEBUG="1")
    streams = [
        r.output_stream_url
        for r in world.sandbox.heroku.releases("shop-prod-eu")
        if r.output_stream_url
    ]
    assert streams
    visible = "\n".join(
        line for line in run.everything.splitlines() if not line.startswith("::add-mask::")
    )
    for secret in [world.token, *streams, *(u.rsplit("/", 1)[1] for u in streams)]:
        assert secret not in visible
        assert secret not in world.sandbox.request_log_text()


def test_a_target_with_the_same_slug_pending_is_adopted_and_left_out(world: PipelineWorld):
    """Two runs, one target (issue 11, point 9): shop-prod-eu already has the slug's release in
    progress; it is followed and reported as adopted, and the promotion covers only the rest."""
    world.sandbox.heroku.set_release_behaviour("shop-prod-eu", pending_seconds=3)
    other_run = httpx.post(
        f"{world.sandbox.url}/apps/shop-prod-eu/releases",
        json={"slug": world.slug_id, "description": "the other run"},
        headers={
            "Authorization": f"Bearer {world.token}",
            "Accept": "application/vnd.heroku+json; version=3",
        },
    )
    assert other_run.status_code == 201
    world.sandbox.clear_requests()
    run = run_action(world.inputs())
    assert run.exit_code == 0, run.stdout
    (post,) = world.promotion_posts()
    assert [t["app"]["id"] for t in post.body["targets"]] == [world.app_id("shop-prod-us")]
    targets = {t["app"]: t for t in json.loads(run.outputs["result"])["targets"]}
    assert targets["shop-prod-eu"]["adopted"] is True
    assert targets["shop-prod-eu"]["release_id"] == other_run.json()["id"]
    assert targets["shop-prod-us"]["adopted"] is False
    assert "was followed, not created again" in run.summary
    assert [r.version for r in world.sandbox.heroku.releases("shop-prod-eu")] == [1, 2]


def target_release_reads(world: PipelineWorld) -> list:
    """Reads of a target's releases (one by id, or its newest), after the promotion."""
    [post] = world.promotion_posts()
    after = world.sandbox.requests[world.sandbox.requests.index(post) :]
    targets = {world.app_id("shop-prod-eu"), world.app_id("shop-prod-us")}
    return [
        r
        for r in after
        if r.method == "GET"
        and re.fullmatch(r"/apps/[^/]+/releases(/.+)?", r.path)
        and r.path.split("/")[2] in targets
    ]


def latest_releases_reads(world: PipelineWorld) -> list:
    path = f"/pipelines/{world.pipeline_id}/latest-releases"
    return [r for r in world.sandbox.requests if r.path == path]


def test_one_request_per_poll_round_follows_every_target_release(world: PipelineWorld):
    """The promotion's targets name each new release; the releases themselves (status,
    release-phase log URL, whether the app runs them) come from the pipeline's latest releases:
    one request per round for all targets instead of reads per target."""
    run = run_action(world.inputs())
    assert run.exit_code == 0, run.stdout + run.stderr
    assert latest_releases_reads(world)
    assert target_release_reads(world) == []
    released = {t["app"]: t["release_version"] for t in targets_of(run).values()}
    assert released == {"shop-prod-eu": 2, "shop-prod-us": 2}
    assert json.loads(run.outputs["release-version"]) == released
    for app in ("shop-prod-eu", "shop-prod-us"):
        assert world.sandbox.heroku.current_release(app).slug_id == world.slug_id


@pytest.mark.parametrize(
    ("fault", "reads"),
    [
        (Fault(match="latest-releases", status=404, error_id="not_found", message="Gone."), 1),
        (Fault(match="latest-releases", status=200, message="not a list of releases"), None),
    ],
    ids=["missing", "another shape"],
)
def test_without_usable_latest_releases_each_target_is_read_on_its_own(
    world: PipelineWorld, fault: Fault, reads: int | None
):
    """A server that lacks the list (not asked again), or answers it in another shape (its
    item shape is UNVERIFIED), costs reads per target and changes nothing else."""
    world.sandbox.add_fault(fault)
    run = run_action(world.inputs())
    assert run.exit_code == 0, run.stdout + run.stderr
    assert run.outputs["status"] == "succeeded"
    if reads is not None:
        assert len(latest_releases_reads(world)) == reads
    read = {r.path.split("/")[2] for r in target_release_reads(world)}
    assert read == {world.app_id("shop-prod-eu"), world.app_id("shop-prod-us")}


def test_the_promotion_wait_reports_progress(world: PipelineWorld, monkeypatch):
    monkeypatch.setattr("promote_action.waiting.PROGRESS_EVERY", 0.0)  # a line at every poll
    # Targets are polled every second from 1 s on: the 2 s poll still sees them pending.
    world.sandbox.heroku.set_promotion_behaviour(pending_seconds=2.5)
    run = run_action(world.inputs())
    assert run.exit_code == 0, run.stdout
    lines = run.stdout.splitlines()
    assert "waiting for the promotion's targets" in lines
    assert any(
        line.startswith("still waiting for the promotion's targets (0 of 2 releases created, ")
        for line in lines
    ), run.stdout
