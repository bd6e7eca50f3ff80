"""Pipeline promotions: validation that changes nothing, then targets that settle on the clock in
either target mode, with the releases they create on the target apps."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from promote_sandbox import Sandbox
from promote_sandbox.heroku import FakeHeroku, Status


def _body(pipeline, source: str, *targets: str, release: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "pipeline": {"id": pipeline.pipeline_id},
        "source": {"app": {"id": pipeline.ids.get(source, source)}},
        "targets": [{"app": {"id": pipeline.ids.get(t, t)}} for t in targets],
    }
    if release is not None:
        body["source"]["release"] = {"id": release}
    return body


def test_promotion_creates_releases_of_the_source_slug(
    sandbox: Sandbox, api: httpx.Client, world, pipeline, finish
) -> None:
    h = sandbox.heroku
    source = h.current_release("staging-app")
    assert source is not None
    response = api.post(
        "/pipeline-promotions", json=_body(pipeline, "staging-app", "prod-app", "prod-app-two")
    )
    assert response.status_code == 201
    promotion = response.json()
    assert promotion["status"] == "pending"
    assert promotion["pipeline"] == {"id": pipeline.pipeline_id}
    assert promotion["source"] == {
        "app": {"id": pipeline.ids["staging-app"]},
        "release": {"id": source.id},
    }
    pending = api.get(f"/pipeline-promotions/{promotion['id']}/promotion-targets").json()
    assert [(t["status"], t["release"], t["error_message"]) for t in pending] == [
        ("pending", None, None)
    ] * 2
    assert all(t["pipeline_promotion"] == {"id": promotion["id"]} for t in pending)

    targets = finish(api, promotion["id"])
    assert {t["status"] for t in targets} == {"succeeded"}
    for target in targets:
        app = h.app(target["app"]["id"]).name
        (created,) = [r for r in h.releases(app) if r.id == target["release"]["id"]]
        assert created.version == 2
        assert created.slug_id == world.staging_slugs[2]
        assert created.description == "Promote staging-app v3 3333333"
        assert created.user_email == "ops@example.com"
    done = api.get(f"/pipeline-promotions/{promotion['id']}").json()
    assert done["status"] == "completed"
    assert done["source"] == promotion["source"]
    (seen,) = h.promotions()
    assert (seen.id, seen.source_app_id, seen.source_release_id, seen.status) == (
        promotion["id"],
        pipeline.ids["staging-app"],
        source.id,
        "completed",
    )
    assert {t.app_name for t in seen.targets} == {"prod-app", "prod-app-two"}


def test_default_target_succeeds_while_its_release_is_still_pending(
    sandbox: Sandbox, api: httpx.Client, pipeline, finish, settle
) -> None:
    """The case where the official CLI reports success before the release phase is over."""
    h = sandbox.heroku
    h.set_release_behaviour("prod-app", pending_seconds=0.2, outcome="failed")
    promotion = api.post("/pipeline-promotions", json=_body(pipeline, "staging-app", "prod-app"))
    (target,) = finish(api, promotion.json()["id"])
    assert target["status"] == "succeeded"
    assert target["error_message"] is None
    release_id = target["release"]["id"]
    assert api.get(f"/apps/prod-app/releases/{release_id}").json()["status"] == "pending"
    assert settle(api, "prod-app", release_id)["status"] == "failed"
    assert h.promotions()[0].targets[0].status == "succeeded", "and stays succeeded"


def test_waiting_target_follows_its_release_to_success(
    sandbox: Sandbox, api: httpx.Client, pipeline, finish
) -> None:
    h = sandbox.heroku
    h.set_promotion_behaviour(pending_seconds=0.05, target_waits_for_release=True)
    h.set_release_behaviour("prod-app", pending_seconds=0.2, release_phase_lines=["migrating"])
    promotion_id = api.post(
        "/pipeline-promotions", json=_body(pipeline, "staging-app", "prod-app")
    ).json()["id"]
    time.sleep(0.1)
    (target,) = api.get(f"/pipeline-promotions/{promotion_id}/promotion-targets").json()
    assert target["status"] == "pending"
    assert target["release"] is not None, "the release exists while its release phase runs"
    release = api.get(f"/apps/prod-app/releases/{target['release']['id']}").json()
    assert release["status"] == "pending"
    assert release["output_stream_url"] is not None
    assert api.get(f"/pipeline-promotions/{promotion_id}").json()["status"] == "pending"
    (target,) = finish(api, promotion_id)
    assert target["status"] == "succeeded"
    assert api.get(f"/apps/prod-app/releases/{target['release']['id']}").json()["current"]
    assert api.get(f"/pipeline-promotions/{promotion_id}").json()["status"] == "completed"


def test_waiting_target_fails_with_its_release_phase(
    sandbox: Sandbox, api: httpx.Client, pipeline, finish
) -> None:
    h = sandbox.heroku
    h.set_promotion_behaviour(pending_seconds=0.05, target_waits_for_release=True)
    h.set_release_behaviour("prod-app", pending_seconds=0.1, outcome="failed")
    before = h.current_release("prod-app")
    promotion = api.post(
        "/pipeline-promotions", json=_body(pipeline, "staging-app", "prod-app", "prod-app-two")
    ).json()
    targets = {t["app"]["id"]: t for t in finish(api, promotion["id"])}
    failed = targets[pipeline.ids["prod-app"]]
    assert (failed["status"], failed["error_message"]) == ("failed", "release command failed")
    assert failed["release"] is not None
    assert targets[pipeline.ids["prod-app-two"]]["status"] == "succeeded"
    assert h.current_release("prod-app") == before
    completed = api.get(f"/pipeline-promotions/{promotion['id']}").json()
    assert completed["status"] == "completed", "completed does not mean success"
    assert completed["updated_at"] >= completed["created_at"]


def test_fail_promotion_target_fails_the_next_promotion_there_only(
    sandbox: Sandbox, api: httpx.Client, pipeline, finish
) -> None:
    h = sandbox.heroku
    h.fail_promotion_target("prod-app", "Could not verify slug checksum")
    body = _body(pipeline, "staging-app", "prod-app", "prod-app-two")
    first = api.post("/pipeline-promotions", json=body).json()
    targets = {t["app"]["id"]: t for t in finish(api, first["id"])}
    failed = targets[pipeline.ids["prod-app"]]
    assert failed["status"] == "failed"
    assert failed["error_message"] == "Could not verify slug checksum"
    assert failed["release"] is None
    assert targets[pipeline.ids["prod-app-two"]]["status"] == "succeeded"
    assert len(h.releases("prod-app")) == 1, "no release was created on the failed target"
    second = api.post("/pipeline-promotions", json=body).json()
    assert {t["status"] for t in finish(api, second["id"])} == {"succeeded"}


def test_a_pinned_release_is_promoted_instead_of_the_current_one(
    sandbox: Sandbox, api: httpx.Client, world, pipeline, finish
) -> None:
    oldest = sandbox.heroku.releases("staging-app")[0]
    body = _body(pipeline, "staging-app", "prod-app", release=oldest.id)
    promotion = api.post("/pipeline-promotions", json=body).json()
    assert promotion["source"]["release"] == {"id": oldest.id}
    (target,) = finish(api, promotion["id"])
    release = api.get(f"/apps/prod-app/releases/{target['release']['id']}").json()
    assert release["slug"] == {"id": world.staging_slugs[0]}
    assert release["description"] == "Promote staging-app v1 1111111"


def test_a_slug_without_commit_is_described_by_version_only(
    sandbox: Sandbox, api: httpx.Client, pipeline, finish
) -> None:
    h = sandbox.heroku
    h.add_release("dev-app", slug_id=h.add_slug("dev-app"))
    promotion = api.post("/pipeline-promotions", json=_body(pipeline, "dev-app", "staging-app"))
    (target,) = finish(api, promotion.json()["id"])
    release = api.get(f"/apps/staging-app/releases/{target['release']['id']}").json()
    assert release["description"] == "Promote dev-app v1"


def test_target_releases_follow_the_target_apps_release_behaviour(
    sandbox: Sandbox, http: httpx.Client, api: httpx.Client, pipeline, finish
) -> None:
    sandbox.heroku.set_release_behaviour(
        "prod-app", pending_seconds=0.1, release_phase_lines=["one", "two"], stream_delay_seconds=0
    )
    promotion = api.post("/pipeline-promotions", json=_body(pipeline, "staging-app", "prod-app"))
    (target,) = finish(api, promotion.json()["id"])
    release = api.get(f"/apps/prod-app/releases/{target['release']['id']}").json()
    assert http.get(release["output_stream_url"]).text == "one\ntwo\n", "played to the end"
    assert api.get(f"/apps/prod-app/releases/{release['id']}").json()["status"] == "succeeded"


Build = Callable[[FakeHeroku, Any, Any], dict[str, Any]]
GOOD = ("staging-app", "prod-app")


def _in_another_pipeline(h: FakeHeroku, p: Any, world: Any) -> dict[str, Any]:
    h.add_app("blog-app", owner_token=world.token)
    h.couple("blog-app", h.add_pipeline("blog", owner_token=world.token).id, "production")
    return _body(p, *GOOD, h.app("blog-app").id)


def _slugless_source(h: FakeHeroku, p: Any, world: Any) -> dict[str, Any]:
    h.add_release("dev-app", slug_id=None)
    return _body(p, "dev-app", "prod-app")


def _pinned(status: Status) -> Build:
    def build(h: FakeHeroku, p: Any, world: Any) -> dict[str, Any]:
        pinned = h.add_release("staging-app", slug_id=world.staging_slugs[0], status=status)
        return _body(p, *GOOD, release=pinned.id)

    return build


def _foreign_target(h: FakeHeroku, p: Any, world: Any) -> dict[str, Any]:
    h.couple("foreign-app", p.pipeline_id, "production")
    return _body(p, *GOOD, "foreign-app")


INVALID = (422, "invalid_params")
REFUSALS: dict[str, tuple[tuple[int, str], Build]] = {
    "target outside any pipeline": (INVALID, lambda h, p, w: _body(p, *GOOD, "container-app")),
    "target in another pipeline": (INVALID, _in_another_pipeline),
    "target is the source": (INVALID, lambda h, p, w: _body(p, *GOOD, "staging-app")),
    "duplicate target": (INVALID, lambda h, p, w: _body(p, *GOOD, "prod-app")),
    "no targets": (INVALID, lambda h, p, w: _body(p, "staging-app")),
    "source has no release": (INVALID, lambda h, p, w: _body(p, "dev-app", "prod-app")),
    "source release has no slug": (INVALID, _slugless_source),
    "pinned release of another app": (
        INVALID,
        lambda h, p, w: _body(p, *GOOD, release=h.releases("prod-app")[0].id),
    ),
    "pinned release failed": (INVALID, _pinned("failed")),
    "pinned release expired": (INVALID, _pinned("expired")),
    "pinned release pending": (INVALID, _pinned("pending")),
    "missing pipeline": (
        INVALID,
        lambda h, p, w: {k: v for k, v in _body(p, *GOOD).items() if k != "pipeline"},
    ),
    "foreign target": ((403, "forbidden"), _foreign_target),
    "unknown pipeline": (
        (404, "not_found"),
        lambda h, p, w: {**_body(p, *GOOD), "pipeline": {"id": w.staging_slugs[0]}},
    ),
    "unknown target": (
        (404, "not_found"),
        lambda h, p, w: _body(p, *GOOD, "4a9e0d28-0d5c-4b8e-9d0c-1d1c1c1c1c1c"),
    ),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_a_refused_promotion_changes_nothing(
    sandbox: Sandbox, api: httpx.Client, world, pipeline, case: str
) -> None:
    h = sandbox.heroku
    h.set_promotion_behaviour(pending_seconds=0.01)
    h.fail_promotion_target("prod-app", "Could not verify slug checksum")
    (status, error_id), build = REFUSALS[case]
    body = build(h, pipeline, world)
    releases_before = {app: h.releases(app) for app in pipeline.ids}

    response = api.post("/pipeline-promotions", json=body)
    assert response.status_code == status, response.text
    assert response.json()["id"] == error_id
    assert response.json()["message"]
    assert h.promotions() == []
    time.sleep(0.02)  # past the promotion's pending time: still nothing appears
    assert {app: h.releases(app) for app in pipeline.ids} == releases_before
    accepted = api.post("/pipeline-promotions", json=_body(pipeline, *GOOD))
    assert accepted.status_code == 201
    time.sleep(0.02)
    (target,) = h.promotions()[0].targets
    assert target.error_message == "Could not verify slug checksum", "the failure was kept"


def test_promotions_of_others_are_not_found(
    sandbox: Sandbox, http: httpx.Client, api: httpx.Client, world, pipeline
) -> None:
    promotion = api.post("/pipeline-promotions", json=_body(pipeline, "staging-app", "prod-app"))
    headers = {
        "Accept": "application/vnd.heroku+json; version=3",
        "Authorization": f"Bearer {world.other_token}",
    }
    url = f"{sandbox.url}/pipeline-promotions/{promotion.json()['id']}"
    assert http.get(url, headers=headers).status_code == 404
    assert http.get(f"{url}/promotion-targets", headers=headers).status_code == 404
    assert api.get("/pipeline-promotions/nope").json()["resource"] == "pipeline_promotion"
