"""kintone settings documents: preview/live pairs with their revisions, the one writer, app.json,
and the answers to requests kintone has no route for."""

from __future__ import annotations

import base64

import httpx
import pytest

from promote_sandbox import Sandbox
from promote_sandbox.kintone import DOCUMENTS

DEPLOY = "/k/v1/preview/app/deploy.json"
SETTINGS = "/k/v1/preview/app/settings.json"


def test_general_settings_preview_and_live(kintone: httpx.Client) -> None:
    preview = kintone.get(SETTINGS, params={"app": 2})
    live = kintone.get("/k/v1/app/settings.json", params={"app": "2"})
    common = {
        "name": "Customers",
        "description": "",
        "icon": {"type": "PRESET", "key": "APP72"},
        "theme": "WHITE",
    }
    assert preview.json() == {**common, "revision": "8"}
    assert live.json() == {**common, "revision": "6"}
    assert preview.headers["Content-Type"] == "application/json"


def test_every_document_has_a_preview_and_a_live_side_that_a_deploy_copies(
    sandbox: Sandbox, kintone: httpx.Client, deployed
) -> None:
    k = sandbox.kintone
    changes = {
        "fields": {"Total": {"type": "NUMBER", "code": "Total", "label": "Total"}},
        "layout": [{"type": "ROW", "fields": [{"type": "NUMBER", "code": "Total"}]}],
        "views": {"Big orders": {"type": "LIST", "name": "Big orders", "filterCond": "Total > 9"}},
        "status": {"enable": True},
        "customize": {
            "desktop": {"js": [{"type": "URL", "url": "https://x.test/a.js"}], "css": []}
        },
    }
    assert k.change_preview(1, **changes) == 6

    def documents(prefix: str) -> dict[str, dict[str, object]]:
        return {
            d: kintone.get(f"/k/v1{prefix}/app/{d}.json", params={"app": 1}).json()
            for d in DOCUMENTS
        }

    preview, live = documents("/preview"), documents("")
    assert {d: doc.pop("revision") for d, doc in preview.items()} == dict.fromkeys(DOCUMENTS, "6")
    assert {d: doc.pop("revision") for d, doc in live.items()} == dict.fromkeys(DOCUMENTS, "5")
    assert preview["form/fields"] == {"properties": changes["fields"]}
    assert preview["form/layout"] == {"layout": changes["layout"]}
    [view] = preview["views"]["views"].values()
    assert view == {**changes["views"]["Big orders"], "id": view["id"]}, "a view has an id"
    assert preview["status"]["enable"] is True
    assert set(preview["status"]) == {"enable", "states", "actions"}
    assert preview["customize"]["desktop"] == changes["customize"]["desktop"]
    assert preview["customize"]["scope"] == "ALL"
    assert live["form/fields"]["properties"]["Title"]["type"] == "SINGLE_LINE_TEXT"
    assert live["status"]["enable"] is False
    assert preview == k.app(1).preview
    assert live == k.app(1).live

    kintone.post(DEPLOY, json={"apps": [{"app": 1, "revision": 6}]})
    deployed(kintone, [1])

    assert documents("") == {d: {**doc, "revision": "6"} for d, doc in preview.items()}


def test_the_writer_bumps_the_preview_revision_and_honours_an_expected_one(
    sandbox: Sandbox, kintone: httpx.Client
) -> None:
    first = kintone.put(SETTINGS, json={"app": 1, "name": "Orders (new)", "revision": 5})
    second = kintone.put(SETTINGS, json={"app": "1", "theme": "RED", "revision": "-1"})
    stale = kintone.put(SETTINGS, json={"app": 1, "description": "x", "revision": 6})

    assert [(r.status_code, r.json()) for r in (first, second)] == [
        (200, {"revision": "6"}),
        (200, {"revision": "7"}),
    ]
    assert stale.status_code == 409
    assert stale.json()["code"] == "GAIA_CO03"
    preview = kintone.get(SETTINGS, params={"app": 1}).json()
    assert (preview["name"], preview["theme"], preview["description"]) == (
        "Orders (new)",
        "RED",
        "",
    )
    assert preview["revision"] == "7"
    live = kintone.get("/k/v1/app/settings.json", params={"app": 1}).json()
    assert (live["name"], live["revision"]) == ("Orders", "5"), "preview only"
    assert sandbox.kintone.app(1).preview_revision == 7


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"name": "x"}, {"app": ["Required field."]}),
        ({"app": 0}, {"app": ["must be greater than or equal to 1"]}),
        ({"app": 1, "name": ""}, {"name": ["Required field."]}),
        ({"app": 1, "revision": "latest"}, {"revision": ["Enter an integer value."]}),
    ],
)
def test_invalid_writes_get_cb_va01(kintone: httpx.Client, body, errors) -> None:
    response = kintone.put(SETTINGS, json=body)
    assert response.status_code == 400
    assert response.json()["code"] == "CB_VA01"
    assert response.json()["errors"] == {k: {"messages": v} for k, v in errors.items()}


def test_reads_take_their_parameters_from_the_query_or_a_json_body(
    kintone: httpx.Client,
) -> None:
    override = {"X-HTTP-Method-Override": "GET"}
    answers = [
        kintone.get(SETTINGS, params={"app": 1}),
        kintone.request("GET", SETTINGS, json={"app": 1}),
        kintone.post(SETTINGS, json={"app": 1}, headers=override),
    ]
    assert {r.status_code for r in answers} == {200}
    assert len({r.text for r in answers}) == 1
    missing = kintone.get(SETTINGS)
    assert missing.status_code == 400
    assert missing.json()["errors"] == {"app": {"messages": ["Required field."]}}


def test_preview_needs_app_management_and_live_needs_view(
    sandbox: Sandbox, kworld, http: httpx.Client
) -> None:
    def get(path: str, headers: dict[str, str]) -> tuple[int, str | None]:
        response = http.get(f"{sandbox.url}{path}", params={"app": 1}, headers=headers)
        return response.status_code, response.json().get("code")

    view_token = {"X-Cybozu-API-Token": kworld.view_token}
    assert get(SETTINGS, kworld.viewer) == (403, "CB_NO02")
    assert get("/k/v1/app/settings.json", kworld.viewer) == (200, None)
    assert get(SETTINGS, view_token) == (403, "GAIA_NO01")
    assert get("/k/v1/app/form/fields.json", view_token) == (200, None)
    sandbox.kintone.add_user("stranger", "stranger-pass")
    stranger = {"X-Cybozu-Authorization": base64.b64encode(b"stranger:stranger-pass").decode()}
    assert get("/k/v1/app/settings.json", stranger) == (403, "CB_NO02")
    manage_only = {"X-Cybozu-API-Token": sandbox.kintone.add_api_token(1, view=False)}
    assert get("/k/v1/app/views.json", manage_only) == (403, "GAIA_NO01")


def test_app_json_describes_a_published_app(kintone: httpx.Client) -> None:
    app = kintone.get("/k/v1/app.json", params={"id": 2}).json()
    assert {k: app[k] for k in ("appId", "code", "name", "spaceId", "threadId")} == {
        "appId": "2",
        "code": "",
        "name": "Customers",
        "spaceId": None,
        "threadId": None,
    }
    assert set(app) >= {"createdAt", "creator", "modifiedAt", "modifier", "description"}
    guest = kintone.get("/k/guest/7/v1/app.json", params={"id": 3}).json()
    assert (guest["spaceId"], guest["threadId"]) == ("7", "7")


def test_unknown_apis_answer_404_in_kintones_shape(sandbox: Sandbox, kintone: httpx.Client) -> None:
    """No route, and a POST to a read-only API without the override, are the same to kintone."""
    for response in (
        kintone.get("/k/v1/preview/app/nothing.json", params={"app": 1}),
        kintone.post("/k/v1/app/settings.json", json={"app": 1}),
    ):
        assert response.status_code == 404
        body = response.json()
        assert (body["code"], body["message"]) == ("GAIA_NF01", "The specified API is not found.")
        assert response.headers["X-ConcurrencyLimit-Limit"] == "100"
    assert [r.service for r in sandbox.requests] == ["kintone", "kintone"]


def test_settings_writes_refused_by_kintone_change_nothing(
    sandbox: Sandbox, kintone: httpx.Client
) -> None:
    fields = "/k/v1/preview/app/form/fields.json"
    refusals = [
        kintone.put(
            fields,
            json={"app": 1, "properties": {"Title": {"type": "NUMBER"}}, "revision": 5},
        ),
        kintone.put(fields, json={"app": 1, "properties": {"Nope": {"type": "NUMBER"}}}),
        kintone.request("DELETE", fields, json={"app": 1, "fields": ["Record_number"]}),
        kintone.post(fields, json={"app": 1, "properties": {"Title": {"type": "NUMBER"}}}),
        kintone.put(
            "/k/v1/preview/app/customize.json",
            json={"app": 1, "desktop": {"js": [{"type": "FILE", "file": {"fileKey": "x"}}]}},
        ),
        kintone.put("/k/v1/preview/app/views.json", json={"app": 1, "views": {}, "revision": 4}),
    ]

    codes = [(r.status_code, r.json()["code"]) for r in refusals]
    assert codes == [
        (400, "CB_VA01"),
        (400, "GAIA_FC01"),
        (400, "CB_VA01"),
        (400, "GAIA_FC02"),
        (400, "GAIA_BL01"),
        (409, "GAIA_CO03"),
    ]
    assert sandbox.kintone.app(1).preview_revision == 5


def test_views_keep_their_ids_and_a_file_is_stored_under_a_key_of_the_app(
    sandbox: Sandbox, kintone: httpx.Client
) -> None:
    views = "/k/v1/preview/app/views.json"
    before = kintone.get(views, params={"app": 1}).json()["views"]["All records"]["id"]
    renamed = {
        "All records": {"type": "LIST", "name": "All records", "index": "1"},
        "New": {"type": "LIST", "name": "New", "index": "0"},
    }
    answer = kintone.put(views, json={"app": 1, "views": renamed}).json()
    assert answer["revision"] == "6"
    assert answer["views"]["All records"] == {"id": before}
    assert answer["views"]["New"]["id"] not in (before, None)

    upload = kintone.post("/k/v1/file.json", files={"file": ("a.css", b"p{}", "text/css")})
    temporary = upload.json()["fileKey"]
    customize = {"app": 1, "desktop": {"css": [{"type": "FILE", "file": {"fileKey": temporary}}]}}
    kintone.put("/k/v1/preview/app/customize.json", json=customize).raise_for_status()
    stored = kintone.get("/k/v1/preview/app/customize.json", params={"app": 1}).json()
    [entry] = stored["desktop"]["css"]
    assert entry["file"]["name"] == "a.css"
    assert entry["file"]["size"] == "3"
    assert entry["file"]["fileKey"] != temporary
    download = kintone.get("/k/v1/file.json", params={"fileKey": entry["file"]["fileKey"]})
    assert (download.content, download.headers["Content-Type"]) == (b"p{}", "text/css")
