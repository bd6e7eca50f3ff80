"""A fake of the Heroku Platform API, faithful on the wire to what the action and third-party
clients rely on (shared/reference/API_NOTES.md section 1 and the hyper-schema subset).

A release's whole life (pending until a deadline, then its outcome; its release-phase lines and
their timing) is fixed when it is created, so its state at any instant is a pure function of the
monotonic clock: no timer thread can lag behind a poll, and a GET after the deadline always sees
the terminal state.

A pipeline promotion is scripted the same way: when it is accepted, each target's fate (when its
release appears, whether it fails) is fixed. The release a target gets is written into the app's
history lazily, by the first call that looks at the fake after that instant, and dated to that
instant, so release versions stay in creation order and every observer sees the same history.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.client import responses
from typing import Any, Literal, get_args
from urllib.parse import parse_qs

from .routing import Handler, Reply, Request, Route

Outcome = Literal["succeeded", "failed", "expired"]
Status = Literal["pending", "succeeded", "failed", "expired"]
Generation = Literal["cedar", "fir"]
Stage = Literal["test", "review", "development", "staging", "production"]
TargetStatus = Literal["pending", "succeeded", "failed"]
PromotionStatus = Literal["pending", "completed"]

_APP_NAME = re.compile(r"[a-z][a-z0-9-]{1,28}[a-z0-9]")
_PIPELINE_NAME = re.compile(r"[a-z][a-z0-9-]{2,29}")
_STAGES: tuple[Stage, ...] = get_args(Stage)
_API_VERSION = re.compile(r"3(\.[a-z-]+)?")
_BYTE_OFFSET = re.compile(r"bytes=(\d+)-")
# <field> [<]>]<start>..<end>[<[>][; max=N][, order=asc|desc]: the Dev Center grammar, with
# either separator between parameters and an optional trailing one.
_RANGE = re.compile(
    r"\s*(?P<field>\w+)\s+(?P<after>\])?(?P<start>[^\s.;,\[\]]*)\.\.(?P<end>[^\s;,\[\]]*)"
    r"(?P<before>\[)?\s*(?P<params>[;,].*)?"
)
_DEFAULT_PAGE = 200
_MAX_PAGE = 1000
_FAILED_RELEASE_LINE = "release command failed: exit status 1"
# error_message of a promotion target whose release did not succeed (heroku/cli#1600).
_TARGET_RELEASE_FAILED = "release command failed"
_TARGET_RELEASE_EXPIRED = "release expired"
_STABLE_IDS = uuid.UUID("5b1e7a52-8d0c-4a53-9a55-0d7c2f8f1e3a")

_NO_ENDPOINT = (
    "The requested API endpoint was not found. Are you using the right HTTP verb (i.e. `GET` vs. "
    "`POST`), and did you specify your intended version with the `Accept` header?"
)
_NOT_ACCEPTABLE = (
    "Please specify a version along with Heroku's API MIME type. For example, "
    "`Accept: application/vnd.heroku+json; version=3`."
)
_RATE_LIMITED = (
    "Your account reached the API rate limit\nPlease wait a few minutes before making new requests"
)
_RATE_LIMIT_URL = "https://devcenter.heroku.com/articles/platform-api-reference#rate-limits"
_ERROR_IDS = {
    400: "bad_request",
    401: "unauthorized",
    402: "delinquent",
    403: "forbidden",
    404: "not_found",
    406: "not_acceptable",
    409: "conflict",
    410: "gone",
    416: "requested_range_not_satisfiable",
    422: "invalid_params",
    429: "rate_limit",
    500: "internal_server_error",
    503: "unavailable",
}
_DEFAULT_MESSAGES = {404: _NO_ENDPOINT, 429: _RATE_LIMITED}


@dataclass(frozen=True)
class User:
    id: str
    email: str
    created_at: datetime


@dataclass(frozen=True)
class App:
    id: str
    name: str
    owner: User
    stack: str
    generation: Generation
    region: str
    web_url: str
    created_at: datetime


@dataclass(frozen=True)
class Slug:
    id: str
    app_id: str
    commit: str | None
    commit_description: str | None
    process_types: Mapping[str, str]
    stack: str
    size: int
    created_at: datetime


@dataclass(frozen=True)
class Release:
    """A release as the API would show it at one instant; a snapshot, so assertions stay stable."""

    id: str
    version: int
    app_id: str
    app_name: str
    status: Status
    current: bool
    slug_id: str | None
    description: str
    user_id: str
    user_email: str
    output_stream_url: str | None
    created_at: datetime
    updated_at: datetime

    @property
    def eligible_for_rollback(self) -> bool:
        return self.status == "succeeded"


@dataclass(frozen=True)
class Pipeline:
    """Names are not unique on Heroku, so tests can seed two pipelines with the same one."""

    id: str
    name: str
    owner: User
    generation: Generation
    created_at: datetime


@dataclass(frozen=True)
class Coupling:
    id: str
    app: App
    pipeline: Pipeline
    stage: Stage
    created_at: datetime


@dataclass(frozen=True)
class PromotionTarget:
    """One target as the API would show it at one instant."""

    id: str
    app_id: str
    app_name: str
    release_id: str | None
    status: TargetStatus
    error_message: str | None


@dataclass(frozen=True)
class Promotion:
    """A promotion as the API would show it at one instant; ``completed`` is not success."""

    id: str
    pipeline_id: str
    source_app_id: str
    source_release_id: str
    status: PromotionStatus
    targets: tuple[PromotionTarget, ...]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class _Stream:
    url: str
    opens_at: float
    closes_at: float
    lines: tuple[str, ...]
    line_times: tuple[float, ...]


@dataclass(frozen=True)
class _Record:
    id: str
    version: int
    app: App
    slug_id: str | None
    description: str
    user: User
    created_wall: datetime
    created_mono: float
    settles_at: float
    outcome: Status
    stream: _Stream | None

    def status(self, now: float) -> Status:
        return self.outcome if now >= self.settles_at else "pending"


@dataclass(frozen=True)
class _Behaviour:
    pending_seconds: float = 0.2
    outcome: Status = "succeeded"
    release_phase_lines: tuple[str, ...] | None = None
    stream_delay_seconds: float = 0.1


@dataclass(frozen=True)
class _PromotionBehaviour:
    pending_seconds: float = 0.5
    target_waits_for_release: bool = False


@dataclass(frozen=True)
class _Target:
    """A target's whole script, fixed on acceptance like a release's."""

    id: str
    app: App
    release_at: float
    failure: str | None
    waits_for_release: bool
    release_behaviour: _Behaviour


@dataclass(frozen=True)
class _PromotionRecord:
    id: str
    pipeline: Pipeline
    source_app: App
    source_release_id: str
    slug_id: str
    description: str
    user: User
    base_url: str
    created_wall: datetime
    created_mono: float
    targets: tuple[_Target, ...]

    def wall(self, mono: float) -> datetime:
        """The wall-clock time of a monotonic instant, to date what the lazy clock decided."""
        return (self.created_wall + timedelta(seconds=mono - self.created_mono)).replace(
            microsecond=0
        )


@dataclass(frozen=True)
class _TargetState:
    status: TargetStatus
    release_id: str | None
    error_message: str | None
    settled_at: float | None


@dataclass(frozen=True)
class _RateLimit:
    capacity: int = 4500
    refill_per_second: float = 75 / 60
    retry_after: str | None = None


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class _ApiError(Exception):
    """Raised anywhere below a handler so each check reads as one line and yields Heroku's body."""

    def __init__(
        self,
        status: int,
        error_id: str,
        message: str,
        *,
        headers: tuple[tuple[str, str], ...] = (),
        **extra: str,
    ) -> None:
        super().__init__(message)
        self.reply = Reply.json(status, {"id": error_id, "message": message, **extra}, headers)


ApiHandler = Callable[[Request, User], Reply]


class FakeHeroku:
    """State and handlers of the fake; every access goes through one lock."""

    name = "heroku"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users: dict[str, User] = {}
        self._apps: dict[str, App] = {}
        self._collaborators: dict[str, set[str]] = {}
        self._slugs: dict[str, Slug] = {}
        self._releases: dict[str, list[_Record]] = {}
        self._streams: dict[str, _Stream] = {}
        self._behaviours: dict[str, _Behaviour] = {}
        self._two_factor: set[str] = set()
        self._config_vars: dict[str, dict[str, str]] = {}
        self._rate_limit = _RateLimit()
        self._buckets: dict[str, _Bucket] = {}
        self._pipelines: dict[str, Pipeline] = {}
        self._couplings: dict[str, Coupling] = {}
        self._promotions: dict[str, _PromotionRecord] = {}
        self._promotion_behaviour = _PromotionBehaviour()
        self._target_failures: dict[str, str] = {}
        # Targets whose release is not yet written into the target app's history.
        self._unreleased: list[tuple[_PromotionRecord, _Target]] = []
        self._target_releases: dict[str, _Record] = {}

    # Seeding and inspection, for tests and demos.

    def add_user(self, email: str, token: str | None = None) -> str:
        token = token or "HRKU-" + secrets.token_hex(30)
        with self._lock:
            if token in self._users:
                raise ValueError("that token is already issued")
            self._users[token] = User(str(uuid.uuid4()), email, _now())
        return token

    def add_app(
        self,
        name: str,
        owner_token: str,
        stack: str = "heroku-24",
        generation: Generation = "cedar",
        region: str = "us",
    ) -> App:
        if not _APP_NAME.fullmatch(name):
            raise ValueError(f"Heroku would refuse the app name {name!r}")
        with self._lock:
            if self._find_app(name) is not None:
                raise ValueError(f"app {name!r} already exists")
            owner = self._users[owner_token]
            web_url = f"https://{name}-{secrets.token_hex(6)}.herokuapp.com/"
            app = App(str(uuid.uuid4()), name, owner, stack, generation, region, web_url, _now())
            self._apps[app.id] = app
            self._collaborators[app.id] = {owner.id}
            self._releases[app.id] = []
        return app

    def grant(self, token: str, app: str) -> None:
        with self._lock:
            self._collaborators[self._app(app).id].add(self._users[token].id)

    def add_slug(
        self,
        app: str,
        commit: str | None = None,
        commit_description: str | None = None,
        process_types: Mapping[str, str] | None = None,
    ) -> str:
        with self._lock:
            owner = self._app(app)
            slug = Slug(
                str(uuid.uuid4()),
                owner.id,
                commit,
                commit_description,
                dict(process_types or {"web": "gunicorn app:app"}),
                owner.stack,
                secrets.randbelow(50_000_000) + 1_000_000,
                _now(),
            )
            self._slugs[slug.id] = slug
        return slug.id

    def add_release(
        self,
        app: str,
        slug_id: str | None,
        status: Status = "succeeded",
        description: str | None = None,
    ) -> Release:
        """Seed a release that is already in ``status``; a "pending" one never settles."""
        with self._lock:
            self._release_due_targets()
            target = self._app(app)
            if slug_id is not None and slug_id not in self._slugs:
                raise KeyError(f"no slug {slug_id!r}")
            settled = _Behaviour(pending_seconds=0.0, outcome=status)
            behaviour = settled if status != "pending" else _Behaviour(pending_seconds=math.inf)
            text = description or self._deploy_description(slug_id)
            record = self._append(
                target,
                slug_id=slug_id,
                description=text,
                user=target.owner,
                behaviour=behaviour,
                base_url="",
            )
            return self._snapshot(record)

    def set_release_behaviour(
        self,
        app: str,
        pending_seconds: float = 0.2,
        outcome: Outcome = "succeeded",
        release_phase_lines: list[str] | None = None,
        stream_delay_seconds: float = 0.1,
    ) -> None:
        """Script releases that clients create on ``app`` from now on."""
        lines = None if release_phase_lines is None else tuple(release_phase_lines)
        with self._lock:
            self._behaviours[self._app(app).id] = _Behaviour(
                pending_seconds, outcome, lines, stream_delay_seconds
            )

    def set_rate_limit(
        self,
        capacity: int = 4500,
        refill_per_second: float = 75 / 60,
        retry_after: str | None = None,
    ) -> None:
        """Replace the limit and refill every account's bucket to the new capacity."""
        with self._lock:
            self._rate_limit = _RateLimit(capacity, refill_per_second, retry_after)
            self._buckets.clear()

    def set_config_vars(self, app: str, values: Mapping[str, str]) -> None:
        """Config vars are secrets: clients should only ever look at their names."""
        with self._lock:
            self._config_vars[self._app(app).id] = dict(values)

    def require_two_factor(self, token: str) -> None:
        with self._lock:
            self._two_factor.add(self._users[token].id)

    def app(self, ident: str) -> App:
        """Look an app up by name or id, to assert on ids the client put on the wire."""
        with self._lock:
            return self._app(ident)

    def releases(self, app: str) -> list[Release]:
        with self._lock:
            self._release_due_targets()
            return self._snapshots(self._app(app))

    def current_release(self, app: str) -> Release | None:
        return next((r for r in self.releases(app) if r.current), None)

    def add_pipeline(
        self, name: str, owner_token: str, generation: Generation = "cedar"
    ) -> Pipeline:
        """Seed a pipeline; unlike apps, two pipelines may share a name, as on Heroku."""
        if not _PIPELINE_NAME.fullmatch(name):
            raise ValueError(f"Heroku would refuse the pipeline name {name!r}")
        with self._lock:
            owner = self._users[owner_token]
            pipeline = Pipeline(str(uuid.uuid4()), name, owner, generation, _now())
            self._pipelines[pipeline.id] = pipeline
        return pipeline

    def couple(self, app: str, pipeline_id: str, stage: Stage) -> str:
        """Put ``app`` in a pipeline stage; returns the coupling id."""
        with self._lock:
            try:
                coupling = self._couple(self._app(app), self._pipelines[pipeline_id], stage)
            except _ApiError as error:
                raise ValueError(str(error)) from None
        return coupling.id

    def set_promotion_behaviour(
        self, pending_seconds: float = 0.5, target_waits_for_release: bool = False
    ) -> None:
        """Script promotions accepted from now on.

        ``pending_seconds`` after acceptance each target's release is created (with the target
        app's release behaviour). Without ``target_waits_for_release`` the target succeeds right
        then, while its release may still be in its release phase: the case where the official
        CLI reports success too early. With it, the target stays pending until its release is
        terminal and fails with "release command failed" unless the release succeeded.
        """
        with self._lock:
            self._promotion_behaviour = _PromotionBehaviour(
                pending_seconds, target_waits_for_release
            )

    def fail_promotion_target(self, app: str, error_message: str) -> None:
        """Make the next accepted promotion to ``app`` fail there with this message and no
        release, as Heroku does when, say, it cannot verify the slug's checksum."""
        with self._lock:
            self._target_failures[self._app(app).id] = error_message

    def pipelines(self) -> list[Pipeline]:
        with self._lock:
            return list(self._pipelines.values())

    def promotions(self) -> list[Promotion]:
        """Every accepted promotion, oldest first, as the API would show it now."""
        with self._lock:
            now = time.monotonic()
            return [self._promotion_view(p, now) for p in self._promotions.values()]

    # The Service protocol.

    def routes(self) -> list[Route]:
        api = self._api
        return [
            Route("GET", "/account", api(self._get_account)),
            Route("GET", "/account/rate-limits", api(self._get_rate_limits, metered=False)),
            Route("GET", "/apps/{app}", api(self._get_app)),
            Route("GET", "/apps/{app}/releases", api(self._list_releases)),
            Route("POST", "/apps/{app}/releases", api(self._create_release)),
            Route("GET", "/apps/{app}/releases/{release}", api(self._get_release)),
            Route("GET", "/apps/{app}/slugs/{slug}", api(self._get_slug)),
            Route("GET", "/apps/{app}/config-vars", api(self._get_config_vars)),
            Route("GET", "/apps/{app}/pipeline-couplings", api(self._get_app_coupling)),
            Route("POST", "/filters/apps", api(self._filter_apps)),
            Route("GET", "/pipelines", api(self._list_pipelines)),
            Route("GET", "/pipelines/{pipeline}", api(self._get_pipeline)),
            Route(
                "GET",
                "/pipelines/{pipeline}/pipeline-couplings",
                api(self._list_pipeline_couplings),
            ),
            Route("GET", "/pipelines/{pipeline}/latest-releases", api(self._list_latest_releases)),
            Route("GET", "/pipeline-couplings", api(self._list_couplings)),
            Route("POST", "/pipeline-couplings", api(self._create_coupling)),
            Route("GET", "/pipeline-couplings/{coupling}", api(self._get_coupling)),
            Route("POST", "/pipeline-promotions", api(self._create_promotion)),
            Route("GET", "/pipeline-promotions/{promotion}", api(self._get_promotion)),
            Route(
                "GET",
                "/pipeline-promotions/{promotion}/promotion-targets",
                api(self._list_promotion_targets),
            ),
            Route("GET", "/streams/{secret}", self._get_stream, frozenset({"secret"})),
        ]

    def error_reply(
        self, request: Request, status: int, error_id: str | None, message: str | None
    ) -> Reply:
        phrase = responses.get(status, "Error")
        body = {
            "id": error_id or _ERROR_IDS.get(status, phrase.lower().replace(" ", "_")),
            "message": message or _DEFAULT_MESSAGES.get(status, f"{phrase}."),
        }
        with self._lock:
            return self._stamp(Reply.json(status, body), self._users.get(_credential(request)))

    def secrets(self) -> list[str]:
        with self._lock:
            values = [v for app in self._config_vars.values() for v in app.values()]
            return [*self._users, *self._streams, *values]

    # Request plumbing.

    def _api(self, handler: ApiHandler, *, metered: bool = True) -> Handler:
        """Wrap a handler in what every Platform API call goes through, in Heroku's order."""

        def serve(request: Request) -> Reply:
            with self._lock:
                self._release_due_targets()
                user = self._users.get(_credential(request))
                try:
                    reply = handler(request, self._admit(request, user, metered=metered))
                except _ApiError as error:
                    reply = error.reply
                return self._stamp(reply, user)

        return serve

    def _admit(self, request: Request, user: User | None, *, metered: bool) -> User:
        if not _accepts_v3(request.header("Accept")):
            raise _ApiError(406, "not_acceptable", _NOT_ACCEPTABLE)
        if user is None:
            raise _ApiError(401, "unauthorized", "Invalid credentials provided.")
        if metered:
            bucket = self._bucket(user)
            if bucket.tokens < 1:
                retry_after = self._rate_limit.retry_after
                raise _ApiError(
                    429,
                    "rate_limit",
                    _RATE_LIMITED,
                    headers=(("Retry-After", retry_after),) if retry_after else (),
                    url=_RATE_LIMIT_URL,
                )
            bucket.tokens -= 1
        if user.id in self._two_factor:
            raise _ApiError(403, "two_factor", "Two factor code is required.")
        return user

    def _stamp(self, reply: Reply, user: User | None) -> Reply:
        remaining = self._rate_limit.capacity if user is None else int(self._bucket(user).tokens)
        return reply.with_headers(
            ("Request-Id", str(uuid.uuid4())), ("RateLimit-Remaining", str(remaining))
        )

    def _bucket(self, user: User) -> _Bucket:
        now = time.monotonic()
        limit = self._rate_limit
        bucket = self._buckets.setdefault(user.id, _Bucket(limit.capacity, now))
        refilled = bucket.tokens + (now - bucket.stamp) * limit.refill_per_second
        bucket.tokens, bucket.stamp = min(float(limit.capacity), refilled), now
        return bucket

    # Handlers; they run under the lock.

    def _get_account(self, request: Request, user: User) -> Reply:
        return Reply.json(200, _account_wire(user, two_factor=user.id in self._two_factor))

    def _get_rate_limits(self, request: Request, user: User) -> Reply:
        return Reply.json(200, {"remaining": int(self._bucket(user).tokens)})

    def _get_app(self, request: Request, user: User) -> Reply:
        app = self._accessible_app(request.params["app"], user)
        return Reply.json(200, _app_wire(app, self._released_at(app, time.monotonic())))

    def _list_releases(self, request: Request, user: User) -> Reply:
        app = self._accessible_app(request.params["app"], user)
        items = [_release_wire(r) for r in self._snapshots(app)]
        return _paginate(items, request.header("Range"), {"id": str, "version": int}, "version")

    def _get_release(self, request: Request, user: User) -> Reply:
        app = self._accessible_app(request.params["app"], user)
        ident = request.params["release"]
        record = next(
            (
                r
                for r in self._releases[app.id]
                if (str(r.version) == ident if ident.isdigit() else r.id == ident)
            ),
            None,
        )
        if record is None:
            raise _ApiError(404, "not_found", "Couldn't find that release.", resource="release")
        return Reply.json(200, _release_wire(self._snapshot(record)))

    def _create_release(self, request: Request, user: User) -> Reply:
        app = self._accessible_app(request.params["app"], user)
        body = _json_object(request)
        if "release" in body:
            slug_id, description = self._rollback_target(app, body["release"])
        else:
            slug_id = self._usable_slug(body.get("slug"), user).id
            description = body.get("description") or self._deploy_description(slug_id)
            if not isinstance(description, str):
                raise _ApiError(422, "invalid_params", "Invalid params: description must be text.")
        behaviour = self._behaviours.get(app.id, _Behaviour())
        record = self._append(
            app,
            slug_id=slug_id,
            description=description,
            user=user,
            behaviour=behaviour,
            base_url=request.base_url,
        )
        return Reply.json(201, _release_wire(self._snapshot(record)))

    def _get_slug(self, request: Request, user: User) -> Reply:
        self._accessible_app(request.params["app"], user)
        return Reply.json(200, _slug_wire(self._usable_slug(request.params["slug"], user)))

    def _get_config_vars(self, request: Request, user: User) -> Reply:
        app = self._accessible_app(request.params["app"], user)
        return Reply.json(200, dict(self._config_vars.get(app.id, {})))

    def _get_app_coupling(self, request: Request, user: User) -> Reply:
        app = self._accessible_app(request.params["app"], user)
        coupling = self._coupling_of(app)
        if coupling is None:
            raise _coupling_not_found()
        return Reply.json(200, _coupling_wire(coupling))

    def _filter_apps(self, request: Request, user: User) -> Reply:
        """The CLI's way to turn a pipeline's app ids into apps; foreign ids are left out."""
        wanted = _json_object(request).get("in", {})
        ids = wanted.get("id", []) if isinstance(wanted, dict) else None
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise _ApiError(422, "invalid_params", "Invalid params: in.id must be a list of ids.")
        apps = [
            a for i in dict.fromkeys(ids) if (a := self._apps.get(i)) and self._can_access(a, user)
        ]
        now = time.monotonic()
        items = [_app_wire(a, self._released_at(a, now)) for a in apps]
        return _paginate(items, request.header("Range"), {"id": str, "name": str}, "id")

    def _list_pipelines(self, request: Request, user: User) -> Reply:
        names = parse_qs(request.query).get("eq[name]")
        pipelines = [
            p
            for p in self._pipelines.values()
            if self._can_see(p, user) and (names is None or p.name in names)
        ]
        items = [_pipeline_wire(p) for p in pipelines]
        return _paginate(items, request.header("Range"), {"id": str, "name": str}, "id")

    def _get_pipeline(self, request: Request, user: User) -> Reply:
        """By id, or by name: a name that several pipelines share answers 300 with them all."""
        ident = request.params["pipeline"]
        by_id = self._pipelines.get(ident)
        if by_id is not None and self._can_see(by_id, user):
            return Reply.json(200, _pipeline_wire(by_id))
        named = [p for p in self._pipelines.values() if p.name == ident and self._can_see(p, user)]
        if len(named) > 1:
            return Reply.json(300, [_pipeline_wire(p) for p in named])
        if not named:
            raise _pipeline_not_found()
        return Reply.json(200, _pipeline_wire(named[0]))

    def _list_pipeline_couplings(self, request: Request, user: User) -> Reply:
        pipeline = self._visible_pipeline(request.params["pipeline"], user)
        items = [
            _coupling_wire(c) for c in self._couplings.values() if c.pipeline.id == pipeline.id
        ]
        return _paginate(items, request.header("Range"), {"id": str}, "id")

    def _list_latest_releases(self, request: Request, user: User) -> Reply:
        """ "Pipeline Release List" of the Platform API schema (`pipeline-release`, heroku's
        typescript-api-schema `PipelineReleaseService.list`), absent from the schema subset in
        shared/reference. UNVERIFIED: that each item is a full release object with `app`, that
        "latest" means the highest version whatever its status (a pending release included),
        that apps the key cannot read are left out, and that the list is never paged."""
        pipeline = self._visible_pipeline(request.params["pipeline"], user)
        items = []
        for coupling in self._couplings.values():
            if coupling.pipeline.id != pipeline.id or not self._can_access(coupling.app, user):
                continue
            releases = self._snapshots(coupling.app)
            if releases:
                items.append(_release_wire(max(releases, key=lambda r: r.version)))
        return Reply.json(200, items)

    def _list_couplings(self, request: Request, user: User) -> Reply:
        items = [
            _coupling_wire(c) for c in self._couplings.values() if self._can_access(c.app, user)
        ]
        return _paginate(items, request.header("Range"), {"id": str}, "id")

    def _get_coupling(self, request: Request, user: User) -> Reply:
        coupling = self._couplings.get(request.params["coupling"])
        if coupling is None or not self._can_access(coupling.app, user):
            raise _coupling_not_found()
        return Reply.json(200, _coupling_wire(coupling))

    def _create_coupling(self, request: Request, user: User) -> Reply:
        body = _json_object(request)
        missing = [k for k in ("app", "pipeline", "stage") if not isinstance(body.get(k), str)]
        if missing:
            raise _ApiError(
                422, "invalid_params", f"Missing required params: {', '.join(missing)}."
            )
        app = self._accessible_app(body["app"], user)
        pipeline = self._visible_pipeline(body["pipeline"], user)
        return Reply.json(201, _coupling_wire(self._couple(app, pipeline, body["stage"])))

    def _create_promotion(self, request: Request, user: User) -> Reply:
        """Validate everything before changing anything: a refused promotion leaves no trace."""
        body = _json_object(request)
        pipeline_id = _nested_id(body, "pipeline")
        source = body.get("source")
        source = source if isinstance(source, dict) else {}
        source_app_id = _nested_id(source, "app")
        targets = body.get("targets")
        if (
            pipeline_id is None
            or source_app_id is None
            or not isinstance(targets, list)
            or not targets
            or any(_nested_id(t, "app") is None for t in targets)
        ):
            raise _ApiError(
                422,
                "invalid_params",
                "Invalid params: pipeline.id, source.app.id and targets[].app.id are required.",
            )
        pipeline = self._visible_pipeline(pipeline_id, user)
        source_app = self._accessible_app(source_app_id, user)
        target_apps = [self._accessible_app(str(_nested_id(t, "app")), user) for t in targets]
        for app in (source_app, *target_apps):
            coupling = self._coupling_of(app)
            if coupling is None or coupling.pipeline.id != pipeline.id:
                raise _ApiError(
                    422, "invalid_params", f"App {app.name} is not in pipeline {pipeline.name}."
                )
        if source_app in target_apps:
            raise _ApiError(422, "invalid_params", "Cannot promote an app to itself.")
        if len(set(target_apps)) != len(target_apps):
            raise _ApiError(422, "invalid_params", "Each target app may appear only once.")
        release = self._promotable_release(source_app, source.get("release"))
        if release.slug_id is None:
            raise _ApiError(
                422,
                "invalid_params",
                f"Release v{release.version} of {source_app.name} has no slug to promote.",
            )
        commit = self._slugs[release.slug_id].commit
        description = f"Promote {source_app.name} v{release.version}"
        now = time.monotonic()
        behaviour = self._promotion_behaviour
        promotion = _PromotionRecord(
            id=str(uuid.uuid4()),
            pipeline=pipeline,
            source_app=source_app,
            source_release_id=release.id,
            slug_id=release.slug_id,
            description=description if commit is None else f"{description} {commit[:7]}",
            user=user,
            base_url=request.base_url,
            created_wall=_now(),
            created_mono=now,
            targets=tuple(
                _Target(
                    id=str(uuid.uuid4()),
                    app=app,
                    release_at=now + behaviour.pending_seconds,
                    failure=self._target_failures.pop(app.id, None),
                    waits_for_release=behaviour.target_waits_for_release,
                    release_behaviour=self._behaviours.get(app.id, _Behaviour()),
                )
                for app in target_apps
            ),
        )
        self._promotions[promotion.id] = promotion
        self._unreleased.extend((promotion, t) for t in promotion.targets if t.failure is None)
        return Reply.json(201, _promotion_wire(self._promotion_view(promotion, now)))

    def _get_promotion(self, request: Request, user: User) -> Reply:
        promotion = self._visible_promotion(request.params["promotion"], user)
        return Reply.json(200, _promotion_wire(self._promotion_view(promotion, time.monotonic())))

    def _list_promotion_targets(self, request: Request, user: User) -> Reply:
        promotion = self._visible_promotion(request.params["promotion"], user)
        view = self._promotion_view(promotion, time.monotonic())
        items = [_target_wire(t, view.id) for t in view.targets]
        return _paginate(items, request.header("Range"), {"id": str}, "id")

    def _get_stream(self, request: Request) -> Reply:
        """Serve release-phase output like Heroku's stream host: no auth, 404 until it starts."""
        with self._lock:
            stream = self._streams.get(request.params["secret"])
        if stream is None or time.monotonic() < stream.opens_at:
            return Reply.text(404, "Channel is not registered.\n")
        resume = _BYTE_OFFSET.fullmatch(request.header("Range") or "")
        offset = int(resume[1]) if resume else 0
        total = sum(len(f"{line}\n".encode()) for line in stream.lines)
        if resume and offset >= total and time.monotonic() >= stream.closes_at:
            return Reply(416, (("Content-Range", f"bytes */{total}"),))
        headers = (("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-cache"))
        return Reply(206 if resume else 200, headers, chunks=_play(stream, offset))

    # Helpers; they run under the lock.

    def _find_app(self, ident: str) -> App | None:
        by_id = self._apps.get(ident)
        return by_id or next((a for a in self._apps.values() if a.name == ident), None)

    def _app(self, ident: str) -> App:
        app = self._find_app(ident)
        if app is None:
            raise KeyError(f"no app {ident!r}")
        return app

    def _accessible_app(self, ident: str, user: User) -> App:
        app = self._find_app(ident)
        if app is None:
            raise _ApiError(404, "not_found", "Couldn't find that app.", resource="app")
        if not self._can_access(app, user):
            raise _ApiError(403, "forbidden", f"You do not have access to the app {app.name}.")
        return app

    def _can_access(self, app: App, user: User) -> bool:
        return user.id in self._collaborators[app.id]

    def _released_at(self, app: App, now: float) -> datetime | None:
        current = _current(self._releases[app.id], now)
        return None if current is None else _settled_wall(current)

    def _can_see(self, pipeline: Pipeline, user: User) -> bool:
        """A pipeline is visible to its owner and to anyone with access to one of its apps."""
        return pipeline.owner.id == user.id or any(
            c.pipeline.id == pipeline.id and self._can_access(c.app, user)
            for c in self._couplings.values()
        )

    def _visible_pipeline(self, pipeline_id: str, user: User) -> Pipeline:
        """By id only, as the schema's links say; one the user cannot see does not exist."""
        pipeline = self._pipelines.get(pipeline_id)
        if pipeline is None or not self._can_see(pipeline, user):
            raise _pipeline_not_found()
        return pipeline

    def _coupling_of(self, app: App) -> Coupling | None:
        return next((c for c in self._couplings.values() if c.app.id == app.id), None)

    def _couple(self, app: App, pipeline: Pipeline, stage: object) -> Coupling:
        if stage not in _STAGES:
            raise _ApiError(
                422, "invalid_params", f"Invalid params: stage must be one of {', '.join(_STAGES)}."
            )
        if self._coupling_of(app) is not None:
            raise _ApiError(422, "invalid_params", f"App {app.name} is already in a pipeline.")
        if app.generation != pipeline.generation:
            raise _ApiError(
                422,
                "invalid_params",
                f"App {app.name} is a {app.generation} app; pipeline {pipeline.name} holds "
                f"{pipeline.generation} apps.",
            )
        coupling = Coupling(str(uuid.uuid4()), app, pipeline, stage, _now())
        self._couplings[coupling.id] = coupling
        return coupling

    def _promotable_release(self, app: App, pinned: object) -> _Record:
        """The pinned release if it is the source's own and succeeded, else the current one."""
        now = time.monotonic()
        records = self._releases[app.id]
        if pinned is None:
            current = _current(records, now)
            if current is None:
                raise _ApiError(422, "invalid_params", f"App {app.name} has no release to promote.")
            return current
        ident = pinned.get("id") if isinstance(pinned, dict) else None
        if not isinstance(ident, str):
            raise _ApiError(422, "invalid_params", "Invalid params: source.release.id is required.")
        record = next((r for r in records if r.id == ident), None)
        if record is None:
            raise _ApiError(
                422, "invalid_params", f"Release {ident} is not a release of {app.name}."
            )
        status = record.status(now)
        if status != "succeeded":
            raise _ApiError(
                422,
                "invalid_params",
                f"Release v{record.version} of {app.name} is {status}: only a succeeded release "
                "can be promoted.",
            )
        return record

    def _visible_promotion(self, promotion_id: str, user: User) -> _PromotionRecord:
        promotion = self._promotions.get(promotion_id)
        if promotion is None or not self._can_see(promotion.pipeline, user):
            raise _ApiError(
                404,
                "not_found",
                "Couldn't find that pipeline promotion.",
                resource="pipeline_promotion",
            )
        return promotion

    def _release_due_targets(self, now: float | None = None) -> None:
        """Write the releases whose creation time has come into their apps' histories, in
        creation order, each dated to its own instant rather than to this call."""
        now = time.monotonic() if now is None else now
        due = sorted(
            (pt for pt in self._unreleased if pt[1].release_at <= now),
            key=lambda pt: pt[1].release_at,
        )
        if not due:
            return
        self._unreleased = [pt for pt in self._unreleased if pt[1].release_at > now]
        for promotion, target in due:
            self._target_releases[target.id] = self._append(
                target.app,
                slug_id=promotion.slug_id,
                description=promotion.description,
                user=promotion.user,
                behaviour=target.release_behaviour,
                base_url=promotion.base_url,
                at=target.release_at,
                created_wall=promotion.wall(target.release_at),
            )

    def _target_state(self, target: _Target, now: float) -> _TargetState:
        if now < target.release_at:
            return _TargetState("pending", None, None, None)
        if target.failure is not None:
            return _TargetState("failed", None, target.failure, target.release_at)
        record = self._target_releases[target.id]
        if not target.waits_for_release:
            return _TargetState("succeeded", record.id, None, target.release_at)
        status = record.status(now)
        if status == "pending":
            return _TargetState("pending", record.id, None, None)
        if status == "succeeded":
            return _TargetState("succeeded", record.id, None, record.settles_at)
        message = _TARGET_RELEASE_EXPIRED if status == "expired" else _TARGET_RELEASE_FAILED
        return _TargetState("failed", record.id, message, record.settles_at)

    def _promotion_view(self, promotion: _PromotionRecord, now: float) -> Promotion:
        self._release_due_targets(now)
        states = [(t, self._target_state(t, now)) for t in promotion.targets]
        settled = [s.settled_at for _, s in states if s.settled_at is not None]
        completed = len(settled) == len(states)
        return Promotion(
            id=promotion.id,
            pipeline_id=promotion.pipeline.id,
            source_app_id=promotion.source_app.id,
            source_release_id=promotion.source_release_id,
            status="completed" if completed else "pending",
            targets=tuple(
                PromotionTarget(t.id, t.app.id, t.app.name, s.release_id, s.status, s.error_message)
                for t, s in states
            ),
            created_at=promotion.created_wall,
            updated_at=promotion.wall(max(settled)) if completed else promotion.created_wall,
        )

    def _usable_slug(self, slug_id: object, user: User) -> Slug:
        if not isinstance(slug_id, str):
            raise _ApiError(422, "invalid_params", "Missing required params: slug.")
        slug = self._slugs.get(slug_id)
        if slug is None:
            raise _ApiError(404, "not_found", "Couldn't find that slug.", resource="slug")
        if user.id not in self._collaborators[slug.app_id]:
            owner = self._apps[slug.app_id].name
            raise _ApiError(403, "forbidden", f"You do not have access to the app {owner}.")
        return slug

    def _rollback_target(self, app: App, release_id: object) -> tuple[str | None, str]:
        if not isinstance(release_id, str):
            raise _ApiError(422, "invalid_params", "Invalid params: release must be a release id.")
        target = next((r for r in self._releases[app.id] if r.id == release_id), None)
        if target is None:
            raise _ApiError(404, "not_found", "Couldn't find that release.", resource="release")
        if target.status(time.monotonic()) != "succeeded":
            raise _ApiError(
                422, "invalid_params", f"Release v{target.version} is not eligible for rollback."
            )
        return target.slug_id, f"Rollback to v{target.version}"

    def _deploy_description(self, slug_id: str | None) -> str:
        commit = None if slug_id is None else self._slugs[slug_id].commit
        return "Deploy" if commit is None else f"Deploy {commit[:8]}"

    def _append(
        self,
        app: App,
        *,
        slug_id: str | None,
        description: str,
        user: User,
        behaviour: _Behaviour,
        base_url: str,
        at: float | None = None,
        created_wall: datetime | None = None,
    ) -> _Record:
        """``at`` and ``created_wall`` date a release created on schedule by a promotion."""
        records = self._releases[app.id]
        now = time.monotonic() if at is None else at
        settles_at = now + behaviour.pending_seconds
        stream = None
        if behaviour.release_phase_lines is not None:
            failed = (_FAILED_RELEASE_LINE,) if behaviour.outcome == "failed" else ()
            lines = behaviour.release_phase_lines + failed
            opens_at = now + behaviour.stream_delay_seconds
            step = max(0.0, settles_at - opens_at) / max(1, len(lines))
            secret = secrets.token_hex(32)
            stream = _Stream(
                f"{base_url}/streams/{secret}",
                opens_at,
                max(opens_at, settles_at),
                lines,
                tuple(opens_at + i * step for i in range(len(lines))),
            )
            self._streams[secret] = stream
        record = _Record(
            str(uuid.uuid4()),
            len(records) + 1,
            app,
            slug_id,
            description,
            user,
            created_wall or _now(),
            now,
            settles_at,
            behaviour.outcome,
            stream,
        )
        records.append(record)
        return record

    def _snapshots(self, app: App) -> list[Release]:
        now = time.monotonic()
        records = self._releases[app.id]
        current = _current(records, now)
        return [_view(r, now, current) for r in records]

    def _snapshot(self, record: _Record) -> Release:
        now = time.monotonic()
        return _view(record, now, _current(self._releases[record.app.id], now))


def _current(records: list[_Record], now: float) -> _Record | None:
    """The release that most recently succeeded: a failed one leaves the previous one current."""
    succeeded = [r for r in records if r.status(now) == "succeeded"]
    return max(succeeded, key=lambda r: (r.settles_at, r.version), default=None)


def _view(record: _Record, now: float, current: _Record | None) -> Release:
    status = record.status(now)
    return Release(
        id=record.id,
        version=record.version,
        app_id=record.app.id,
        app_name=record.app.name,
        status=status,
        current=record is current,
        slug_id=record.slug_id,
        description=record.description,
        user_id=record.user.id,
        user_email=record.user.email,
        output_stream_url=None if record.stream is None else record.stream.url,
        created_at=record.created_wall,
        updated_at=record.created_wall if status == "pending" else _settled_wall(record),
    )


def _settled_wall(record: _Record) -> datetime:
    return record.created_wall + timedelta(seconds=record.settles_at - record.created_mono)


def _play(stream: _Stream, offset: int) -> Iterator[bytes]:
    position = 0
    for at, line in zip(stream.line_times, stream.lines, strict=True):
        _sleep_until(at)
        data = f"{line}\n".encode()
        if position + len(data) > offset:
            yield data[max(0, offset - position) :]
        position += len(data)
    _sleep_until(stream.closes_at)


def _sleep_until(deadline: float) -> None:
    time.sleep(max(0.0, deadline - time.monotonic()))


def _accepts_v3(accept: str | None) -> bool:
    for media_range in (accept or "").split(","):
        media_type, *params = (part.strip() for part in media_range.split(";"))
        if media_type.lower() != "application/vnd.heroku+json":
            continue
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "version" and _API_VERSION.fullmatch(value.strip('" ')):
                return True
    return False


def _credential(request: Request) -> str:
    """The API token from Bearer or from Basic's password (old clients send email:token)."""
    scheme, _, value = (request.header("Authorization") or "").partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(value.strip(), validate=True).decode().partition(":")[2]
        except (binascii.Error, UnicodeDecodeError):
            return ""
    return ""


def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        raise _ApiError(422, "invalid_params", "Invalid params: body is not JSON.") from None
    if not isinstance(body, dict):
        raise _ApiError(422, "invalid_params", "Invalid params: body must be a JSON object.")
    return body


def _paginate(
    items: list[dict[str, Any]],
    header: str | None,
    fields: Mapping[str, Callable[[str], Any]],
    default_field: str,
) -> Reply:
    """Apply a Heroku ``Range`` header; ``start`` and ``end`` run in the requested order."""
    found = _RANGE.fullmatch(header or f"{default_field} ..")
    if found is None or found["field"] not in fields or (found["end"] and not found["start"]):
        raise _range_error(header)
    if (found["after"] and not found["start"]) or (found["before"] and not found["end"]):
        raise _range_error(header)
    size, order = _DEFAULT_PAGE, "asc"
    for param in re.split(r"[;,]", found["params"] or ""):
        key, _, value = (part.strip() for part in param.partition("="))
        if key == "max" and value.isdigit() and int(value) > 0:
            size = min(int(value), _MAX_PAGE)
        elif key == "order" and value in ("asc", "desc"):
            order = value
        elif key or value:
            raise _range_error(header)
    name = found["field"]
    try:
        start = fields[name](found["start"]) if found["start"] else None
        end = fields[name](found["end"]) if found["end"] else None
    except ValueError:
        raise _range_error(header) from None
    descending = order == "desc"

    def precedes(a: Any, b: Any) -> bool:
        return bool(a > b if descending else a < b)

    def selected(value: Any) -> bool:
        if start is not None and (precedes(value, start) or (found["after"] and value == start)):
            return False
        return end is None or not (precedes(end, value) or (found["before"] and value == end))

    ordered = sorted(items, key=lambda item: item[name], reverse=descending)
    matching = [item for item in ordered if selected(item[name])]
    page = matching[:size]
    headers = [("Accept-Ranges", ", ".join(fields))]
    if len(matching) > size:
        bound = f"{found['end']}{found['before'] or ''}"
        next_range = f"{name} ]{page[-1][name]}..{bound}; max={size}, order={order}"
        return Reply.json(206, page, (*headers, ("Next-Range", next_range)))
    return Reply.json(200, page, headers)


def _nested_id(body: object, key: str) -> str | None:
    """``body[key]["id"]`` when it is text: how promotion bodies name pipelines and apps."""
    inner = body.get(key) if isinstance(body, dict) else None
    ident = inner.get("id") if isinstance(inner, dict) else None
    return ident if isinstance(ident, str) else None


def _coupling_not_found() -> _ApiError:
    return _ApiError(
        404, "not_found", "Couldn't find that pipeline coupling.", resource="pipeline_coupling"
    )


def _pipeline_not_found() -> _ApiError:
    return _ApiError(404, "not_found", "Couldn't find that pipeline.", resource="pipeline")


def _range_error(header: str | None) -> _ApiError:
    return _ApiError(
        416, "requested_range_not_satisfiable", f"The Range header is not valid: {header}"
    )


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _stable_id(kind: str, name: str) -> str:
    return str(uuid.uuid5(_STABLE_IDS, f"{kind}:{name}"))


def _account_wire(user: User, *, two_factor: bool) -> dict[str, Any]:
    return {
        "allow_tracking": True,
        "beta": False,
        "created_at": _iso(user.created_at),
        "email": user.email,
        "federated": False,
        "id": user.id,
        "identity_provider": None,
        "last_login": _iso(user.created_at),
        "name": None,
        "sms_number": None,
        "suspended_at": None,
        "delinquent_at": None,
        "two_factor_authentication": two_factor,
        "updated_at": _iso(user.created_at),
        "verified": True,
        "country_of_residence": None,
        "default_organization": None,
        "default_team": None,
    }


def _app_wire(app: App, released_at: datetime | None) -> dict[str, Any]:
    stack = {"id": _stable_id("stack", app.stack), "name": app.stack}
    return {
        "acm": False,
        "archived_at": None,
        "buildpack_provided_description": None,
        "build_stack": stack,
        "created_at": _iso(app.created_at),
        "generation": {"id": _stable_id("generation", app.generation), "name": app.generation},
        "git_url": f"https://git.heroku.com/{app.name}.git",
        "id": app.id,
        "internal_routing": None,
        "maintenance": False,
        "name": app.name,
        "owner": {"email": app.owner.email, "id": app.owner.id},
        "organization": None,
        "team": None,
        "region": {"id": _stable_id("region", app.region), "name": app.region},
        "released_at": None if released_at is None else _iso(released_at),
        "repo_size": None,
        "slug_size": None,
        "space": None,
        "stack": stack,
        "updated_at": _iso(released_at or app.created_at),
        "web_url": app.web_url,
    }


def _release_wire(release: Release) -> dict[str, Any]:
    slug = None if release.slug_id is None else {"id": release.slug_id}
    return {
        "addon_plan_names": [],
        "artifacts": [] if slug is None else [{"type": "slug", **slug}],
        "app": {"id": release.app_id, "name": release.app_name},
        "created_at": _iso(release.created_at),
        "description": release.description,
        "id": release.id,
        "updated_at": _iso(release.updated_at),
        "slug": slug,
        "status": release.status,
        "user": {"id": release.user_id, "email": release.user_email},
        "version": release.version,
        "current": release.current,
        "output_stream_url": release.output_stream_url,
        "eligible_for_rollback": release.eligible_for_rollback,
    }


def _slug_wire(slug: Slug) -> dict[str, Any]:
    created = _iso(slug.created_at)
    return {
        # A real blob URL is a presigned S3 link; this one carries no signature to leak.
        "blob": {"method": "get", "url": f"https://slugs.example.invalid/{slug.id}.tar.gz"},
        "buildpack_provided_description": "Python",
        "checksum": "SHA256:" + hashlib.sha256(slug.id.encode()).hexdigest(),
        "commit": slug.commit,
        "commit_description": slug.commit_description,
        "created_at": created,
        "id": slug.id,
        "process_types": dict(slug.process_types),
        "size": slug.size,
        "stack": {"id": _stable_id("stack", slug.stack), "name": slug.stack},
        "updated_at": created,
        "deleted_at": None,
    }


def _pipeline_wire(pipeline: Pipeline) -> dict[str, Any]:
    created = _iso(pipeline.created_at)
    generation = pipeline.generation
    return {
        "created_at": created,
        "id": pipeline.id,
        "name": pipeline.name,
        "owner": {"id": pipeline.owner.id, "type": "user"},
        "updated_at": created,
        "generation": {"id": _stable_id("generation", generation), "name": generation},
    }


def _coupling_wire(coupling: Coupling) -> dict[str, Any]:
    """With ``pipeline.name``: the schema lists only the id, but Heroku sends it and the CLI
    prints it."""
    created = _iso(coupling.created_at)
    pipeline = coupling.pipeline
    return {
        "app": {"id": coupling.app.id},
        "created_at": created,
        "id": coupling.id,
        "pipeline": {"id": pipeline.id, "name": pipeline.name},
        "stage": coupling.stage,
        "updated_at": created,
    }


def _promotion_wire(promotion: Promotion) -> dict[str, Any]:
    return {
        "created_at": _iso(promotion.created_at),
        "id": promotion.id,
        "pipeline": {"id": promotion.pipeline_id},
        "source": {
            "app": {"id": promotion.source_app_id},
            "release": {"id": promotion.source_release_id},
        },
        "status": promotion.status,
        "updated_at": _iso(promotion.updated_at),
    }


def _target_wire(target: PromotionTarget, promotion_id: str) -> dict[str, Any]:
    return {
        "app": {"id": target.app_id},
        "error_message": target.error_message,
        "id": target.id,
        "pipeline_promotion": {"id": promotion_id},
        "release": None if target.release_id is None else {"id": target.release_id},
        "status": target.status,
    }
