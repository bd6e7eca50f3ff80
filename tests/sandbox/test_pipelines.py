"""Pipelines and couplings: lookups by app, by id and by (non-unique) name, and the CLI's
``/filters/apps``."""

from __future__ import annotations

import httpx
import pytest

from heroku_schema import validate
from promote_sandbox import Sandbox


def test_an_apps_coupling_is_one_object_naming_its_pipeline(api: httpx.Client, pipeline) -> None:
    response = api.get("/apps/staging-app/pipeline-couplings")
    assert response.status_code == 200
    coupling = response.json()
    assert coupling["app"] == {"id": pipeline.ids["staging-app"]}
    assert coupling["pipeline"] == {"id": pipeline.pipeline_id, "name": "shop"}
    assert coupling["stage"] == "staging"
    by_id = api.get(f"/apps/{pipeline.ids['staging-app']}/pipeline-couplings").json()
    assert by_id == coupling
    assert api.get(f"/pipeline-couplings/{coupling['id']}").json() == coupling


def test_an_app_outside_any_pipeline_has_no_coupling(api: httpx.Client, pipeline) -> None:
    response = api.get("/apps/container-app/pipeline-couplings")
    assert response.status_code == 404
    assert response.json() == {
        "id": "not_found",
        "message": "Couldn't find that pipeline coupling.",
        "resource": "pipeline_coupling",
    }
    assert api.get("/apps/no-such-app/pipeline-couplings").json()["resource"] == "app"
    assert api.get("/apps/foreign-app/pipeline-couplings").status_code == 403


def test_a_pipelines_couplings_list_every_stage(api: httpx.Client, pipeline) -> None:
    response = api.get(f"/pipelines/{pipeline.pipeline_id}/pipeline-couplings")
    assert response.status_code == 200
    stages = {c["app"]["id"]: c["stage"] for c in response.json()}
    assert stages == {
        pipeline.ids["dev-app"]: "development",
        pipeline.ids["staging-app"]: "staging",
        pipeline.ids["prod-app"]: "production",
        pipeline.ids["prod-app-two"]: "production",
    }
    first = api.get(
        f"/pipelines/{pipeline.pipeline_id}/pipeline-couplings", headers={"Range": "id ..; max=3"}
    )
    assert first.status_code == 206
    rest = api.get(
        f"/pipelines/{pipeline.pipeline_id}/pipeline-couplings",
        headers={"Range": first.headers["Next-Range"]},
    )
    assert rest.status_code == 200
    assert len(first.json()) + len(rest.json()) == 4
    assert api.get("/pipelines/shop/pipeline-couplings").status_code == 404, "by id only"


def test_pipeline_by_id_or_unique_name(api: httpx.Client, pipeline) -> None:
    by_id = api.get(f"/pipelines/{pipeline.pipeline_id}")
    assert by_id.status_code == 200
    assert by_id.json()["name"] == "shop"
    assert by_id.json()["owner"]["type"] == "user"
    assert by_id.json()["generation"]["name"] == "cedar"
    assert api.get("/pipelines/shop").json() == by_id.json()
    missing = api.get("/pipelines/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["resource"] == "pipeline"


def test_a_shared_name_answers_300_with_every_candidate(
    sandbox: Sandbox, api: httpx.Client, world, pipeline
) -> None:
    twin = sandbox.heroku.add_pipeline("shop", owner_token=world.token)
    sandbox.heroku.add_pipeline("shop", owner_token=world.other_token)  # invisible to ops
    response = api.get("/pipelines/shop")
    assert response.status_code == 300
    assert sorted(p["id"] for p in response.json()) == sorted([pipeline.pipeline_id, twin.id])
    assert api.get(f"/pipelines/{twin.id}").status_code == 200
    assert [p.name for p in sandbox.heroku.pipelines()] == ["shop", "shop", "shop"]


def test_eq_name_filters_the_list_in_either_spelling(
    sandbox: Sandbox, api: httpx.Client, world, pipeline
) -> None:
    twin = sandbox.heroku.add_pipeline("shop", owner_token=world.token)
    sandbox.heroku.add_pipeline("blog", owner_token=world.token)
    sandbox.heroku.add_pipeline("shop", owner_token=world.other_token)
    assert len(api.get("/pipelines").json()) == 3
    encoded = api.get("/pipelines", params={"eq[name]": "shop"})
    assert "eq%5Bname%5D=shop" in str(encoded.request.url)
    literal = api.get("/pipelines?eq[name]=shop")
    for response in (encoded, literal):
        assert response.status_code == 200
        assert sorted(p["id"] for p in response.json()) == sorted([pipeline.pipeline_id, twin.id])
    assert api.get("/pipelines", params={"eq[name]": "none"}).json() == []


def test_pipelines_are_visible_through_their_apps(
    sandbox: Sandbox, http: httpx.Client, world, pipeline
) -> None:
    headers = {
        "Accept": "application/vnd.heroku+json; version=3.pipelines",
        "Authorization": f"Bearer {world.other_token}",
    }
    url = f"{sandbox.url}/pipelines/{pipeline.pipeline_id}"
    assert http.get(url, headers=headers).status_code == 404
    sandbox.heroku.grant(world.other_token, "prod-app")
    assert http.get(url, headers=headers).status_code == 200


def test_filters_apps_returns_accessible_apps_for_the_cli(
    sandbox: Sandbox, api: httpx.Client, pipeline
) -> None:
    ids = [pipeline.ids["staging-app"], pipeline.ids["prod-app"], pipeline.ids["foreign-app"]]
    response = api.post(
        "/filters/apps",
        json={"in": {"id": [*ids, "00000000-0000-0000-0000-000000000000"]}},
        headers={
            "Accept": "application/vnd.heroku+json; version=3.filters",
            "Range": "id ..; max=1000;",
        },
    )
    assert response.status_code == 200
    assert sorted(a["name"] for a in response.json()) == ["prod-app", "staging-app"]
    assert response.json()[0]["git_url"].startswith("https://git.heroku.com/")
    assert api.post("/filters/apps", json={"in": {"id": "x"}}).status_code == 422


def test_couplings_can_be_created_and_listed(
    sandbox: Sandbox, api: httpx.Client, world, pipeline
) -> None:
    sandbox.heroku.add_app("review-app", owner_token=world.token)
    body = {"app": "review-app", "pipeline": pipeline.pipeline_id, "stage": "review"}
    created = api.post("/pipeline-couplings", json=body)
    assert created.status_code == 201
    assert created.json()["pipeline"] == {"id": pipeline.pipeline_id, "name": "shop"}
    assert api.get("/apps/review-app/pipeline-couplings").json() == created.json()
    again = api.post("/pipeline-couplings", json=body)
    assert again.status_code == 422, "an app belongs to one pipeline at most"
    listed = api.get("/pipeline-couplings").json()
    assert len(listed) == 5
    assert created.json() in listed


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"app": "container-app", "pipeline": "PIPELINE", "stage": "staging"}, 201),
        ({"app": "container-app", "pipeline": "PIPELINE", "stage": "qa"}, 422),
        ({"app": "container-app", "pipeline": "PIPELINE"}, 422),
        ({"app": "container-app", "pipeline": "shop", "stage": "staging"}, 404),
        ({"app": "foreign-app", "pipeline": "PIPELINE", "stage": "staging"}, 403),
    ],
)
def test_coupling_creation_is_validated(
    api: httpx.Client, pipeline, body: dict[str, str], status: int
) -> None:
    body = {k: pipeline.pipeline_id if v == "PIPELINE" else v for k, v in body.items()}
    assert api.post("/pipeline-couplings", json=body).status_code == status


def test_seeding_refuses_what_heroku_would(sandbox: Sandbox, world, pipeline) -> None:
    h = sandbox.heroku
    with pytest.raises(ValueError, match="already in a pipeline"):
        h.couple("staging-app", pipeline.pipeline_id, "production")
    with pytest.raises(ValueError, match="stage must be one of"):
        h.couple("container-app", pipeline.pipeline_id, "qa")  # type: ignore[arg-type]
    h.add_app("fir-app", owner_token=world.token, generation="fir")
    with pytest.raises(ValueError, match="fir app"):
        h.couple("fir-app", pipeline.pipeline_id, "staging")
    with pytest.raises(ValueError, match="pipeline name"):
        h.add_pipeline("Shop!", owner_token=world.token)


def test_latest_releases_list_each_pipeline_apps_newest_release(
    api: httpx.Client, pipeline, world
) -> None:
    """`GET /pipelines/{id}/latest-releases` ("Pipeline Release List", outside the schema
    subset): one release object per app of the pipeline that has releases, the newest by
    version even while it is pending (that item shape and meaning are UNVERIFIED)."""
    path = f"/pipelines/{pipeline.pipeline_id}/latest-releases"
    before = api.get(path)
    assert before.status_code == 200
    for item in before.json():
        validate({"$ref": "#/definitions/release"}, item)
    newest = {item["app"]["id"]: item["version"] for item in before.json()}
    assert set(newest) == {pipeline.ids[a] for a in ("staging-app", "prod-app", "prod-app-two")}
    assert pipeline.ids["dev-app"] not in newest, "an app without releases has no item"

    created = api.post("/apps/prod-app-two/releases", json={"slug": world.staging_slugs[1]})
    assert created.status_code == 201
    after = {item["app"]["id"]: item for item in api.get(path).json()}
    mine = after[pipeline.ids["prod-app-two"]]
    assert (mine["id"], mine["status"]) == (created.json()["id"], "pending")
    assert mine["version"] == newest[pipeline.ids["prod-app-two"]] + 1

    missing = api.get("/pipelines/01234567-89ab-cdef-0123-456789abcdef/latest-releases")
    assert missing.status_code == 404
    assert missing.json()["id"] == "not_found"
