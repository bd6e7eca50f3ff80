"""Version, auth, access and validation errors carry Heroku's status and body."""

from __future__ import annotations

import base64
import uuid

import httpx
import pytest

from promote_sandbox import Sandbox

from_version_3 = "application/vnd.heroku+json; version=3"


@pytest.mark.parametrize(
    "accept",
    [
        None,
        "application/json",
        "application/vnd.heroku+json",
        "application/vnd.heroku+json; version=2",
    ],
)
def test_missing_or_wrong_api_version_is_406(
    http: httpx.Client, sandbox: Sandbox, world, accept
) -> None:
    headers = {"Authorization": f"Bearer {world.token}"}
    if accept is not None:
        headers["Accept"] = accept
    response = http.get(f"{sandbox.url}/account", headers=headers)
    assert response.status_code == 406
    assert response.json()["id"] == "not_acceptable"


@pytest.mark.parametrize(
    "accept",
    [
        from_version_3,
        "application/vnd.heroku+json; version=3.sdk",
        "application/vnd.heroku+json; version=3.pipelines",
        "application/vnd.heroku+json; version=3.filters",
        f"text/html, {from_version_3}, */*",
    ],
)
def test_version_3_variants_are_accepted(
    http: httpx.Client, sandbox: Sandbox, world, accept: str
) -> None:
    headers = {"Accept": accept, "Authorization": f"Bearer {world.token}"}
    assert http.get(f"{sandbox.url}/account", headers=headers).status_code == 200


@pytest.mark.parametrize("authorization", [None, "Bearer HRKU-" + "0" * 60, "Token abc"])
def test_missing_or_unknown_credentials_are_401(
    http: httpx.Client, sandbox: Sandbox, world, authorization
) -> None:
    headers = {"Accept": from_version_3}
    if authorization is not None:
        headers["Authorization"] = authorization
    response = http.get(f"{sandbox.url}/apps/staging-app", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"id": "unauthorized", "message": "Invalid credentials provided."}


@pytest.mark.parametrize("user", ["", "ops@example.com"])
def test_basic_auth_with_the_token_as_password_is_accepted(
    http: httpx.Client, sandbox: Sandbox, world, user: str
) -> None:
    credentials = base64.b64encode(f"{user}:{world.token}".encode()).decode()
    headers = {"Accept": from_version_3, "Authorization": f"Basic {credentials}"}
    response = http.get(f"{sandbox.url}/account", headers=headers)
    assert response.status_code == 200
    assert response.json()["email"] == "ops@example.com"


def test_app_is_addressable_by_name_or_id(sandbox: Sandbox, api: httpx.Client) -> None:
    app = api.get("/apps/staging-app").json()
    assert app["id"] == sandbox.heroku.app("staging-app").id
    assert api.get(f"/apps/{app['id']}").json()["name"] == "staging-app"


def test_unknown_app_is_404_with_resource(api: httpx.Client) -> None:
    response = api.get("/apps/no-such-app/releases")
    assert response.status_code == 404
    assert response.json() == {
        "id": "not_found",
        "message": "Couldn't find that app.",
        "resource": "app",
    }


def test_app_without_access_is_403(api: httpx.Client) -> None:
    response = api.get("/apps/foreign-app/releases")
    assert response.status_code == 403
    assert response.json() == {
        "id": "forbidden",
        "message": "You do not have access to the app foreign-app.",
    }


def test_granted_collaborator_gets_access(sandbox: Sandbox, api: httpx.Client, world) -> None:
    sandbox.heroku.grant(world.token, "foreign-app")
    assert api.get("/apps/foreign-app").status_code == 200


def test_unknown_release_and_endpoint_are_404(api: httpx.Client) -> None:
    for ident in ["99", str(uuid.uuid4())]:
        response = api.get(f"/apps/staging-app/releases/{ident}")
        assert response.status_code == 404
        assert response.json()["resource"] == "release"
    response = api.delete("/apps/staging-app/releases")
    assert response.status_code == 404
    assert response.json()["id"] == "not_found"
    assert "endpoint was not found" in response.json()["message"]


def test_slug_of_an_app_without_access_is_403_on_create(api: httpx.Client, world) -> None:
    response = api.post("/apps/prod-app/releases", json={"slug": world.foreign_slug})
    assert response.status_code == 403
    assert response.json()["id"] == "forbidden"


def test_unknown_slug_is_404(api: httpx.Client) -> None:
    response = api.post("/apps/prod-app/releases", json={"slug": str(uuid.uuid4())})
    assert response.status_code == 404
    assert response.json() == {
        "id": "not_found",
        "message": "Couldn't find that slug.",
        "resource": "slug",
    }


@pytest.mark.parametrize(
    "content",
    [b"{}", b"", b"not json", b"[1]", b'{"slug": 42}', b'{"description": "x"}', b'{"release": 5}'],
)
def test_invalid_create_body_is_422(api: httpx.Client, content: bytes) -> None:
    response = api.post(
        "/apps/prod-app/releases", content=content, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["id"] == "invalid_params"


def test_slug_info_follows_the_slugs_app_access(api: httpx.Client, world) -> None:
    shared = api.get(f"/apps/prod-app/slugs/{world.staging_slugs[2]}")
    assert shared.status_code == 200
    assert shared.json()["commit"] == "3" * 40
    assert shared.json()["commit_description"] == "Fix login"
    assert api.get(f"/apps/prod-app/slugs/{world.foreign_slug}").status_code == 403
    assert api.get(f"/apps/prod-app/slugs/{uuid.uuid4()}").status_code == 404


def test_two_factor_is_required_on_every_route(sandbox: Sandbox, api: httpx.Client, world) -> None:
    sandbox.heroku.require_two_factor(world.token)
    for path in ["/account", "/account/rate-limits", "/apps/staging-app/releases"]:
        response = api.get(path)
        assert response.status_code == 403
        assert response.json() == {"id": "two_factor", "message": "Two factor code is required."}
    response = api.post("/apps/prod-app/releases", json={"slug": world.staging_slugs[0]})
    assert response.status_code == 403
    assert len(sandbox.heroku.releases("prod-app")) == 1


def test_every_api_response_carries_request_id_and_rate_limit(api: httpx.Client) -> None:
    responses = [api.get("/account"), api.get("/apps/no-such-app"), api.get("/nowhere")]
    ids = {uuid.UUID(r.headers["Request-Id"]) for r in responses}
    assert len(ids) == 3
    assert all(r.headers["RateLimit-Remaining"].isdigit() for r in responses)
    assert all(r.headers["Content-Type"] == "application/json" for r in responses)


def test_config_vars_answer_names_and_values_and_never_reach_the_log(sandbox, world, api) -> None:
    sandbox.heroku.set_config_vars("staging-app", {"DATABASE_URL": "postgres://user:hunter2@db/x"})
    assert api.get("/apps/staging-app/config-vars").json() == {
        "DATABASE_URL": "postgres://user:hunter2@db/x"
    }
    assert "hunter2" not in sandbox.request_log_text()
