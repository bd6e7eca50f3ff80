"""kintone authentication (password, API tokens, OAuth, a domain's Basic layer), its errors and
precedence, the concurrency headers and 429, and a request log free of every credential."""

from __future__ import annotations

import base64
import concurrent.futures
import json

import httpx
import pytest

from promote_sandbox import Fault, Sandbox

DEPLOY = "/k/v1/preview/app/deploy.json"
SETTINGS = "/k/v1/preview/app/settings.json"
LIVE_SETTINGS = "/k/v1/app/settings.json"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _call(
    sandbox: Sandbox, http: httpx.Client, headers: dict[str, str], app: int = 1, *, deploy=False
) -> tuple[int, str | None]:
    """Deploy ``app``, or read its preview settings; the status and kintone's code if any."""
    if deploy:
        response = http.post(
            f"{sandbox.url}{DEPLOY}", json={"apps": [{"app": app}]}, headers=headers
        )
    else:
        response = http.get(f"{sandbox.url}{SETTINGS}", params={"app": app}, headers=headers)
    code = response.json().get("code") if response.status_code != 200 else None
    return response.status_code, code


def test_password_authentication(sandbox: Sandbox, kworld, http: httpx.Client) -> None:
    k = sandbox.kintone
    k.add_user("mfa", "mfa-pass-1", two_factor=True)
    cases = {
        "admin:admin-pass-1": (200, None),
        "admin:wrong": (401, "CB_WA01"),
        "nobody:admin-pass-1": (401, "CB_WA01"),
        "admin": (401, "CB_WA01"),
        "mfa:mfa-pass-1": (401, "CB_TW02"),
    }
    for credentials, expected in cases.items():
        assert _call(sandbox, http, {"X-Cybozu-Authorization": _b64(credentials)}) == expected
    assert _call(sandbox, http, {"X-Cybozu-Authorization": "%%%"}) == (401, "CB_WA01")
    scheme_prefixed = {"X-Cybozu-Authorization": f"Basic {_b64('admin:admin-pass-1')}"}
    assert _call(sandbox, http, scheme_prefixed) == (401, "CB_WA01")
    refused = http.get(f"{sandbox.url}{SETTINGS}?app=1", headers={"X-Cybozu-Authorization": "x"})
    assert refused.json()["message"] == "Password authentication failed."


def test_no_credentials_at_all(sandbox: Sandbox, kworld, http: httpx.Client) -> None:
    response = http.get(f"{sandbox.url}{SETTINGS}", params={"app": 1})
    assert response.status_code == 401
    assert (response.json()["code"], response.json()["message"]) == ("CB_AU01", "Please login.")
    assert response.headers["X-Cybozu-Error"] == "CB_AU01"
    basic_only = {"Authorization": f"Basic {_b64('admin:admin-pass-1')}"}
    assert _call(sandbox, http, basic_only) == (401, "CB_AU01")


def test_api_tokens_as_a_list_or_repeated_headers(
    sandbox: Sandbox, kworld, http: httpx.Client
) -> None:
    one, two = kworld.tokens[1], kworld.tokens[2]
    assert _call(sandbox, http, {"X-Cybozu-API-Token": one}, deploy=True) == (200, None)
    assert _call(sandbox, http, {"X-Cybozu-API-Token": f"{one}, {two}"}, 2) == (200, None)
    repeated = httpx.Headers([("X-Cybozu-API-Token", two), ("X-Cybozu-API-Token", one)])
    response = http.get(f"{sandbox.url}{SETTINGS}", params={"app": 1}, headers=repeated)
    assert response.status_code == 200
    assert sandbox.requests[-1].headers["X-Cybozu-API-Token"] == "[REDACTED]"


@pytest.mark.parametrize(
    ("tokens", "expected"),
    [
        (lambda w, extra: ",".join([w.tokens[1], *extra]), (400, "GAIA_TO05")),
        (lambda w, extra: f"{w.tokens[1]},nope", (400, "GAIA_IA02")),
        (lambda w, extra: f"{w.tokens[1]},{w.view_token}", (400, "GAIA_DA03")),
        (lambda w, extra: w.tokens[2], (403, "GAIA_NO01")),
        (lambda w, extra: w.view_token, (403, "GAIA_NO01")),
    ],
    ids=["ten-tokens", "unknown", "two-for-one-app", "other-apps-token", "no-manage"],
)
def test_api_token_errors(sandbox: Sandbox, kworld, http: httpx.Client, tokens, expected) -> None:
    extra = [sandbox.kintone.add_api_token(sandbox.kintone.add_app().id) for _ in range(9)]
    header = {"X-Cybozu-API-Token": tokens(kworld, extra)}
    assert _call(sandbox, http, header, deploy=True) == expected
    assert _call(sandbox, http, header) == expected
    assert sandbox.kintone.deploys() == []


def test_nine_tokens_are_fine(sandbox: Sandbox, kworld, http: httpx.Client) -> None:
    extra = [sandbox.kintone.add_api_token(sandbox.kintone.add_app().id) for _ in range(8)]
    header = {"X-Cybozu-API-Token": ",".join([kworld.tokens[1], *extra])}
    assert _call(sandbox, http, header, deploy=True) == (200, None)


def test_a_token_with_view_reads_live_settings_only(
    sandbox: Sandbox, kworld, http: httpx.Client
) -> None:
    header = {"X-Cybozu-API-Token": kworld.view_token}
    live = http.get(f"{sandbox.url}{LIVE_SETTINGS}", params={"app": 1}, headers=header)
    assert (live.status_code, live.json()["revision"]) == (200, "5")
    status = http.get(f"{sandbox.url}{DEPLOY}", params={"apps[0]": 1}, headers=header)
    assert status.json()["code"] == "GAIA_NO01"


def test_oauth_tokens_and_their_scopes(sandbox: Sandbox, kworld, http: httpx.Client) -> None:
    k = sandbox.kintone
    k.add_user("mfa", "mfa-pass-1", two_factor=True)
    k.add_app(managers=["mfa"])
    writer = k.add_oauth_token("admin", ["k:app_settings:read", "k:app_settings:write"])
    reader = k.add_oauth_token("admin", ["k:app_settings:read"])
    records = k.add_oauth_token("admin", ["k:app_record:read"])
    viewer = k.add_oauth_token("viewer", ["k:app_settings:read", "k:app_settings:write"])
    mfa = k.add_oauth_token("mfa", ["k:app_settings:read", "k:app_settings:write"])

    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    assert _call(sandbox, http, bearer(writer), deploy=True) == (200, None)
    assert _call(sandbox, http, bearer(reader)) == (200, None)
    assert _call(sandbox, http, bearer(reader), deploy=True) == (403, "CB_OA01")
    assert _call(sandbox, http, bearer(records)) == (403, "CB_OA01")
    assert _call(sandbox, http, bearer("1.not-issued")) == (401, "CB_OA01")
    assert _call(sandbox, http, bearer(viewer), deploy=True) == (403, "CB_NO02")
    assert _call(sandbox, http, bearer(mfa), 4, deploy=True) == (200, None), "no 2FA for OAuth"
    assert len(k.deploys()) == 2


def test_password_beats_tokens_which_beat_oauth(
    sandbox: Sandbox, kworld, http: httpx.Client
) -> None:
    token, oauth = kworld.tokens[1], sandbox.kintone.add_oauth_token("admin", [])
    password_and_bad_token = {**kworld.admin, "X-Cybozu-API-Token": "not-a-token"}
    bad_password_and_token = {
        "X-Cybozu-Authorization": _b64("admin:no"),
        "X-Cybozu-API-Token": token,
    }
    token_and_useless_oauth = {"X-Cybozu-API-Token": token, "Authorization": f"Bearer {oauth}"}
    assert _call(sandbox, http, password_and_bad_token) == (200, None)
    assert _call(sandbox, http, bad_password_and_token) == (401, "CB_WA01")
    assert _call(sandbox, http, token_and_useless_oauth) == (200, None)
    assert _call(sandbox, http, {"Authorization": f"Bearer {oauth}"}) == (403, "CB_OA01")


def test_a_basic_layer_stands_in_front_of_every_login(
    sandbox: Sandbox, kworld, http: httpx.Client
) -> None:
    k = sandbox.kintone
    k.require_basic_auth("gate", "gate-pass-1")
    oauth = k.add_oauth_token("admin", ["k:app_settings:read"])
    basic = {"Authorization": f"Basic {_b64('gate:gate-pass-1')}"}
    refused = [
        kworld.admin,
        {**kworld.admin, "Authorization": f"Basic {_b64('gate:wrong')}"},
        {**kworld.admin, "Authorization": "Basic !!"},
        {"Authorization": f"Bearer {oauth}"},
    ]
    for headers in refused:
        response = http.get(f"{sandbox.url}{SETTINGS}", params={"app": 1}, headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == 'Basic realm="cybozu.com"'
        assert response.headers["Content-Type"].startswith("text/html")
        assert "401 Authorization Required" in response.text
    assert _call(sandbox, http, {**basic, **kworld.admin}) == (200, None)
    token = {**basic, "X-Cybozu-API-Token": kworld.tokens[1]}
    assert _call(sandbox, http, token, deploy=True) == (200, None)
    assert _call(sandbox, http, basic) == (401, "CB_AU01"), "the gate is not a kintone login"


def test_every_answer_carries_the_concurrency_headers(
    sandbox: Sandbox, kworld, kintone: httpx.Client
) -> None:
    answers = [
        kintone.get(SETTINGS, params={"app": 1}),
        kintone.get(SETTINGS, params={"app": 99}),
        kintone.get("/k/v1/nothing.json"),
        kintone.post(DEPLOY, json={"apps": [{"app": 1}]}),
    ]
    assert [r.status_code for r in answers] == [200, 404, 404, 200]
    for response in answers:
        assert response.headers["X-ConcurrencyLimit-Limit"] == "100"
        assert response.headers["X-ConcurrencyLimit-Running"] == "1"


def test_an_injected_429_answers_in_kintones_shape(sandbox: Sandbox, kintone: httpx.Client) -> None:
    sandbox.add_fault(Fault(match=r"^GET /k/v1/preview/app/deploy\.json$", status=429, times=1))
    limited = kintone.get(DEPLOY, params={"apps[0]": 1})
    assert limited.status_code == 429
    body = limited.json()
    assert (body["code"], body["message"]) == (
        "GAIA_TO04",
        "The number of concurrent API requests exceeds the limit.",
    )
    assert len(body["id"]) == 20
    assert limited.headers["X-Cybozu-Error"] == "GAIA_TO04"
    assert limited.headers["X-ConcurrencyLimit-Limit"] == "100"
    assert "Retry-After" not in limited.headers
    assert kintone.get(DEPLOY, params={"apps[0]": 1}).status_code == 200
    sandbox.add_fault(Fault(match="/k/", status=503, error_id="CB_IL02", message="Down", times=1))
    down = kintone.get(SETTINGS, params={"app": 1})
    assert (down.status_code, down.json()["code"], down.json()["message"]) == (
        503,
        "CB_IL02",
        "Down",
    )


def test_requests_beyond_the_concurrency_limit_get_429(sandbox: Sandbox, kworld, tls) -> None:
    """A slow answer keeps requests in flight; past the limit kintone refuses new ones."""
    sandbox.kintone.set_concurrency_limit(2)
    sandbox.add_fault(Fault(match="/k/v1/", delay_seconds=0.4))
    url = f"{sandbox.url}{SETTINGS}?app=1"

    def get(_: int) -> httpx.Response:
        with httpx.Client(headers=kworld.admin, verify=tls, timeout=5) as client:
            return client.get(url)

    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(get, range(3)))

    assert sorted(r.status_code for r in answers) == [200, 200, 429]
    limited = next(r for r in answers if r.status_code == 429)
    assert limited.json()["code"] == "GAIA_TO04"
    assert limited.headers["X-ConcurrencyLimit-Limit"] == "2"
    assert limited.headers["X-ConcurrencyLimit-Running"] == "3"
    assert sorted(r.headers["X-ConcurrencyLimit-Running"] for r in answers) == ["1", "2", "3"]


def test_the_log_holds_no_credential_in_any_form(
    sandbox: Sandbox, kworld, http: httpx.Client
) -> None:
    k = sandbox.kintone
    k.require_basic_auth("gate", "gate-pass-1")
    oauth = k.add_oauth_token("admin", ["k:app_settings:read"])
    basic = f"Basic {_b64('gate:gate-pass-1')}"
    password = kworld.admin["X-Cybozu-Authorization"]
    token = kworld.tokens[1]
    url = f"{sandbox.url}{SETTINGS}"
    http.get(url, params={"app": 1}, headers={"Authorization": basic, **kworld.admin})
    http.get(
        url,
        params={"app": 1, "t": token},
        headers={"Authorization": basic, "X-Cybozu-API-Token": token},
    )
    http.get(url, params={"app": 1}, headers={"Authorization": f"Bearer {oauth}"})
    http.request(
        "GET",
        url,
        content=json.dumps({"app": 1, "note": f"{oauth} admin-pass-1 {password}"}),
        headers={"Authorization": basic, "X-Cybozu-Authorization": password},
    )

    text = sandbox.request_log_text()
    served = http.get(f"{sandbox.url}/__sandbox__/requests").text
    leaks = [token, oauth, basic, _b64("gate:gate-pass-1"), "gate-pass-1", password, "admin-pass-1"]
    for leak in leaks:
        assert leak not in text
        assert leak not in served
    requests = sandbox.requests
    assert [r.status for r in requests] == [200, 200, 401, 200]
    assert [r.service for r in requests] == ["kintone"] * 4
    for request, header in zip(
        requests,
        ["X-Cybozu-Authorization", "X-Cybozu-API-Token", "Authorization", "X-Cybozu-Authorization"],
        strict=True,
    ):
        assert request.headers[header] == "[REDACTED]"
    assert requests[1].query == "app=1&t=[REDACTED]"
    assert requests[3].body == {"app": 1, "note": "[REDACTED] [REDACTED] [REDACTED]"}
