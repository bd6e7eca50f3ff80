"""A fake of kintone's app-deploy REST API, faithful on the wire to what the action and the
official JS client rely on (shared/reference/API_NOTES.md section 2 and seed 003).

Each app has two sets of settings documents, preview (what admins edit) and live (what users
run), each with its revision. A deploy copies preview to live, keeping its revision; a revert
copies live back to preview. Both are asynchronous: the POST only queues one job for all its
apps, whose whole life (when it finishes, which apps fail, how long the apps stay locked after)
is fixed on acceptance, so the status a poll sees is a pure function of the monotonic clock.
What a finished job does to the apps is written lazily by the first call that looks after it
finished, as the Heroku fake does with a promotion's releases.

Where kintone's behaviour is undocumented, the choice made here is marked UNVERIFIED.
"""

from __future__ import annotations

import base64
import binascii
import copy
import email.policy
import json
import re
import secrets
import string
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.parser import BytesParser
from http.client import responses
from typing import Any, Literal
from urllib.parse import parse_qsl

from .routing import Handler, Reply, Request, Route

DeployStatus = Literal["PROCESSING", "SUCCESS", "FAIL", "CANCEL"]
RevertRevision = Literal["live", "increment"]
Access = Literal["read", "write"]
Permission = Literal["manage", "view"]

MAX_APPS = 300
MAX_TOKENS = 9
CONCURRENCY_LIMIT = 100
DOCUMENTS = ("settings", "form/fields", "form/layout", "views", "status", "customize", "acl")
"""The settings documents of an app, named by their path under ``/k/v1/[preview/]app/``."""

REPLACED_KEYS = {
    "form/layout": ("layout",),
    "views": ("views",),
    "status": ("enable", "states", "actions"),
    "customize": ("scope", "desktop", "mobile"),
    "acl": ("rights",),
}
"""The preview documents written by one PUT, with the body keys each takes (a key left out of
the body keeps its value)."""

SYSTEM_FIELD_TYPES = frozenset(
    {
        "RECORD_NUMBER",
        "CREATOR",
        "CREATED_TIME",
        "MODIFIER",
        "UPDATED_TIME",
        "STATUS",
        "STATUS_ASSIGNEE",
        "CATEGORY",
    }
)
"""Fields every app has: they can be relabelled but never added or deleted."""

_TOKEN_ALPHABET = string.ascii_letters + string.digits
_INTEGER = re.compile(r"\s*-?\d+\s*")
_INDEXED = re.compile(r"(\w+)\[(\d+)\]")
_BASIC_REALM = "cybozu.com"  # UNVERIFIED: the realm a Basic-protected domain announces

_REQUIRED = "Required field."
_NOT_INTEGER = "Enter an integer value."
_MINIMUM = "must be greater than or equal to 1"
_DUPLICATE = "App ID is duplicated."
_NOT_BOOLEAN = "must be boolean."
_BAD = "The value is invalid."
# UNVERIFIED: the body form's answer to more than 300 apps (the query form's is GAIA_TO03).
_TOO_MANY_APPS = f"size must be between 0 and {MAX_APPS}"
_INVALID_INPUT = "Missing or invalid input."
_NO_PRIVILEGE = "No privilege to proceed."
_CANNOT_RUN_API = "Using this API token, you cannot run the specified API."
_LOCKED = (
    "The operation failed because the database could not be locked. "
    "Please wait a while and try again."
)
_GUEST_PATH = (
    'You need to send a request to the URL: "/k/guest/<Space ID>/v1/..." to execute apps in '
    "Guest Spaces."
)
_OAUTH_REFUSED = "Cannot access protected resource."
_CONCURRENCY = "The number of concurrent API requests exceeds the limit."
# UNVERIFIED: kintone documents at most 9 tokens per request but not the error beyond them.
_TOO_MANY_TOKENS = f"Up to {MAX_TOKENS} API tokens can be specified in one request."
# UNVERIFIED: the unknown-API code, and CB_IL02 for statuses without a default here.
_DEFAULT_CODES = {404: "GAIA_NF01", 429: "GAIA_TO04"}
_DEFAULT_MESSAGES = {404: "The specified API is not found.", 429: _CONCURRENCY}
_BASIC_PAGE = (
    "<html><head><title>401 Authorization Required</title></head><body>"
    "<h1>401 Authorization Required</h1></body></html>\n"
)


@dataclass(frozen=True)
class KintoneApp:
    """An app as the API would show it at one instant; a snapshot, so assertions stay stable.

    ``preview`` and ``live`` hold the settings documents by name (see ``DOCUMENTS``), each
    without its ``revision``; ``live`` and ``live_revision`` are None until a first deploy.
    """

    id: str
    name: str
    space_id: int | None
    preview_revision: int
    live_revision: int | None
    preview: Mapping[str, Mapping[str, Any]]
    live: Mapping[str, Mapping[str, Any]] | None

    @property
    def published(self) -> bool:
        return self.live_revision is not None


@dataclass(frozen=True)
class DeployJob:
    """One accepted deploy or revert, with each app's status as a poll would see it now."""

    apps: tuple[str, ...]
    revert: bool
    status: Mapping[str, DeployStatus]


@dataclass(frozen=True)
class _Version:
    """One side of an app's settings: every document, and the revision they carry together."""

    documents: Mapping[str, Mapping[str, Any]]
    revision: int


@dataclass
class _App:
    id: int
    space_id: int | None
    managers: frozenset[str]
    viewers: frozenset[str]
    created_at: datetime
    preview: _Version
    live: _Version | None

    def edit(self, changes: Mapping[str, Mapping[str, Any]]) -> int:
        """Save preview changes, top-level keys of some documents, as each settings call does:
        one new preview revision for the lot."""
        documents = {d: {**self.preview.documents[d], **changes.get(d, {})} for d in DOCUMENTS}
        self.preview = _Version(documents, self.preview.revision + 1)
        return self.preview.revision


@dataclass(frozen=True)
class _User:
    password: str = field(repr=False)
    two_factor: bool


@dataclass(frozen=True)
class _Token:
    app_id: int
    manage: bool
    view: bool


@dataclass(frozen=True)
class _OAuthGrant:
    login: str
    scopes: frozenset[str]


@dataclass(frozen=True)
class _Caller:
    """Who a request acts as: a user (by password or OAuth), or the apps its API tokens open."""

    login: str | None
    tokens: Mapping[int, _Token]


@dataclass(frozen=True)
class _DeployBehaviour:
    processing_seconds: float = 0.5
    fail_apps: frozenset[int] = frozenset()
    lock_seconds: float = 0.0
    revert_revision: RevertRevision = "live"


@dataclass(frozen=True)
class _Job:
    """A deploy's whole script, fixed on acceptance; ``deployed`` is each app's preview then."""

    apps: tuple[int, ...]
    revert: bool
    deployed: Mapping[int, _Version]
    finishes_at: float
    unlocks_at: float
    failed: frozenset[int]
    revert_revision: RevertRevision

    def status(self, app_id: int, now: float) -> DeployStatus:
        if now < self.finishes_at:
            return "PROCESSING"
        if not self.failed:
            return "SUCCESS"
        return "FAIL" if app_id in self.failed else "CANCEL"


@dataclass(frozen=True)
class _File:
    """An uploaded file: ``temporary`` ones are what ``POST /k/v1/file.json`` returns, until a
    settings write (customize) stores them under a key of their own."""

    name: str
    content_type: str
    data: bytes = field(repr=False)
    temporary: bool


class _Refused(Exception):
    """Raised anywhere below a handler with the reply that ends the request, so each check
    reads as one line."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


ApiHandler = Callable[[Request, _Caller], Reply]


class FakeKintone:
    """State and handlers of the fake; every access goes through one lock."""

    name = "kintone"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users: dict[str, _User] = {}
        self._apps: dict[int, _App] = {}
        self._tokens: dict[str, _Token] = {}
        self._oauth: dict[str, _OAuthGrant] = {}
        self._basic: tuple[str, str] | None = None
        self._behaviour = _DeployBehaviour()
        self._jobs: list[_Job] = []
        self._latest: dict[int, _Job] = {}
        self._unsettled: list[_Job] = []
        self._concurrency_limit = CONCURRENCY_LIMIT
        self._files: dict[str, _File] = {}
        self._view_ids = 1000

    # Seeding and inspection, for tests and demos.

    def add_user(self, login: str, password: str, *, two_factor: bool = False) -> None:
        """A user who may log in with a password, unless two-factor authentication is on (the
        REST API refuses such users; OAuth still works for them)."""
        with self._lock:
            self._users[login] = _User(password, two_factor)

    def add_app(
        self,
        app_id: int | None = None,
        *,
        name: str | None = None,
        space_id: int | None = None,
        managers: Iterable[str] = (),
        viewers: Iterable[str] = (),
        preview_revision: int = 5,
        live_revision: int | None = None,
        published: bool = True,
    ) -> KintoneApp:
        """Seed an app; ids count up from 1 when not given, the name defaults to "App <id>".

        ``space_id`` puts it in that guest space, reachable only under ``/k/guest/{space}/``.
        ``managers`` hold App Management; ``viewers`` may only read live settings. A
        ``live_revision`` below ``preview_revision`` leaves changes pending deploy (the
        documents start equal; ``change_preview`` makes them differ); None means nothing is
        pending. Unpublished, the app has no live side until a first deploy.
        """
        live = preview_revision if live_revision is None else live_revision
        if not 1 <= live <= preview_revision:
            raise ValueError("live_revision must be between 1 and preview_revision")
        if not published and live_revision is not None:
            raise ValueError("an unpublished app has no live revision")
        with self._lock:
            ident = max(self._apps, default=0) + 1 if app_id is None else app_id
            if ident < 1 or ident in self._apps:
                raise ValueError(f"app id {ident} is taken or invalid")
            documents = _initial_documents(ident, name or f"App {ident}")
            app = _App(
                id=ident,
                space_id=space_id,
                managers=frozenset(managers),
                viewers=frozenset(viewers),
                created_at=datetime.now(UTC).replace(microsecond=0),
                preview=_Version(documents, preview_revision),
                live=_Version(documents, live) if published else None,
            )
            self._apps[ident] = app
            return _snapshot(app)

    def add_api_token(self, app_id: int | str, *, manage: bool = True, view: bool = True) -> str:
        """An API token of ``app_id``, 40 letters and digits like kintone's; ``manage`` is App
        Management (deploy, status, preview settings), ``view`` reads live settings."""
        token = "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(40))
        with self._lock:
            self._tokens[token] = _Token(self._app(app_id).id, manage, view)
        return token

    def add_oauth_token(self, login: str, scopes: Iterable[str]) -> str:
        """An OAuth access token acting as ``login`` within ``scopes`` ("k:app_settings:read",
        "k:app_settings:write")."""
        token = "1." + secrets.token_urlsafe(32)
        with self._lock:
            if login not in self._users:
                raise KeyError(f"no user {login!r}")
            self._oauth[token] = _OAuthGrant(login, frozenset(scopes))
        return token

    def require_basic_auth(self, user: str, password: str) -> None:
        """Protect the domain with Basic authentication, in front of kintone's own: every
        request then needs ``Authorization: Basic ...`` besides its kintone credentials."""
        with self._lock:
            self._basic = (user, password)

    def change_preview(
        self,
        app_id: int | str,
        *,
        name: str | None = None,
        description: str | None = None,
        theme: str | None = None,
        fields: Mapping[str, Any] | None = None,
        layout: Sequence[Any] | None = None,
        views: Mapping[str, Any] | None = None,
        status: Mapping[str, Any] | None = None,
        customize: Mapping[str, Any] | None = None,
    ) -> int:
        """Someone edits the app's preview settings; returns the new preview revision (+1).

        ``fields`` replaces the form's properties (by field code), ``layout`` its rows and
        ``views`` the views (by name); ``status`` and ``customize`` update those documents'
        top-level keys (process management's ``enable``/``states``/``actions``; ``scope``,
        ``desktop``, ``mobile``). Edits are not refused while a deploy runs, unlike the API's.
        """
        general = {"name": name, "description": description, "theme": theme}
        changes: dict[str, Mapping[str, Any]] = {
            "settings": {k: v for k, v in general.items() if v is not None},
            "form/fields": {} if fields is None else {"properties": fields},
            "form/layout": {} if layout is None else {"layout": layout},
            "views": {} if views is None else {"views": views},
            "status": status or {},
            "customize": customize or {},
        }
        with self._lock:
            self._settle(time.monotonic())
            app = self._app(app_id)
            changes["customize"] = self._stored_customization(changes["customize"])
            if views is not None:
                changes["views"] = {"views": self._with_view_ids(app, views)}
            return app.edit(_json_copy(changes))

    def add_file(self, name: str, data: bytes, content_type: str = "text/javascript") -> str:
        """Store a file as a customization would and return its key, for ``change_preview``'s
        ``customize`` entries (``{"type": "FILE", "file": {"fileKey": key}}`` is expanded)."""
        with self._lock:
            return self._store(_File(name, content_type, data, temporary=False))

    def publish(self, app_id: int | str) -> int:
        """Seed a finished deploy: production takes the preview settings and their revision at
        once (tests use it to give a source app its production settings)."""
        with self._lock:
            self._settle(time.monotonic())
            app = self._app(app_id)
            app.live = app.preview
            return app.live.revision

    def set_deploy_behaviour(
        self,
        processing_seconds: float = 0.5,
        fail_apps: Iterable[int | str] = (),
        lock_seconds: float = 0.0,
        revert_revision: RevertRevision = "live",
    ) -> None:
        """Script deploys accepted from now on.

        Each stays PROCESSING for ``processing_seconds``. The next deploy naming any of
        ``fail_apps`` ends FAIL for those and CANCEL for its other apps, changing nothing.
        For ``lock_seconds`` after a deploy ends, its apps refuse settings changes and new
        deploys with GAIA_DA02, as kintone often does right after one. After a revert the
        preview revision becomes the live one (``"live"``) or the preview one plus one
        (``"increment"``): which kintone does is UNVERIFIED.
        """
        with self._lock:
            failing = frozenset(self._app(a).id for a in fail_apps)
            self._behaviour = _DeployBehaviour(
                processing_seconds, failing, lock_seconds, revert_revision
            )

    def set_concurrency_limit(self, limit: int = CONCURRENCY_LIMIT) -> None:
        """Answer 429 GAIA_TO04 to requests arriving while ``limit`` others are being served
        (kintone's is 100 per domain, more than any test reaches without a slow fault)."""
        with self._lock:
            self._concurrency_limit = limit

    def app(self, app_id: int | str) -> KintoneApp:
        with self._lock:
            self._settle(time.monotonic())
            return _snapshot(self._app(app_id))

    def deploys(self) -> list[DeployJob]:
        """Every accepted deploy and revert, oldest first."""
        with self._lock:
            now = time.monotonic()
            self._settle(now)
            return [
                DeployJob(
                    tuple(str(a) for a in job.apps),
                    job.revert,
                    {str(a): job.status(a, now) for a in job.apps},
                )
                for job in self._jobs
            ]

    # The Service protocol.

    def routes(self) -> list[Route]:
        """Every route twice, under ``/v1`` and a guest space's ``/guest/{space}/v1``; each GET
        also answers a POST carrying ``X-HTTP-Method-Override: GET``, the form clients switch
        to when a query string would make the URL too long."""
        status = self._api(self._deploy_status, "read")
        table = [
            ("/preview/app/deploy.json", status, self._api(self._deploy, "write")),
            ("/app.json", self._api(self._get_app, "read"), None),
            ("/file.json", self._api(self._download, "read"), self._api(self._upload, "write")),
        ]
        adders = {"form/fields": self._api(self._add_fields, "write")}
        for document in DOCUMENTS:
            for prefix, preview in (("/preview", True), ("", False)):
                getter = self._api(self._document_getter(document, preview=preview), "read")
                adder = adders.get(document) if preview else None
                table.append((f"{prefix}/app/{document}.json", getter, adder))
        routes = [
            ("PUT", "/preview/app/settings.json", self._api(self._update_settings, "write")),
            ("PUT", "/preview/app/form/fields.json", self._api(self._update_fields, "write")),
            ("DELETE", "/preview/app/form/fields.json", self._api(self._delete_fields, "write")),
        ]
        for document in REPLACED_KEYS:
            writer = self._api(self._document_writer(document), "write")
            routes.append(("PUT", f"/preview/app/{document}.json", writer))
        for path, get, post in table:
            routes.append(("GET", path, get))
            routes.append(("POST", path, self._overridable(get, post)))
        return [
            Route(method, f"{root}{path}", handler)
            for method, path, handler in routes
            for root in ("/v1", "/guest/{space}/v1")
        ]

    def error_reply(
        self, request: Request, status: int, error_id: str | None, message: str | None
    ) -> Reply:
        code = error_id or _DEFAULT_CODES.get(status, "CB_IL02")
        text = message or _DEFAULT_MESSAGES.get(status, f"{responses.get(status, 'Error')}.")
        with self._lock:
            return self._stamp(_error(status, code, text), request)

    def secrets(self) -> list[str]:
        """Tokens, passwords, and the base64 forms that carry passwords in headers."""
        with self._lock:
            logins = [(login, user.password) for login, user in self._users.items()]
            basic = [] if self._basic is None else [self._basic]
            return [
                *self._tokens,
                *self._oauth,
                *(password for _, password in logins + basic),
                *(_b64(f"{login}:{password}") for login, password in logins + basic),
            ]

    # Request plumbing.

    def _api(self, handler: ApiHandler, access: Access) -> Handler:
        """Wrap a handler in what every kintone call goes through, in kintone's order: the
        domain's concurrency limit, its Basic layer, then kintone's own authentication."""

        def serve(request: Request) -> Reply:
            with self._lock:
                self._settle(time.monotonic())
                try:
                    if request.in_flight > self._concurrency_limit:
                        raise _fail(429, "GAIA_TO04", _CONCURRENCY)
                    reply = handler(request, self._authenticate(request, access))
                except _Refused as refused:
                    reply = refused.reply
                return self._stamp(reply, request)

        return serve

    def _overridable(self, get: Handler, post: Handler | None) -> Handler:
        def serve(request: Request) -> Reply:
            if (request.header("X-HTTP-Method-Override") or "").upper() == "GET":
                return get(request)
            if post is None:
                return self.error_reply(request, 404, None, None)
            return post(request)

        return serve

    def _stamp(self, reply: Reply, request: Request) -> Reply:
        return reply.with_headers(
            ("X-ConcurrencyLimit-Limit", str(self._concurrency_limit)),
            ("X-ConcurrencyLimit-Running", str(request.in_flight)),
        )

    def _authenticate(self, request: Request, access: Access) -> _Caller:
        """Password beats API tokens, which beat OAuth (kintone's precedence); a Basic layer,
        when the domain has one, is checked first and shares OAuth's header, so the two
        cannot be combined."""
        authorization = request.header("Authorization") or ""
        if self._basic is not None and _basic_credentials(authorization) != self._basic:
            raise _Refused(
                Reply(
                    401,
                    (
                        ("Content-Type", "text/html; charset=utf-8"),
                        ("WWW-Authenticate", f'Basic realm="{_BASIC_REALM}"'),
                    ),
                    _BASIC_PAGE.encode(),
                )
            )
        password = request.header("X-Cybozu-Authorization")
        if password is not None:
            return self._password_caller(password)
        tokens = [t.strip() for t in (request.header("X-Cybozu-API-Token") or "").split(",")]
        if any(tokens):
            return self._token_caller([t for t in tokens if t])
        scheme, _, bearer = authorization.partition(" ")
        if scheme.lower() == "bearer":
            grant = self._oauth.get(bearer.strip())
            if grant is None:
                raise _fail(401, "CB_OA01", _OAUTH_REFUSED)
            if f"k:app_settings:{access}" not in grant.scopes:
                raise _fail(403, "CB_OA01", _OAUTH_REFUSED)  # UNVERIFIED: status and code
            return _Caller(grant.login, {})
        raise _fail(401, "CB_AU01", "Please login.")

    def _password_caller(self, header: str) -> _Caller:
        try:
            login, _, password = base64.b64decode(header, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            login, password = "", ""
        user = self._users.get(login)
        if user is None or not secrets.compare_digest(user.password, password):
            raise _fail(401, "CB_WA01", "Password authentication failed.")
        if user.two_factor:
            # UNVERIFIED: the status; the code and text are what clients have reported.
            raise _fail(
                401,
                "CB_TW02",
                "Cannot authenticate because two-factor authentication is enabled. The REST "
                "API does not support two-factor authentication.",
            )
        return _Caller(login, {})

    def _token_caller(self, values: list[str]) -> _Caller:
        if len(values) > MAX_TOKENS:
            raise _fail(400, "GAIA_TO05", _TOO_MANY_TOKENS)  # UNVERIFIED: status and code
        by_app: dict[int, _Token] = {}
        for value in values:
            token = self._tokens.get(value)
            if token is None:
                raise _fail(
                    400,
                    "GAIA_IA02",
                    "The specified API token does not match the API token generated via an app.",
                )
            if token.app_id in by_app:
                raise _fail(
                    400, "GAIA_DA03", "You cannot specify a duplicate API token for the same app."
                )
            by_app[token.app_id] = token
        return _Caller(None, by_app)

    # Handlers; they run under the lock.

    def _deploy(self, request: Request, caller: _Caller) -> Reply:
        """Check everything before changing anything, in kintone's order: a refused deploy
        leaves no trace."""
        requested, revert = _deploy_request(_json_body(request))
        apps = [self._resolve(request, app_id) for app_id, _ in requested]
        for app in apps:
            self._authorize(caller, app, "manage")
        now = time.monotonic()
        if any(self._busy(app, now) for app in apps):
            raise _fail(400, "GAIA_DA02", _LOCKED)
        for app, (_, revision) in zip(apps, requested, strict=True):
            if revision not in (None, -1) and revision != app.preview.revision:
                raise _conflict(app)
        behaviour = self._behaviour
        failed = behaviour.fail_apps.intersection(app.id for app in apps)
        self._behaviour = replace(behaviour, fail_apps=behaviour.fail_apps - failed)
        finishes_at = now + behaviour.processing_seconds
        job = _Job(
            apps=tuple(app.id for app in apps),
            revert=revert,
            deployed={app.id: app.preview for app in apps},
            finishes_at=finishes_at,
            unlocks_at=finishes_at + behaviour.lock_seconds,
            failed=failed,
            revert_revision=behaviour.revert_revision,
        )
        self._jobs.append(job)
        self._unsettled.append(job)
        self._latest.update(dict.fromkeys(job.apps, job))
        return Reply.json(200, {})

    def _deploy_status(self, request: Request, caller: _Caller) -> Reply:
        """An app never deployed, or whose deploy has ended, reports its last job's terminal
        status, SUCCESS when there was none: a SUCCESS alone proves nothing."""
        apps = [self._resolve(request, app_id) for app_id in _status_request(request)]
        for app in apps:
            self._authorize(caller, app, "manage")
        now = time.monotonic()
        statuses = [{"app": str(app.id), "status": self._status(app, now)} for app in apps]
        return Reply.json(200, {"apps": statuses})

    def _document_getter(self, document: str, *, preview: bool) -> ApiHandler:
        """Preview documents need App Management; live ones only view permission."""

        def get(request: Request, caller: _Caller) -> Reply:
            app = self._resolve(request, _app_param(_params(request), "app"))
            self._authorize(caller, app, "manage" if preview else "view")
            version = app.preview if preview else self._live(app)
            body = {**version.documents[document], "revision": str(version.revision)}
            return Reply.json(200, body)

        return get

    def _get_app(self, request: Request, caller: _Caller) -> Reply:
        app = self._resolve(request, _app_param(_params(request), "id"))
        self._authorize(caller, app, "view")
        settings = self._live(app).documents["settings"]
        space = None if app.space_id is None else str(app.space_id)
        administrator = {"code": "Administrator", "name": "Administrator"}
        created = app.created_at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        return Reply.json(
            200,
            {
                "appId": str(app.id),
                "code": "",
                "name": settings["name"],
                "description": settings["description"],
                "spaceId": space,
                "threadId": space,
                "createdAt": created,
                "creator": administrator,
                "modifiedAt": created,
                "modifier": administrator,
            },
        )

    def _update_settings(self, request: Request, caller: _Caller) -> Reply:
        body = _json_body(request)
        app_id = _app_param(body, "app")
        revision = body.get("revision")
        expected = _integer(revision)
        errors = {}
        if revision is not None and expected is None:
            errors["revision"] = [_NOT_INTEGER]
        if "name" in body and not (isinstance(body["name"], str) and body["name"].strip()):
            errors["name"] = [_REQUIRED]
        if errors:
            raise _fail(400, "CB_VA01", _INVALID_INPUT, errors)
        app = self._resolve(request, app_id)
        self._authorize(caller, app, "manage")
        if self._busy(app, time.monotonic()):
            raise _fail(400, "GAIA_DA02", _LOCKED)
        if expected not in (None, -1) and expected != app.preview.revision:
            raise _conflict(app)
        keys = ("name", "description", "icon", "theme")
        changed = app.edit({"settings": _json_copy({k: body[k] for k in keys if k in body})})
        return Reply.json(200, {"revision": str(changed)})

    def _preview_write(self, request: Request, caller: _Caller) -> tuple[_App, dict[str, Any]]:
        """What every preview settings write checks first, in kintone's order: the body, the
        app, App Management, the lock of a running deploy, then the revision (-1 or none: no
        check). Nothing is changed by a refused write."""
        body = _params(request)
        app_id = _app_param(body, "app")
        revision = body.get("revision")
        expected = _integer(revision)
        if revision is not None and expected is None:
            raise _fail(400, "CB_VA01", _INVALID_INPUT, {"revision": [_NOT_INTEGER]})
        app = self._resolve(request, app_id)
        self._authorize(caller, app, "manage")
        if self._busy(app, time.monotonic()):
            raise _fail(400, "GAIA_DA02", _LOCKED)
        if expected not in (None, -1) and expected != app.preview.revision:
            raise _conflict(app)
        return app, body

    def _add_fields(self, request: Request, caller: _Caller) -> Reply:
        app, body = self._preview_write(request, caller)
        added = _properties(body)
        fields = dict(app.preview.documents["form/fields"]["properties"])
        for code, prop in added.items():
            if code in fields:
                # UNVERIFIED: the code and text kintone gives a duplicate field code.
                raise _fail(400, "GAIA_FC02", f"The field code ({code}) is already in use.")
            if prop.get("type") in SYSTEM_FIELD_TYPES:
                raise _fail(400, "CB_VA01", _INVALID_INPUT, {f"properties.{code}.type": [_BAD]})
            fields[code] = {**prop, "code": code}
        return self._saved(app, {"form/fields": {"properties": fields}})

    def _update_fields(self, request: Request, caller: _Caller) -> Reply:
        """Each named field takes the given attributes; a ``code`` renames it. Its type cannot
        change (kintone's answer to a type change is UNVERIFIED: CB_VA01 here)."""
        app, body = self._preview_write(request, caller)
        fields = dict(app.preview.documents["form/fields"]["properties"])
        for code, prop in _properties(body).items():
            current = fields.get(code)
            if current is None:
                raise _field_not_found(code)
            if prop.get("type", current["type"]) != current["type"]:
                errors = {f"properties.{code}.type": ["The field type cannot be changed."]}
                raise _fail(400, "CB_VA01", _INVALID_INPUT, errors)
            new_code = str(prop.get("code") or code)
            del fields[code]
            fields[new_code] = {**current, **prop, "code": new_code}
        return self._saved(app, {"form/fields": {"properties": fields}})

    def _delete_fields(self, request: Request, caller: _Caller) -> Reply:
        """``fields`` from a JSON body or the query (``fields[0]=A``, as the JS client sends a
        DELETE). The fields also leave the layout (UNVERIFIED: what kintone does to views
        naming them)."""
        app, body = self._preview_write(request, caller)
        codes = body.get("fields")
        if not isinstance(codes, list) or not codes:
            raise _fail(400, "CB_VA01", _INVALID_INPUT, {"fields": [_REQUIRED]})
        fields = dict(app.preview.documents["form/fields"]["properties"])
        for code in codes:
            current = fields.pop(str(code), None)
            if current is None:
                raise _field_not_found(str(code))
            if current.get("type") in SYSTEM_FIELD_TYPES:
                raise _fail(400, "CB_VA01", _INVALID_INPUT, {"fields": [_BAD]})
        layout = _without_fields(app.preview.documents["form/layout"]["layout"], set(fields))
        changes: dict[str, Mapping[str, Any]] = {
            "form/fields": {"properties": fields},
            "form/layout": {"layout": layout},
        }
        return self._saved(app, changes)

    def _document_writer(self, document: str) -> ApiHandler:
        """PUT of a whole preview document: the keys of ``REPLACED_KEYS`` found in the body."""

        def put(request: Request, caller: _Caller) -> Reply:
            app, body = self._preview_write(request, caller)
            changes: dict[str, Any] = {k: body[k] for k in REPLACED_KEYS[document] if k in body}
            if document == "customize":
                changes = self._stored_customization(changes)
            extra: dict[str, Any] = {}
            if document == "views":
                views = changes.get("views")
                if not isinstance(views, dict):
                    raise _fail(400, "CB_VA01", _INVALID_INPUT, {"views": [_REQUIRED]})
                changes["views"] = self._with_view_ids(app, views)
                extra["views"] = {name: {"id": v["id"]} for name, v in changes["views"].items()}
            reply = self._saved(app, {document: changes})
            if not extra:
                return reply
            return Reply.json(200, {**json.loads(reply.body), **extra})

        return put

    def _upload(self, request: Request, caller: _Caller) -> Reply:
        """``multipart/form-data`` with one part named ``file``; the key lasts until a settings
        write stores the file (kintone keeps it three days)."""
        uploaded = _multipart_file(request)
        if uploaded is None:
            raise _fail(400, "CB_VA01", _INVALID_INPUT, {"file": [_REQUIRED]})
        name, content_type, data = uploaded
        key = self._store(_File(name, content_type, data, temporary=True))
        return Reply.json(200, {"fileKey": key})

    def _download(self, request: Request, caller: _Caller) -> Reply:
        key = str(_params(request).get("fileKey") or "")
        stored = self._files.get(key)
        if stored is None:
            # UNVERIFIED: the code kintone gives an unknown file key.
            raise _fail(400, "GAIA_BL01", f"The specified file (id: {key}) not found.")
        return Reply(200, (("Content-Type", stored.content_type),), stored.data)

    def _saved(self, app: _App, changes: Mapping[str, Mapping[str, Any]]) -> Reply:
        return Reply.json(200, {"revision": str(app.edit(_json_copy(changes)))})

    def _store(self, stored: _File) -> str:
        key = "".join(secrets.choice(string.hexdigits.lower()) for _ in range(36))
        self._files[key] = stored
        return key

    def _stored_customization(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Customization entries naming an uploaded file (``file.fileKey``) as kintone shows
        them: a new key of the app's own, with the file's name, type and size."""
        result = dict(changes)
        for platform in ("desktop", "mobile"):
            lists = changes.get(platform)
            if not isinstance(lists, dict):
                continue
            result[platform] = {
                kind: [self._stored_entry(entry) for entry in lists.get(kind, [])]
                for kind in ("js", "css")
            }
        return result

    def _stored_entry(self, entry: Any) -> Any:
        if not isinstance(entry, dict) or entry.get("type") != "FILE":
            return entry
        key = str((entry.get("file") or {}).get("fileKey") or "")
        uploaded = self._files.get(key)
        if uploaded is None:
            # UNVERIFIED: the code kintone gives a customization naming an unknown file.
            raise _fail(400, "GAIA_BL01", f"The specified file (id: {key}) not found.")
        stored = replace(uploaded, temporary=False)
        return {
            "type": "FILE",
            "file": {
                "contentType": stored.content_type,
                "fileKey": self._store(stored),
                "name": stored.name,
                "size": str(len(stored.data)),
            },
        }

    def _with_view_ids(self, app: _App, views: Mapping[str, Any]) -> dict[str, Any]:
        """Views keep their id across writes (by name); new ones get the next free id."""
        before = app.preview.documents["views"]["views"]
        result = {}
        for name, view in views.items():
            ident = before.get(name, {}).get("id")
            if ident is None:
                self._view_ids += 1
                ident = str(self._view_ids)
            result[name] = {**view, "name": name, "id": ident}
        return result

    # Helpers; they run under the lock.

    def _app(self, app_id: int | str) -> _App:
        app = self._apps.get(int(app_id))
        if app is None:
            raise KeyError(f"no app {app_id!r}")
        return app

    def _resolve(self, request: Request, app_id: int) -> _App:
        """The app, if it exists and the request's path is its space's (a guest space's own
        ``/k/guest/{space}/`` path, or the normal one for apps outside guest spaces)."""
        app = self._apps.get(app_id)
        if app is None:
            raise _fail(
                404,
                "GAIA_AP01",
                f"The app (ID: {app_id}) not found. The app may have been deleted.",
            )
        space = request.params.get("space")
        if space is None and app.space_id is not None:
            raise _fail(400, "GAIA_IL23", _GUEST_PATH)
        if space is not None and _integer(space) != app.space_id:
            raise _fail(403, "CB_NO02", _NO_PRIVILEGE)
        return app

    def _authorize(self, caller: _Caller, app: _App, permission: Permission) -> None:
        if caller.login is None:
            token = caller.tokens.get(app.id)
            allowed_token = token is not None and (
                token.manage if permission == "manage" else token.view
            )
            if not allowed_token:
                raise _fail(403, "GAIA_NO01", _CANNOT_RUN_API)
            return
        allowed = app.managers if permission == "manage" else app.managers | app.viewers
        if caller.login not in allowed:
            raise _fail(403, "CB_NO02", _NO_PRIVILEGE)

    def _live(self, app: _App) -> _Version:
        """An app never deployed has no live side: kintone answers as if it did not exist."""
        if app.live is None:
            raise _fail(
                404,
                "GAIA_AP01",
                f"The app (ID: {app.id}) not found. The app may have been deleted.",
            )
        return app.live

    def _status(self, app: _App, now: float) -> DeployStatus:
        job = self._latest.get(app.id)
        return "SUCCESS" if job is None else job.status(app.id, now)

    def _busy(self, app: _App, now: float) -> bool:
        """Deploying, or in the lock window after: only an app's latest job can be either,
        since no job is accepted for an app while its previous one is."""
        job = self._latest.get(app.id)
        return job is not None and now < job.unlocks_at

    def _settle(self, now: float) -> None:
        """Apply the jobs that have finished since anyone last looked, in the order they
        finished; a failed job changes nothing."""
        due = sorted((j for j in self._unsettled if j.finishes_at <= now), key=_finish_time)
        if not due:
            return
        self._unsettled = [j for j in self._unsettled if j.finishes_at > now]
        for job in due:
            if job.failed:
                continue
            for app_id in job.apps:
                app = self._apps[app_id]
                if not job.revert:
                    app.live = job.deployed[app_id]
                elif app.live is not None:
                    increment = job.revert_revision == "increment"
                    revision = app.preview.revision + 1 if increment else app.live.revision
                    app.preview = _Version(app.live.documents, revision)


def _finish_time(job: _Job) -> float:
    return job.finishes_at


def _fail(
    status: int, code: str, message: str, errors: Mapping[str, list[str]] | None = None
) -> _Refused:
    return _Refused(_error(status, code, message, errors))


def _error(
    status: int, code: str, message: str, errors: Mapping[str, list[str]] | None = None
) -> Reply:
    """kintone's error body, with a fresh random ``id`` each time; ``X-Cybozu-Error`` repeats
    the code (documented for 429; on every error here, UNVERIFIED)."""
    body: dict[str, Any] = {"code": code, "id": _error_id(), "message": message}
    if errors:
        body["errors"] = {key: {"messages": texts} for key, texts in errors.items()}
    return Reply.json(status, body, (("X-Cybozu-Error", code),))


def _error_id() -> str:
    return "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(20))


def _conflict(app: _App) -> _Refused:
    return _fail(
        409,
        "GAIA_CO03",
        f"The revision is not the latest. Someone may update the app settings (ID: {app.id}).",
    )


def _field_not_found(code: str) -> _Refused:
    return _fail(400, "GAIA_FC01", f"The specified field (code: {code}) not found.")


def _properties(body: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    properties = body.get("properties")
    if not isinstance(properties, dict) or not properties:
        raise _fail(400, "CB_VA01", _INVALID_INPUT, {"properties": [_REQUIRED]})
    if not all(isinstance(p, dict) for p in properties.values()):
        raise _fail(400, "CB_VA01", _INVALID_INPUT, {"properties": [_BAD]})
    return {str(code): dict(prop) for code, prop in properties.items()}


def _without_fields(layout: Sequence[Any], kept: set[str]) -> list[Any]:
    """The layout without the fields not in ``kept`` (labels, spacers and the like stay)."""
    result = []
    for original in layout:
        row = dict(original)
        if "fields" in row:
            row["fields"] = [f for f in row["fields"] if "code" not in f or f["code"] in kept]
        if "layout" in row:
            row["layout"] = _without_fields(row["layout"], kept)
        result.append(row)
    return result


def _multipart_file(request: Request) -> tuple[str, str, bytes] | None:
    """The part named ``file`` of a multipart/form-data body: its name, type and bytes."""
    content_type = request.header("Content-Type") or ""
    if not content_type.lower().startswith("multipart/form-data"):
        return None
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = BytesParser(policy=email.policy.HTTP).parsebytes(head + request.body)
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == "file":
            data = part.get_payload(decode=True)
            name = part.get_filename() or "file"
            if isinstance(data, bytes):
                return name, part.get_content_type(), data
    return None


def _integer(value: object) -> int | None:
    """An id or revision as kintone reads it: a JSON integer, or a string of one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        return int(value)
    return None


def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        raise _fail(400, "CB_IJ01", "Invalid JSON string.") from None
    return body if isinstance(body, dict) else {}


def _query(query: str) -> dict[str, Any]:
    """A query string as kintone reads it: ``apps[0]=8&apps[1]=9``, brackets percent-encoded
    or not, is the list ["8", "9"] in index order."""
    params: dict[str, Any] = {}
    lists: dict[str, list[tuple[int, str]]] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        indexed = _INDEXED.fullmatch(key)
        if indexed is None:
            params[key] = value
        else:
            lists.setdefault(indexed[1], []).append((int(indexed[2]), value))
    params.update({key: [value for _, value in sorted(items)] for key, items in lists.items()})
    return params


def _params(request: Request) -> dict[str, Any]:
    """A GET's parameters: its JSON body when it has one (a GET with a body, or a POST with
    ``X-HTTP-Method-Override: GET``), else its query string."""
    return _json_body(request) if request.body else _query(request.query)


def _app_param(params: Mapping[str, Any], key: str) -> int:
    raw = params.get(key)
    app_id = _integer(raw)
    if raw is None or raw == "":
        message = _REQUIRED
    elif app_id is None:
        message = _NOT_INTEGER
    elif app_id < 1:
        message = _MINIMUM
    else:
        return app_id
    raise _fail(400, "CB_VA01", _INVALID_INPUT, {key: [message]})


def _deploy_request(body: Mapping[str, Any]) -> tuple[list[tuple[int, int | None]], bool]:
    """The deploy body's ``(app, revision)`` pairs and ``revert``, or CB_VA01 with every
    problem found, keyed the way kintone keys them (``apps[0].app``, ``revert``)."""
    errors: dict[str, list[str]] = {}
    items = body.get("apps")
    if not isinstance(items, list) or not items:
        errors["apps"] = [_REQUIRED]
        items = []
    elif len(items) > MAX_APPS:
        errors["apps"] = [_TOO_MANY_APPS]
        items = []
    requested: list[tuple[int, int | None]] = []
    for index, item in enumerate(items):
        entry = item if isinstance(item, dict) else {}
        raw_app, raw_revision = entry.get("app"), entry.get("revision")
        app_id, revision = _integer(raw_app), _integer(raw_revision)
        key = f"apps[{index}]"
        if raw_app is None:
            errors[f"{key}.app"] = [_REQUIRED]
        elif app_id is None:
            errors[f"{key}.app"] = [_NOT_INTEGER]
        elif app_id < 1:
            errors[f"{key}.app"] = [_MINIMUM]
        elif app_id in (seen for seen, _ in requested):
            errors[f"{key}.app"] = [_DUPLICATE]
        if raw_revision is not None and revision is None:
            errors[f"{key}.revision"] = [_NOT_INTEGER]
        if app_id is not None:
            requested.append((app_id, revision))
    revert = body.get("revert")
    if revert in ("true", "false"):
        revert = revert == "true"
    if revert is not None and not isinstance(revert, bool):
        errors["revert"] = [_NOT_BOOLEAN]
    if errors:
        raise _fail(400, "CB_VA01", _INVALID_INPUT, errors)
    return requested, bool(revert)


def _status_request(request: Request) -> list[int]:
    """The app ids of a status call, from its JSON body or its query (``apps[0]=8``)."""
    in_query = not request.body
    ids = _params(request).get("apps")
    if not isinstance(ids, list) or not ids:
        raise _fail(400, "CB_VA01", _INVALID_INPUT, {"apps": [_REQUIRED]})
    if len(ids) > MAX_APPS:
        if in_query:
            message = f"The number of parameters exceeds the limit. - apps[{MAX_APPS}]"
            raise _fail(400, "GAIA_TO03", message)
        raise _fail(400, "CB_VA01", _INVALID_INPUT, {"apps": [_TOO_MANY_APPS]})
    errors: dict[str, list[str]] = {}
    app_ids: list[int] = []
    for index, raw in enumerate(ids):
        app_id = _integer(raw)
        if app_id is None:
            errors["apps"] = [_NOT_INTEGER]
        elif app_id < 1:
            errors["apps"] = [_MINIMUM]
        elif app_id in app_ids:
            errors[f"apps[{index}].app"] = [_DUPLICATE]
        else:
            app_ids.append(app_id)
    if errors:
        raise _fail(400, "CB_VA01", _INVALID_INPUT, errors)
    return app_ids


def _basic_credentials(authorization: str) -> tuple[str, str] | None:
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _json_copy(value: Any) -> Any:
    """A deep copy that is also proof the value is JSON, as everything the API sends must be."""
    return json.loads(json.dumps(value))


def _snapshot(app: _App) -> KintoneApp:
    live = app.live
    return KintoneApp(
        id=str(app.id),
        name=app.preview.documents["settings"]["name"],
        space_id=app.space_id,
        preview_revision=app.preview.revision,
        live_revision=None if live is None else live.revision,
        preview=copy.deepcopy(app.preview.documents),
        live=None if live is None else copy.deepcopy(live.documents),
    )


def _initial_documents(app_id: int, name: str) -> dict[str, dict[str, Any]]:
    """What a new app created from scratch holds: one text field, one view, process
    management off (with kintone's default three states), no customization."""
    assignee = {"type": "ONE", "entities": []}
    states = ("Not started", "In progress", "Completed")
    return {
        "settings": {
            "name": name,
            "description": "",
            "icon": {"type": "PRESET", "key": "APP72"},
            "theme": "WHITE",
        },
        "form/fields": {
            "properties": {
                "Record_number": {
                    "type": "RECORD_NUMBER",
                    "code": "Record_number",
                    "label": "Record number",
                    "noLabel": False,
                },
                "Title": {
                    "type": "SINGLE_LINE_TEXT",
                    "code": "Title",
                    "label": "Title",
                    "noLabel": False,
                    "required": True,
                    "unique": False,
                    "maxLength": "64",
                    "minLength": "",
                    "defaultValue": "",
                    "expression": "",
                    "hideExpression": False,
                },
            }
        },
        "form/layout": {
            "layout": [
                {
                    "type": "ROW",
                    "fields": [
                        {"type": "SINGLE_LINE_TEXT", "code": "Title", "size": {"width": "200"}}
                    ],
                }
            ]
        },
        "views": {
            "views": {
                "All records": {
                    "type": "LIST",
                    "name": "All records",
                    "id": str(app_id),
                    "index": "0",
                    "fields": ["Record_number", "Title"],
                    "filterCond": "",
                    "sort": "Record_number desc",
                }
            }
        },
        "status": {
            "enable": False,
            "states": {
                state: {"name": state, "index": str(index), "assignee": assignee}
                for index, state in enumerate(states)
            },
            "actions": [
                {"name": "Start", "from": states[0], "to": states[1], "filterCond": ""},
                {"name": "Complete", "from": states[1], "to": states[2], "filterCond": ""},
            ],
        },
        "customize": {
            "scope": "ALL",
            "desktop": {"js": [], "css": []},
            "mobile": {"js": [], "css": []},
        },
        "acl": {
            "rights": [
                {
                    "entity": {"type": "CREATOR", "code": None},
                    "includeSubs": False,
                    "appEditable": True,
                    "recordViewable": True,
                    "recordAddable": True,
                    "recordEditable": True,
                    "recordDeletable": True,
                    "recordImportable": True,
                    "recordExportable": True,
                }
            ]
        },
    }
