"""Every JSON body of a realistic slug-copy run conforms to the Platform API hyper-schema."""

from __future__ import annotations

import json
import ssl
import uuid

import httpx
from jsonschema import Draft4Validator

from heroku_schema import DEFINITIONS, ERROR_SCHEMA, target_schema, validate, validate_request
from promote_sandbox import Sandbox


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


def test_pipeline_scenario_bodies_match_the_schema(
    sandbox: Sandbox, world, pipeline, finish, tls: ssl.SSLContext
) -> None:
    """Every pipeline route, both target modes and a failed target; the CLI's undocumented
    ``/filters/apps`` and the 300 for an ambiguous name are checked against app and pipeline."""
    h = sandbox.heroku
    h.add_pipeline("shop", owner_token=world.token)
    h.add_app("review-app", owner_token=world.token)
    seen: list[httpx.Response] = []
    headers = {
        "Accept": "application/vnd.heroku+json; version=3.pipelines",
        "Authorization": f"Bearer {world.token}",
    }
    ids = pipeline.ids
    promotion_body = {
        "pipeline": {"id": pipeline.pipeline_id},
        "source": {"app": {"id": ids["staging-app"]}},
        "targets": [{"app": {"id": ids["prod-app"]}}, {"app": {"id": ids["prod-app-two"]}}],
    }
    coupling_body = {"app": "review-app", "pipeline": pipeline.pipeline_id, "stage": "review"}
    with httpx.Client(
        base_url=sandbox.url, headers=headers, verify=tls, event_hooks={"response": [seen.append]}
    ) as api:
        coupling = api.get("/apps/staging-app/pipeline-couplings").json()
        assert coupling["pipeline"]["name"] == "shop", "sent although the schema lists only id"
        api.get(f"/pipelines/{pipeline.pipeline_id}/pipeline-couplings")
        api.get(f"/pipelines/{pipeline.pipeline_id}")
        api.get("/pipelines")
        api.get("/pipelines", params={"eq[name]": "shop"})
        api.get("/pipeline-couplings")
        api.get(f"/pipeline-couplings/{coupling['id']}")
        api.post("/pipeline-couplings", json=coupling_body)
        assert api.get("/pipelines/shop").status_code == 300
        api.post("/filters/apps", json={"in": {"id": list(ids.values())}})
        promotion = api.post("/pipeline-promotions", json=promotion_body).json()
        api.get(f"/pipeline-promotions/{promotion['id']}")
        api.get(f"/pipeline-promotions/{promotion['id']}/promotion-targets")
        finish(api, promotion["id"])
        api.get(f"/pipeline-promotions/{promotion['id']}")
        h.set_promotion_behaviour(pending_seconds=0.02, target_waits_for_release=True)
        h.fail_promotion_target("prod-app", "User does not have access to that app")
        h.set_release_behaviour("prod-app-two", pending_seconds=0.05, outcome="failed")
        failing = api.post("/pipeline-promotions", json=promotion_body).json()
        targets = finish(api, failing["id"])
        assert {t["status"] for t in targets} == {"failed"}
        api.get(f"/pipeline-promotions/{failing['id']}")
        api.get("/apps/container-app/pipeline-couplings")
        api.get("/pipelines/no-such-pipeline")
        api.post("/pipeline-promotions", json={**promotion_body, "targets": []})
        api.post(
            "/pipeline-promotions",
            json={**promotion_body, "targets": [{"app": {"id": ids["foreign-app"]}}]},
        )

    validated = set()
    for response in seen:
        request = response.request
        response.read()
        assert response.headers["Content-Type"] == "application/json"
        if request.method == "POST" and request.url.path != "/filters/apps":
            validate_request(request.method, request.url.path, json.loads(request.content))
        if response.status_code == 300:
            schema = {"type": "array", "items": {"$ref": "#/definitions/pipeline"}}
        elif request.url.path == "/filters/apps":
            schema = {"type": "array", "items": {"$ref": "#/definitions/app"}}
        elif response.is_success:
            schema = target_schema(request.method, request.url.path)
        else:
            schema = ERROR_SCHEMA
        validate(schema, response.json())
        validated.add((request.method, request.url.path.split("/")[1], response.status_code))
    assert validated >= {
        ("GET", "apps", 200),
        ("GET", "apps", 404),
        ("GET", "pipelines", 200),
        ("GET", "pipelines", 300),
        ("GET", "pipelines", 404),
        ("GET", "pipeline-couplings", 200),
        ("POST", "pipeline-couplings", 201),
        ("POST", "filters", 200),
        ("POST", "pipeline-promotions", 201),
        ("POST", "pipeline-promotions", 403),
        ("POST", "pipeline-promotions", 422),
        ("GET", "pipeline-promotions", 200),
    }


def test_strict_properties_are_enforced_by_the_test_schema() -> None:
    """Guards the conversion above: a body missing a property must not pass silently."""
    release_schema = {"$ref": "#/definitions/release"}
    body = {"id": str(uuid.uuid4())}
    errors = list(Draft4Validator({"definitions": DEFINITIONS, **release_schema}).iter_errors(body))
    assert any("is a required property" in error.message for error in errors)
