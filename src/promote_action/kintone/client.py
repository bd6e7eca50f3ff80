"""kintone REST API client for app settings and deploys: requests and typed responses only.

Wire facts (shared/reference/API_NOTES.md section 2): errors `{"code", "id", "message"}` to
branch on `code`; guest-space apps live under `/k/guest/{space}/v1/`; deploy status has three
wire forms, and the POST + `X-HTTP-Method-Override: GET` one is used when a query string for
many apps would make the URL too long.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

import httpx

from promote_action.http import HttpClient
from promote_action.kintone.auth import KintoneAuth
from promote_action.kintone.models import AppSettings, DeployStatus
from promote_action.waiting import CancelToken, Deadline

MAX_URL = 4096
"""The official JS client switches to the method-override form above this URL length."""

RETRYABLE_CODES = frozenset({"GAIA_TO04", "GAIA_DA02"})
"""Refused before anything happened: too many concurrent requests, database lock."""

HINTS = {
    "GAIA_CO03": "the app's settings changed since they were read (revision mismatch)",
    "GAIA_AP01": "check kintone-apps and kintone-guest-space-id",
    "CB_NO02": "the user needs App Management permission for the app (or the app is not in "
    "this guest space)",
    "GAIA_NO01": "the API token lacks App Management permission or belongs to another app",
    "GAIA_IL23": "the app is in a guest space: set kintone-guest-space-id",
    "GAIA_IA02": "unknown API token, or the app was not updated after the token was created",
    "GAIA_DA03": "two API tokens for the same app",
    "CB_WA01": "wrong kintone-username or kintone-password",
    "CB_AU01": "no credentials were accepted",
    "CB_TW02": "this user has two-factor authentication: use an API token or OAuth",
    "GAIA_TO03": "at most 300 apps per request",
    "GAIA_TO04": "too many concurrent requests to this kintone domain",
    "GAIA_DA02": "the database was locked (a deploy just ran); retry later",
}


def decode_kintone_error(response: httpx.Response) -> tuple[str, str]:
    """kintone's `code`, and its message with a hint about what to do."""
    try:
        body = response.json()
    except ValueError:
        if (
            response.status_code == 401
            and "basic" in response.headers.get("WWW-Authenticate", "").lower()
        ):
            return "basic_auth_required", "the domain requires Basic auth (kintone-basic-auth)"
        kind = response.headers.get("Content-Type", "no content type").split(";")[0]
        return f"http_{response.status_code}", f"non-JSON response ({kind})"
    if not isinstance(body, dict):
        return f"http_{response.status_code}", "unexpected error body"
    code = str(body.get("code") or f"http_{response.status_code}")
    message = str(body.get("message", ""))
    if code in HINTS:
        message = f"{message} [{HINTS[code]}]"
    return code, message


def _is_rejection(response: httpx.Response, code: str) -> bool:
    return response.status_code == 429 or code in RETRYABLE_CODES


class KintoneClient:
    def __init__(self, http: HttpClient, guest_space_id: int | None) -> None:
        self.http = http
        self.prefix = f"/k/guest/{guest_space_id}/v1" if guest_space_id else "/k/v1"

    @classmethod
    def connect(
        cls,
        base_url: str,
        auth: KintoneAuth,
        *,
        guest_space_id: int | None,
        deadline: Deadline,
        cancel: CancelToken,
        transport: httpx.BaseTransport | None = None,
        verify: ssl.SSLContext | bool = True,
    ) -> KintoneClient:
        """`verify` is the run's TLS context; a client certificate brings its own."""
        http = HttpClient(
            platform="kintone",
            base_url=base_url,
            deadline=deadline,
            cancel=cancel,
            decode_error=decode_kintone_error,
            auth_headers=auth.headers,
            default_headers={"User-Agent": "promote-action"},
            is_rejection=_is_rejection,
            verify=auth.tls if auth.tls is not None else verify,
            transport=transport,
        )
        return cls(http, guest_space_id)

    def close(self) -> None:
        self.http.close()

    def preview_settings(self, app: str) -> AppSettings:
        """Needs App Management; its revision is what a deploy would publish."""
        data = self.http.get_json(f"{self.prefix}/preview/app/settings.json", params={"app": app})
        return AppSettings.model_validate(data)

    def live_settings(self, app: str) -> AppSettings:
        data = self.http.get_json(f"{self.prefix}/app/settings.json", params={"app": app})
        return AppSettings.model_validate(data)

    def document(self, app: str, kind: str, *, preview: bool) -> dict[str, Any]:
        """A settings document (`form/fields`, `views`, ...) of the preview or production app."""
        where = "/preview/app" if preview else "/app"
        data = self.http.get_json(f"{self.prefix}{where}/{kind}.json", params={"app": app})
        return data if isinstance(data, dict) else {}

    def write_document(
        self, method: str, app: str, kind: str, revision: int, body: dict[str, Any]
    ) -> int:
        """Change a preview settings document (`form/fields` POST/PUT/DELETE, the others PUT),
        pinned to `revision`: kintone refuses it (GAIA_CO03) once anyone else changed the app,
        so a write is never applied on top of settings it was not planned against. Returns the
        app's new preview revision."""
        payload = {**body, "app": app, "revision": revision}
        response = self.http.request(method, f"{self.prefix}/preview/app/{kind}.json", json=payload)
        return int(response.json()["revision"])

    def download_file(self, file_key: str) -> bytes:
        """A customization file's content, by the key its settings document names."""
        response = self.http.request(
            "GET", f"{self.prefix}/file.json", params={"fileKey": file_key}
        )
        return response.content

    def upload_file(self, name: str, content: bytes, content_type: str) -> str:
        """Upload a file for a settings write; the key is temporary until a write names it.
        Repeating it is harmless (an unused key just expires), so it is retried like a read."""
        response = self.http.request(
            "POST",
            f"{self.prefix}/file.json",
            files={"file": (name, content, content_type)},
            safe=True,
        )
        return str(response.json()["fileKey"])

    def deploy(self, apps: Sequence[tuple[str, int | None]], *, revert: bool) -> None:
        """Start the asynchronous deploy (or revert); 200 `{}` says only that it was accepted."""
        body = {
            "apps": [
                {"app": app, "revision": revision} if revision is not None else {"app": app}
                for app, revision in apps
            ],
            "revert": revert,
        }
        self.http.request("POST", f"{self.prefix}/preview/app/deploy.json", json=body)

    def deploy_status(self, apps: list[str]) -> list[DeployStatus]:
        """One request for up to 300 apps, however many there are."""
        path = f"{self.prefix}/preview/app/deploy.json"
        query = urlencode([(f"apps[{index}]", app) for index, app in enumerate(apps)])
        if len(self.http.base_url) + len(path) + 1 + len(query) <= MAX_URL:
            response = self.http.request("GET", f"{path}?{query}")
        else:
            response = self.http.request(
                "POST",
                path,
                json={"apps": apps},
                headers={"X-HTTP-Method-Override": "GET"},
                safe=True,
            )
        return [DeployStatus.model_validate(item) for item in response.json()["apps"]]
