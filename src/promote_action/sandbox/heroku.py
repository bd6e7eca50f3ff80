"""A fake of the Heroku Platform API, faithful on the wire to what the action and third-party
clients rely on (shared/reference/API_NOTES.md section 1 and the hyper-schema subset).

A release's whole life (pending until a deadline, then its outcome; its release-phase lines and
their timing) is fixed when it is created, so its state at any instant is a pure function of the
monotonic clock: no timer thread can lag behind a poll, and a GET after the deadline always sees
the terminal state.
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
from typing import Any, Literal

from .routing import Handler, Reply, Request, Route

Outcome = Literal["succeeded", "failed", "expired"]
Status = Literal["pending", "succeeded", "failed", "expired"]
Generation = Literal["cedar", "fir"]

_APP_NAME = re.compile(r"[a-z][a-z0-9-]{1,28}[a-z0-9]")
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
        self._rate_limit = _RateLimit()
        self._buckets: dict[str, _Bucket] = {}

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

    def require_two_factor(self, token: str) -> None:
        with self._lock:
            self._two_factor.add(self._users[token].id)

    def app(self, ident: str) -> App:
        """Look an app up by name or id, to assert on ids the client put on the wire."""
        with self._lock:
            return self._app(ident)

    def releases(self, app: str) -> list[Release]:
        with self._lock:
            return self._snapshots(self._app(app))

    def current_release(self, app: str) -> Release | None:
        return next((r for r in self.releases(app) if r.current), None)

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
            return [*self._users, *self._streams]

    # Request plumbing.

    def _api(self, handler: ApiHandler, *, metered: bool = True) -> Handler:
        """Wrap a handler in what every Platform API call goes through, in Heroku's order."""

        def serve(request: Request) -> Reply:
            with self._lock:
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
        current = _current(self._releases[app.id], time.monotonic())
        return Reply.json(200, _app_wire(app, None if current is None else _settled_wall(current)))

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
        if user.id not in self._collaborators[app.id]:
            raise _ApiError(403, "forbidden", f"You do not have access to the app {app.name}.")
        return app

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
    ) -> _Record:
        records = self._releases[app.id]
        now = time.monotonic()
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
            _now(),
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
