"""Every JSON body of a realistic slug-copy run conforms to the Platform API hyper-schema."""

from __future__ import annotations

import ssl
import uuid

import httpx
from jsonschema import Draft4Validator

from heroku_schema import DEFINITIONS, ERROR_SCHEMA, target_schema, validate
from promote_action.sandbox import Sandbox


def test_slug_copy_scenario_bodies_match_the_schema(
    sandbox: Sandbox, world, settle, tls: ssl.SSLContext
) -> None:
    seen: list[httpx.Response] = []
    headers = {
        "Accept": "application/vnd.heroku+json; version=3",
        "Authorization": f"Bearer {world.token}",
    }
    with httpx.Client(
        base_url=sandbox.url,
        headers=headers,
        verify=tls,
        event_hooks={"response": [seen.append]},
    ) as api:
        sandbox.heroku.set_release_behaviour(
            "prod-app", pending_seconds=0.2, release_phase_lines=["Running migrations", "done"]
        )
        api.get("/account")
        api.get("/account/rate-limits")
        api.get("/apps/staging-app")
        newest = api.get(
            "/apps/staging-app/releases", headers={"Range": "version ..; max=10, order=desc"}
        ).json()[0]
        api.get(f"/apps/staging-app/releases/{newest['version']}")
        api.get(f"/apps/staging-app/releases/{newest['id']}")
        api.get(f"/apps/staging-app/slugs/{newest['slug']['id']}")
        previous = api.get(
            "/apps/prod-app/releases", headers={"Range": "version ..; max=1, order=desc"}
        ).json()[0]
        created = api.post(
            "/apps/prod-app/releases",
            json={"slug": newest["slug"]["id"], "description": "Copy of staging-app v3"},
        ).json()
        settle(api, "prod-app", created["id"])
        rollback = api.post("/apps/prod-app/releases", json={"release": previous["id"]}).json()
        settle(api, "prod-app", rollback["id"])
        api.get("/apps/prod-app")
        api.get("/apps/prod-app/releases")
        api.get("/apps/prod-app/releases", headers={"Range": "version ..; max=2, order=desc"})
        api.get("/apps/container-app/releases")
        api.get("/apps/missing-app")
        api.get("/apps/foreign-app")
        api.post("/apps/prod-app/releases", json={"slug": world.foreign_slug})
        api.post("/apps/prod-app/releases", json={})
        api.get("/apps/prod-app/releases", headers={"Range": "nonsense"})

    validated = set()
    for response in seen:
        response.read()
        assert response.headers["Content-Type"] == "application/json"
        uuid.UUID(response.headers["Request-Id"])
        assert int(response.headers["RateLimit-Remaining"]) >= 0
        request = response.request
        if response.is_success:
            schema = target_schema(request.method, request.url.path)
        else:
            schema = ERROR_SCHEMA
        validate(schema, response.json())
        validated.add((request.method, response.status_code))
    assert validated == {
        ("GET", 200),
        ("GET", 206),
        ("POST", 201),
        ("GET", 404),
        ("GET", 403),
        ("POST", 403),
        ("POST", 422),
        ("GET", 416),
    }
    assert len(seen) >= 20


def test_strict_properties_are_enforced_by_the_test_schema() -> None:
    """Guards the conversion above: a body missing a property must not pass silently."""
    release_schema = {"$ref": "#/definitions/release"}
    body = {"id": str(uuid.uuid4())}
    errors = list(Draft4Validator({"definitions": DEFINITIONS, **release_schema}).iter_errors(body))
    assert any("is a required property" in error.message for error in errors)
