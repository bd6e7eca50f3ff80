"""kintone deploys: the POST, the three status forms, job outcomes, revisions, revert, the check
order, guest spaces and the lock window (API_NOTES 2.1-2.6, 2.11)."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from promote_sandbox import Sandbox

DEPLOY = "/k/v1/preview/app/deploy.json"
GUEST_SPACE = 7  # app 3 of the kworld fixture lives there
GUEST_DEPLOY = f"/k/guest/{GUEST_SPACE}/v1/preview/app/deploy.json"


def _status(client: httpx.Client, *apps: int) -> list[dict[str, str]]:
    response = client.get(DEPLOY, params={f"apps[{i}]": a for i, a in enumerate(apps)})
    assert response.status_code == 200, response.text
    statuses: list[dict[str, str]] = response.json()["apps"]
    return statuses


def _error(response: httpx.Response) -> tuple[int, str]:
    body = response.json()
    assert set(body) <= {"code", "id", "message", "errors"}
    assert len(body["id"]) == 20
    assert response.headers["X-Cybozu-Error"] == body["code"]
    return response.status_code, body["code"]


def test_deploy_copies_preview_to_live_without_a_new_revision(
    sandbox: Sandbox, kintone: httpx.Client, deployed
) -> None:
    k = sandbox.kintone
    fields = {"Amount": {"type": "NUMBER", "code": "Amount", "label": "Amount"}}
    assert k.change_preview(1, name="Orders v2", fields=fields) == 6
    before = k.app(1)
    assert (before.preview_revision, before.live_revision) == (6, 5)

    accepted = kintone.post(DEPLOY, json={"apps": [{"app": 1, "revision": 6}], "revert": False})

    assert (accepted.status_code, accepted.json()) == (200, {})
    assert _status(kintone, 1) == [{"app": "1", "status": "PROCESSING"}]
    assert deployed(kintone, [1]) == [{"app": "1", "status": "SUCCESS"}]
    after = k.app(1)
    assert (after.preview_revision, after.live_revision) == (6, 6)
    assert after.live == after.preview == before.preview
    assert after.live is not None
    assert after.live["form/fields"]["properties"] == fields
    live = kintone.get("/k/v1/app/settings.json", params={"app": 1}).json()
    assert (live["name"], live["revision"]) == ("Orders v2", "6")
    assert [(j.apps, j.revert, dict(j.status)) for j in k.deploys()] == [
        (("1",), False, {"1": "SUCCESS"})
    ]


def test_status_in_its_three_wire_forms_answers_in_request_order(
    sandbox: Sandbox, kintone: httpx.Client
) -> None:
    sandbox.kintone.set_deploy_behaviour(processing_seconds=30)
    kintone.post(DEPLOY, json={"apps": [{"app": 2}]})
    expected = {"apps": [{"app": "2", "status": "PROCESSING"}, {"app": "1", "status": "SUCCESS"}]}
    raw = httpx.URL(f"{sandbox.url}{DEPLOY}", query=b"apps[0]=2&apps[1]=1")
    encoded = httpx.URL(f"{sandbox.url}{DEPLOY}", query=b"apps%5B0%5D=2&apps%5B1%5D=1")
    body = json.dumps({"apps": [2, "1"]})
    json_header = {"Content-Type": "application/json"}
    override = {**json_header, "X-HTTP-Method-Override": "GET"}

    answers = [
        kintone.get(raw),
        kintone.get(encoded),
        kintone.request("GET", DEPLOY, content=body, headers=json_header),
        kintone.post(DEPLOY, content=body, headers=override),
    ]

    assert [(a.status_code, a.json()) for a in answers] == [(200, expected)] * 4
    logged = sandbox.requests[1:]
    assert [(r.method, r.query) for r in logged] == [
        ("GET", "apps[0]=2&apps[1]=1"),
        ("GET", "apps%5B0%5D=2&apps%5B1%5D=1"),
        ("GET", ""),
        ("POST", ""),
    ]
    assert [r.is_write for r in logged] == [False] * 4
    assert len(sandbox.kintone.deploys()) == 1, "the overridden POST deployed nothing"


def test_an_app_never_deployed_reports_success(kintone: httpx.Client) -> None:
    assert _status(kintone, 2, 1) == [
        {"app": "2", "status": "SUCCESS"},
        {"app": "1", "status": "SUCCESS"},
    ]


def test_one_failure_fails_that_app_cancels_the_others_and_changes_nothing(
    sandbox: Sandbox, kintone: httpx.Client, deployed
) -> None:
    k = sandbox.kintone
    k.set_deploy_behaviour(processing_seconds=0.05, fail_apps=[2])
    k.change_preview(1, name="Orders v2")
    before = {app: k.app(app) for app in (1, 2)}

    kintone.post(DEPLOY, json={"apps": [{"app": 1}, {"app": 2}]})

    assert deployed(kintone, [1, 2]) == [
        {"app": "1", "status": "CANCEL"},
        {"app": "2", "status": "FAIL"},
    ]
    assert {app: k.app(app) for app in (1, 2)} == before
    time.sleep(0.06)
    assert _status(kintone, 1, 2)[1]["status"] == "FAIL", "a terminal status stays"
    kintone.post(DEPLOY, json={"apps": [{"app": 2}]})
    assert _status(kintone, 1, 2) == [
        {"app": "1", "status": "CANCEL"},
        {"app": "2", "status": "PROCESSING"},
    ]
    assert deployed(kintone, [2]) == [{"app": "2", "status": "SUCCESS"}], "a failure fires once"
    assert k.app(2).live_revision == 8
    assert [dict(j.status) for j in k.deploys()] == [
        {"1": "CANCEL", "2": "FAIL"},
        {"2": "SUCCESS"},
    ]


@pytest.mark.parametrize(("revert_revision", "preview_after"), [("live", 6), ("increment", 10)])
def test_revert_copies_live_to_preview_and_leaves_live_alone(
    sandbox: Sandbox, kintone: httpx.Client, deployed, revert_revision, preview_after: int
) -> None:
    k = sandbox.kintone
    k.set_deploy_behaviour(processing_seconds=0.05, revert_revision=revert_revision)
    k.change_preview(2, name="Customers draft", customize={"scope": "ADMIN"})
    before = k.app(2)
    assert before.preview != before.live

    kintone.post(DEPLOY, json={"apps": [{"app": 2, "revision": "9"}], "revert": "true"})

    assert deployed(kintone, [2]) == [{"app": "2", "status": "SUCCESS"}]
    after = k.app(2)
    assert after.preview == after.live == before.live
    assert (after.preview_revision, after.live_revision) == (preview_after, 6)
    preview = kintone.get("/k/v1/preview/app/settings.json", params={"app": 2}).json()
    assert (preview["name"], preview["revision"]) == ("Customers", str(preview_after))
    assert k.deploys()[0].revert is True


def test_revert_of_a_never_published_app_succeeds_and_leaves_it_unpublished(
    sandbox: Sandbox, kintone: httpx.Client, deployed
) -> None:
    app = sandbox.kintone.add_app(managers=["admin"], published=False)
    assert (app.id, app.live_revision, app.published) == ("4", None, False)

    kintone.post(DEPLOY, json={"apps": [{"app": 4}], "revert": True})

    assert deployed(kintone, [4]) == [{"app": "4", "status": "SUCCESS"}]
    assert sandbox.kintone.app(4) == app
    assert _error(kintone.get("/k/v1/app.json", params={"id": 4})) == (404, "GAIA_AP01")
    kintone.post(DEPLOY, json={"apps": [{"app": 4}]})
    deployed(kintone, [4])
    assert sandbox.kintone.app(4).live_revision == 5
    assert kintone.get("/k/v1/app.json", params={"id": 4}).json()["appId"] == "4"


def test_a_revision_mismatch_rejects_the_whole_request(
    sandbox: Sandbox, kintone: httpx.Client
) -> None:
    response = kintone.post(
        DEPLOY, json={"apps": [{"app": 1, "revision": 5}, {"app": 2, "revision": 6}]}
    )
    assert _error(response) == (409, "GAIA_CO03")
    assert response.json()["message"] == (
        "The revision is not the latest. Someone may update the app settings (ID: 2)."
    )
    assert sandbox.kintone.deploys() == []
    assert _status(kintone, 1, 2) == [
        {"app": "1", "status": "SUCCESS"},
        {"app": "2", "status": "SUCCESS"},
    ]
    unchecked = {"apps": [{"app": "1", "revision": -1}, {"app": 2}, {"app": 3, "revision": "-1"}]}
    guest_answer = kintone.post(DEPLOY, json=unchecked)
    assert _error(guest_answer) == (400, "GAIA_IL23")
    unchecked["apps"].pop()
    assert kintone.post(DEPLOY, json=unchecked).status_code == 200


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({}, {"apps": ["Required field."]}),
        ({"apps": []}, {"apps": ["Required field."]}),
        ({"apps": [{}]}, {"apps[0].app": ["Required field."]}),
        ({"apps": [{"app": 0}]}, {"apps[0].app": ["must be greater than or equal to 1"]}),
        ({"apps": [{"app": "x"}]}, {"apps[0].app": ["Enter an integer value."]}),
        ({"apps": [{"app": 1}, {"app": "1"}]}, {"apps[1].app": ["App ID is duplicated."]}),
        (
            {"apps": [{"app": 1, "revision": "v5"}]},
            {"apps[0].revision": ["Enter an integer value."]},
        ),
        ({"apps": [{"app": 1}], "revert": "yes"}, {"revert": ["must be boolean."]}),
        (
            {"apps": [{"app": a} for a in range(1, 302)]},
            {"apps": ["size must be between 0 and 300"]},
        ),
        (
            {"apps": [{"app": -1, "revision": True}], "revert": 1},
            {
                "apps[0].app": ["must be greater than or equal to 1"],
                "apps[0].revision": ["Enter an integer value."],
                "revert": ["must be boolean."],
            },
        ),
    ],
)
def test_invalid_deploy_bodies_get_cb_va01_with_every_problem(
    sandbox: Sandbox, kintone: httpx.Client, body: dict[str, Any], errors
) -> None:
    response = kintone.post(DEPLOY, json=body)
    assert _error(response) == (400, "CB_VA01")
    assert response.json()["message"] == "Missing or invalid input."
    assert response.json()["errors"] == {k: {"messages": v} for k, v in errors.items()}
    assert sandbox.kintone.deploys() == []


def test_a_body_that_is_not_json_gets_cb_ij01(kintone: httpx.Client) -> None:
    response = kintone.post(DEPLOY, content=b"{apps:", headers={"Content-Type": "application/json"})
    assert _error(response) == (400, "CB_IJ01")


def test_checks_run_in_kintones_order(
    sandbox: Sandbox, kworld, kintone: httpx.Client, http: httpx.Client, deployed
) -> None:
    """Each request breaks two rules; the one checked first answers."""
    sandbox.kintone.set_deploy_behaviour(processing_seconds=0.05, lock_seconds=30)
    kintone.post(DEPLOY, json={"apps": [{"app": 2}]})
    deployed(kintone, [2])
    viewer, admin = kworld.viewer, kworld.admin
    cases = [
        ({}, {"apps": [{"app": 0}]}, (401, "CB_AU01")),  # auth, then validation
        (viewer, {"apps": [{"app": 999}, {"app": 0}]}, (400, "CB_VA01")),  # then resolution
        (viewer, {"apps": [{"app": 1}, {"app": 999}]}, (404, "GAIA_AP01")),  # then permission
        (viewer, {"apps": [{"app": 2}]}, (403, "CB_NO02")),  # then the lock
        (admin, {"apps": [{"app": 2, "revision": 1}]}, (400, "GAIA_DA02")),  # then revisions
        (admin, {"apps": [{"app": 1, "revision": 1}]}, (409, "GAIA_CO03")),
    ]
    url = f"{sandbox.url}{DEPLOY}"
    answers = [_error(http.post(url, json=body, headers=headers)) for headers, body, _ in cases]
    assert answers == [expected for _, _, expected in cases]
    assert len(sandbox.kintone.deploys()) == 1


def test_guest_space_apps_need_their_space_path_and_only_theirs(
    sandbox: Sandbox, kintone: httpx.Client, deployed
) -> None:
    assert _error(kintone.post(DEPLOY, json={"apps": [{"app": 3}]})) == (400, "GAIA_IL23")
    assert _error(kintone.get(DEPLOY, params={"apps[0]": 3})) == (400, "GAIA_IL23")
    assert _error(kintone.post(GUEST_DEPLOY, json={"apps": [{"app": 1}]})) == (403, "CB_NO02")
    other_space = GUEST_DEPLOY.replace(f"/{GUEST_SPACE}/", "/8/")
    assert _error(kintone.post(other_space, json={"apps": [{"app": 3}]})) == (403, "CB_NO02")
    assert _error(kintone.post(GUEST_DEPLOY, json={"apps": [{"app": 9}]})) == (404, "GAIA_AP01")

    assert kintone.post(GUEST_DEPLOY, json={"apps": [{"app": 3, "revision": 3}]}).json() == {}

    assert deployed(kintone, [3], GUEST_DEPLOY) == [{"app": "3", "status": "SUCCESS"}]
    guest_settings = f"/k/guest/{GUEST_SPACE}/v1/app/settings.json"
    assert kintone.get(guest_settings, params={"app": 3}).json()["revision"] == "3"
    assert [(j.apps, dict(j.status)) for j in sandbox.kintone.deploys()] == [
        (("3",), {"3": "SUCCESS"})
    ]


def test_apps_stay_locked_while_deploying_and_for_the_lock_window_after(
    sandbox: Sandbox, kintone: httpx.Client, deployed
) -> None:
    sandbox.kintone.set_deploy_behaviour(processing_seconds=0.1, lock_seconds=0.3)
    settings = {"app": 1, "name": "Renamed"}
    kintone.post(DEPLOY, json={"apps": [{"app": 1}]})

    during = [
        kintone.post(DEPLOY, json={"apps": [{"app": 1}]}),
        kintone.put("/k/v1/preview/app/settings.json", json=settings),
    ]
    other_app = kintone.post(DEPLOY, json={"apps": [{"app": 2}]})
    assert deployed(kintone, [1]) == [{"app": "1", "status": "SUCCESS"}]
    after = [
        kintone.post(DEPLOY, json={"apps": [{"app": 1}]}),
        kintone.put("/k/v1/preview/app/settings.json", json=settings),
    ]
    reads = kintone.get("/k/v1/preview/app/settings.json", params={"app": 1})
    time.sleep(0.3)
    unlocked = kintone.put("/k/v1/preview/app/settings.json", json=settings)

    assert [_error(r) for r in during + after] == [(400, "GAIA_DA02")] * 4
    assert during[0].json()["message"] == (
        "The operation failed because the database could not be locked. "
        "Please wait a while and try again."
    )
    assert other_app.status_code == 200, "the lock is per app"
    assert reads.status_code == 200, "reads are never locked"
    assert (unlocked.status_code, unlocked.json()) == (200, {"revision": "6"})
    assert len(sandbox.kintone.deploys()) == 2


def test_status_takes_up_to_300_apps(sandbox: Sandbox, kintone: httpx.Client) -> None:
    k = sandbox.kintone
    for _ in range(298):
        k.add_app(managers=["admin"])
    ids = [app for app in range(1, 302) if app != 3]
    body = json.dumps({"apps": ids})
    ok = kintone.request("GET", DEPLOY, content=body)
    assert [s["app"] for s in ok.json()["apps"]] == [str(a) for a in ids]
    too_many = [*ids, 302]
    query = {f"apps[{i}]": a for i, a in enumerate(too_many)}
    by_query = kintone.get(DEPLOY, params=query)
    assert _error(by_query) == (400, "GAIA_TO03")
    assert by_query.json()["message"] == "The number of parameters exceeds the limit. - apps[300]"
    by_body = kintone.request("GET", DEPLOY, content=json.dumps({"apps": too_many}))
    assert _error(by_body) == (400, "CB_VA01")
    assert by_body.json()["errors"] == {"apps": {"messages": ["size must be between 0 and 300"]}}


@pytest.mark.parametrize(
    ("query", "errors"),
    [
        ({}, {"apps": ["Required field."]}),
        ({"apps[0]": "0", "apps[1]": "2"}, {"apps": ["must be greater than or equal to 1"]}),
        ({"apps[0]": "one"}, {"apps": ["Enter an integer value."]}),
        ({"apps[0]": "1", "apps[1]": "1"}, {"apps[1].app": ["App ID is duplicated."]}),
    ],
)
def test_invalid_status_requests_get_cb_va01(
    kintone: httpx.Client, query: dict[str, str], errors
) -> None:
    response = kintone.get(DEPLOY, params=query)
    assert _error(response) == (400, "CB_VA01")
    assert response.json()["errors"] == {k: {"messages": v} for k, v in errors.items()}


def test_status_needs_app_management(sandbox: Sandbox, kworld, http: httpx.Client) -> None:
    url = f"{sandbox.url}{DEPLOY}?apps[0]=1"
    assert _error(http.get(url, headers=kworld.viewer)) == (403, "CB_NO02")
    view_only = {"X-Cybozu-API-Token": kworld.view_token}
    assert _error(http.get(url, headers=view_only)) == (403, "GAIA_NO01")
    missing = f"{sandbox.url}{DEPLOY}?apps[0]=1&apps[1]=404"
    assert _error(http.get(missing, headers=kworld.admin)) == (404, "GAIA_AP01")
