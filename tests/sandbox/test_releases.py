"""The release state machine and the ``current`` flag."""

from __future__ import annotations

import ssl
import time

import httpx

from promote_sandbox import Sandbox, demo_fixture


def test_seeded_versions_count_up_and_newest_succeeded_is_current(sandbox: Sandbox, world) -> None:
    h = sandbox.heroku
    h.add_release("staging-app", slug_id=world.staging_slugs[0], status="failed")
    releases = h.releases("staging-app")
    assert [r.version for r in releases] == [1, 2, 3, 4]
    assert [r.current for r in releases] == [False, False, True, False]
    assert [r.eligible_for_rollback for r in releases] == [True, True, True, False]
    current = h.current_release("staging-app")
    assert current is not None
    assert current.version == 3
    assert h.releases("prod-app")[0].version == 1


def test_created_release_is_pending_then_succeeds_and_becomes_current(
    sandbox: Sandbox, api: httpx.Client, world, settle
) -> None:
    before = sandbox.heroku.current_release("prod-app")
    assert before is not None
    response = api.post(
        "/apps/prod-app/releases", json={"slug": world.staging_slugs[2], "description": "Copy"}
    )
    assert response.status_code == 201
    created = response.json()
    assert created["status"] == "pending"
    assert created["current"] is False
    assert created["eligible_for_rollback"] is False
    assert created["version"] == 2
    assert created["description"] == "Copy"
    assert created["slug"] == {"id": world.staging_slugs[2]}
    assert created["artifacts"] == [{"type": "slug", "id": world.staging_slugs[2]}]
    assert created["user"]["email"] == "ops@example.com"
    assert created["app"]["name"] == "prod-app"
    assert created["output_stream_url"] is None

    done = settle(api, "prod-app", created["id"])
    assert done["status"] == "succeeded"
    assert done["current"] is True
    assert done["eligible_for_rollback"] is True
    old = api.get(f"/apps/prod-app/releases/{before.id}").json()
    assert old["current"] is False
    now_current = sandbox.heroku.current_release("prod-app")
    assert now_current is not None
    assert now_current.id == created["id"]


def test_failed_release_leaves_current_where_it_was(
    sandbox: Sandbox, api: httpx.Client, world, settle
) -> None:
    sandbox.heroku.set_release_behaviour("prod-app", pending_seconds=0.05, outcome="failed")
    before = sandbox.heroku.current_release("prod-app")
    created = api.post("/apps/prod-app/releases", json={"slug": world.staging_slugs[2]}).json()
    done = settle(api, "prod-app", created["id"])
    assert done["status"] == "failed"
    assert done["current"] is False
    assert done["eligible_for_rollback"] is False
    after = sandbox.heroku.current_release("prod-app")
    assert after is not None
    assert before is not None
    assert after.id == before.id
    assert api.get(f"/apps/prod-app/releases/{before.id}").json()["current"] is True


def test_terminal_state_is_visible_right_after_the_deadline(
    sandbox: Sandbox, api: httpx.Client, world
) -> None:
    sandbox.heroku.set_release_behaviour("prod-app", pending_seconds=0.1)
    created = api.post("/apps/prod-app/releases", json={"slug": world.staging_slugs[2]}).json()
    time.sleep(0.1)
    assert api.get(f"/apps/prod-app/releases/{created['version']}").json()["status"] == "succeeded"


def test_rollback_creates_a_new_release_reusing_the_old_slug(
    sandbox: Sandbox, api: httpx.Client, world, settle
) -> None:
    target = sandbox.heroku.releases("staging-app")[0]
    response = api.post("/apps/staging-app/releases", json={"release": target.id})
    assert response.status_code == 201
    rollback = response.json()
    assert rollback["version"] == 4
    assert rollback["description"] == "Rollback to v1"
    assert rollback["slug"] == {"id": world.staging_slugs[0]}
    done = settle(api, "staging-app", rollback["id"])
    assert done["current"] is True


def test_rollback_to_an_ineligible_or_unknown_release_is_refused(
    sandbox: Sandbox, api: httpx.Client, world
) -> None:
    failed = sandbox.heroku.add_release("prod-app", slug_id=world.staging_slugs[1], status="failed")
    response = api.post("/apps/prod-app/releases", json={"release": failed.id})
    assert response.status_code == 422
    assert response.json()["id"] == "invalid_params"
    foreign = sandbox.heroku.releases("staging-app")[0]
    response = api.post("/apps/prod-app/releases", json={"release": foreign.id})
    assert response.status_code == 404
    assert len(sandbox.heroku.releases("prod-app")) == 2


def test_container_release_has_no_slug(api: httpx.Client) -> None:
    (release,) = api.get("/apps/container-app/releases").json()
    assert release["slug"] is None
    assert release["artifacts"] == []
    assert release["current"] is True
    assert api.get("/apps/container-app").json()["stack"]["name"] == "container"


def test_app_reports_generation_and_last_release(api: httpx.Client) -> None:
    app = api.get("/apps/staging-app").json()
    assert app["generation"]["name"] == "cedar"
    assert app["released_at"] is not None
    assert app["owner"]["email"] == "ops@example.com"


def test_seeded_pending_release_never_settles(sandbox: Sandbox, world) -> None:
    sandbox.heroku.add_release("prod-app", slug_id=world.staging_slugs[1], status="pending")
    assert [r.status for r in sandbox.heroku.releases("prod-app")] == ["succeeded", "pending"]


def test_demo_fixture_describes_a_promotable_staging(tls: ssl.SSLContext) -> None:
    with Sandbox() as sb:
        fixture = demo_fixture(sb)
        newest = sb.heroku.current_release(fixture["source_app"])
        assert newest is not None
        assert newest.version == 3
        assert newest.slug_id is not None
        headers = {
            "Accept": "application/vnd.heroku+json; version=3",
            "Authorization": f"Bearer {fixture['token']}",
        }
        with httpx.Client(base_url=sb.url, headers=headers, verify=tls) as api:
            slug = api.get(f"/apps/demo-staging/slugs/{newest.slug_id}").json()
            assert len(slug["commit"]) == 40
            assert slug["commit_description"] == "Add checkout page"
            for target in fixture["targets"].split(","):
                (older,) = api.get(f"/apps/{target}/releases").json()
                assert older["slug"]["id"] != newest.slug_id
                created = api.post(f"/apps/{target}/releases", json={"slug": newest.slug_id})
                assert created.json()["output_stream_url"] is not None
