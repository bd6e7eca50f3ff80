"""Every JSON body of a realistic slug-copy run conforms to the Platform API hyper-schema."""

from __future__ import annotations

import json
import re
import ssl
import uuid
from pathlib import Path
from typing import Any

import httpx
from jsonschema import Draft4Validator, FormatChecker

from promote_action.sandbox import Sandbox

SCHEMA = json.loads((Path(__file__).parent / "heroku-platform-api.schema.json").read_text())
ERROR_SCHEMA = {
    "type": "object",
    "required": ["id", "message"],
    "properties": {
        "id": {"type": "string", "pattern": "^[a-z_]+$"},
        "message": {"type": "string", "minLength": 1},
        "url": {"type": "string"},
        "resource": {"type": "string"},
    },
    "additionalProperties": False,
}

FORMATS = FormatChecker()


@FORMATS.checks("date-time")
def _is_heroku_timestamp(value: object) -> bool:
    return not isinstance(value, str) or bool(
        re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", value)
    )


def _resolvable(ref: str) -> bool:
    node: Any = SCHEMA
    for escaped in ref.removeprefix("#/").split("/"):
        token = escaped.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or token not in node:
            return False
        node = node[token]
    return True


def _prepare(node: Any) -> Any:
    """Missing ``$ref`` targets (the subset omits stack, team, ...) become permissive ``{}``;
    Heroku's ``strictProperties`` becomes what it means: all properties, nothing else."""
    if isinstance(node, list):
        return [_prepare(item) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node and not _resolvable(node["$ref"]):
        return {}
    prepared = {key: _prepare(value) for key, value in node.items()}
    if prepared.get("strictProperties") and "properties" in prepared:
        prepared["additionalProperties"] = False
        prepared["required"] = sorted(prepared["properties"])
    return prepared


DEFINITIONS = _prepare(SCHEMA["definitions"])


def _links() -> list[tuple[str, re.Pattern[str], dict[str, Any]]]:
    links = []
    for definition in DEFINITIONS.values():
        for link in definition.get("links", []):
            if "targetSchema" in link:
                pattern = re.sub(r"\\\{.*?\\\}", "[^/]+", re.escape(link["href"]))
                links.append((link["method"], re.compile(pattern), link["targetSchema"]))
    return links


LINKS = _links()


def _target_schema(method: str, path: str) -> dict[str, Any]:
    found = [schema for m, pattern, schema in LINKS if m == method and pattern.fullmatch(path)]
    assert found, f"the schema documents no {method} {path}"
    return found[0]


def _validate(schema: dict[str, Any], body: Any) -> None:
    Draft4Validator({"definitions": DEFINITIONS, **schema}, format_checker=FORMATS).validate(body)


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
            schema = _target_schema(request.method, request.url.path)
        else:
            schema = ERROR_SCHEMA
        _validate(schema, response.json())
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
