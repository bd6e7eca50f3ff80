"""A fake of the Heroku Connect API, faithful on the wire to what the action and the Connect CLI
plugin rely on (shared/reference/API_NOTES.md section 3 and seed 002).

Connect answers on several hosts: a discovery host (hc-central) that links a user to an app's
connections and says which cell serves each, and the cells that serve the connections
themselves. Here they are services sharing one state, mounted on the sandbox's one server under
path prefixes (see ``FakeConnect.mounts``); each ``region_url`` is built from the ``Host`` the
client used, so it works on whatever port the sandbox got.

As in the Heroku fake nothing runs in the background: an asynchronous action (import, pause,
resume, restart, reload) fixes its whole script as timed events when it is accepted, and the
first call that looks at the fake after an event's instant applies it, dated to that instant.
So a read during an import's lag still shows the old configuration and state, which is exactly
what fools a client that does not wait. The clock is virtual (``advance``) so tests can skip the
real service's long waits and age write errors past the 24-hour window.

Where Connect's behaviour is undocumented, the choice made here is marked UNVERIFIED.
"""

from __future__ import annotations

import copy
import heapq
import itertools
import json
import math
import secrets
import string
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.client import responses
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from .routing import Handler, Reply, Request, Route

PausePolicy = Literal["refuse", "wait"]

DISCOVERY_PREFIX = "/connect"
CELL_PREFIX = "/cells"
MAINTENANCE = "maintenance"
"""A fault's ``error_id`` that makes Connect answer with its HTML maintenance page."""

_DAY_SECONDS = 24 * 3600.0
_ADDON_TYPES = {1: "Sync", 2: "Events"}
_API_VERSION = "61.0"
_FEATURES = {"poll_db_no_merge": True, "rest_count_only": False, "use_assignment_rules": False}
_CONFIG_DEFAULTS: dict[str, Any] = {
    "access": "read_only",
    "sf_notify_enabled": False,
    "sf_polling_seconds": 600,
    "sf_max_daily_api_calls": 30000,
    "fields": {},
    "indexes": {},
}
_ACCESS = ("read_only", "read_write")
# The Salesforce fields an org offers for any object nobody scripted with ``set_org_schema``.
_STANDARD_FIELDS = frozenset(
    {
        "Id",
        "Name",
        "Email",
        "Phone",
        "SystemModstamp",
        "CreatedDate",
        "LastModifiedDate",
        "IsDeleted",
        "External_Id__c",
    }
)
# UNVERIFIED: the rule a mapping's diagnosis applies to fields its org lacks.
_MAPPING_FIELDS_RULE = ("MAPPING_FIELDS_MUST_EXIST", "Mapped Fields")
# Mapping states by health (API_NOTES 3.5); anything else counts as still settling.
_OK_MAPPING = frozenset(
    {
        "DATA_SYNCED",
        "POLLING_SF_CHANGES",
        "POLLING_SF_BULK",
        "POLLING_SF_FOR_DELETES",
        "WAIT_BULK_LOAD",
        "LOADING_BULK_JOB",
        "RESOLVE_EXTERNAL_IDS",
        "WAIT_BULK_UPDATE",
        "APPLYING_BULK_UPDATE",
        "POLL_EXTERNAL_IDS",
        "RESYNC",
        "RELOAD_TABLE",
        "ABORTED",
    }
)
_ERROR_MAPPING = frozenset(
    {
        "BULK_LOAD_ERROR",
        "SYSTEM_ERROR",
        "DB_UNAVAILABLE",
        "BAD_CONFIG",
        "SYNC_REMOVED",
        "INACTIVE_ORG",
        "UNAUTHORIZED",
    }
)
# States in which a connection cannot take actions yet: no database, or no Salesforce login.
# UNVERIFIED: Connect's refusal (400 with these texts) of actions in them.
_NOT_SET_UP = {
    "NEW": "The connection has no database yet: set one with connect:db:set.",
    "NEED_AUTHENTICATION": "The connection is not authorized with Salesforce.",
}
_DESCRIPTIONS = {
    "INITIAL": "Waiting for the initial load",
    "RELOAD_TABLE": "Reloading the table from Salesforce",
    "BAD_CONFIG": "The mapping configuration is not valid for this Salesforce organization",
}
_DIAGNOSE_DOCS = "https://devcenter.heroku.com/articles/heroku-connect-diagnose"
_PASSING_CHECKS = (
    ("MUST_USE_RECENT_API_VERSION", "Salesforce API Version"),
    ("SHOULD_HAVE_LOG_DRAIN", "Configured Logging"),
)
# UNVERIFIED: the rule a mapping's own diagnosis applies to its state.
_MAPPING_STATE_RULE = ("MAPPING_MUST_BE_HEALTHY", "Mapping State")
_RESOURCE_WORDS = ("angular", "twisted", "rigid", "solid", "curved", "shaped", "cubic", "round")
_ORG_ALPHABET = string.ascii_letters + string.digits
_DEFAULT_MESSAGES = {
    401: "Authentication credentials were not provided.",
    404: "Not found.",
    429: "Request was throttled.",
}
# UNVERIFIED: the page Connect's hosts serve during a maintenance window.
_MAINTENANCE_PAGE = (
    b"<!DOCTYPE html><html><head><title>Heroku Connect | Maintenance</title></head><body>"
    b"<h1>Heroku Connect is undergoing maintenance</h1>"
    b"<p>Configuration changes are unavailable. Please try again shortly.</p></body></html>\n"
)
_SHUFFLE = secrets.SystemRandom()


@dataclass(frozen=True)
class ObjectMapping:
    """A mapping as the API would show it at one instant; ``config`` is its export form."""

    id: str
    object_name: str
    state: str
    revision: int
    config: Mapping[str, Any]


@dataclass(frozen=True)
class Connection:
    """A connection as the API would show it at one instant; a snapshot, so assertions stay
    stable. ``linked`` holds the emails of the users on its access list."""

    id: str
    app_name: str
    resource_name: str
    cell: str
    state: str
    linked: frozenset[str]
    mappings: tuple[ObjectMapping, ...]

    def mapping(self, object_name: str) -> ObjectMapping:
        """By object name, case-insensitively, as Salesforce names match."""
        wanted = object_name.lower()
        found = next((m for m in self.mappings if m.object_name.lower() == wanted), None)
        if found is None:
            raise KeyError(f"no mapping {object_name!r}")
        return found


@dataclass(frozen=True)
class _Cell:
    name: str
    region: str
    flag: str
    region_label: str
    label: str


_CELLS = (
    _Cell("us", "us", "united-states", "Region (US)", "Virginia (US)"),
    _Cell("eu", "eu", "european-union", "Region (EU)", "Dublin (EU)"),
)


@dataclass(frozen=True)
class _User:
    id: str
    email: str


@dataclass
class _App:
    id: str
    name: str
    members: set[str] = field(default_factory=set)
    """Ids of the users with the app permissions that ``/auth/{app}`` requires."""


@dataclass
class _Mapping:
    id: str
    object_name: str
    config: dict[str, Any]
    rows: int
    created_at: datetime
    applied_at: datetime
    state: str
    state_since: datetime
    revision: int = 1
    broken: str | None = None
    """The failure a scripted mapping falls back into whenever it finishes loading."""
    hold: _Hold | None = None
    """A scripted next load (``hold_load``), driven by reads instead of time."""


@dataclass
class _Hold:
    """The next load of a mapping, step by step: each API read of the mapping (the connection
    read deep, or the mapping itself) shows the current state and then moves to the next."""

    steps: deque[str]
    """States still to show after the current one; then the load ends."""
    forever: bool
    """Stay in the last step (RELOAD_TABLE) until ``release_load``."""
    active: bool = False


@dataclass(frozen=True)
class _WriteError:
    id: int
    table_name: str
    record_id: int
    action: str
    message: str
    created_at: datetime


@dataclass(frozen=True)
class _Notification:
    id: int
    event_type: str
    message: str
    created_at: datetime


@dataclass(frozen=True)
class _DiagnosisScript:
    errors: tuple[dict[str, str], ...] = ()
    warnings: tuple[dict[str, str], ...] = ()
    never_finishes: bool = False


@dataclass
class _Validation:
    script: _DiagnosisScript
    polls_left: int | None
    """202 answers still due before the result; None never finishes."""
    result: dict[str, Any] | None = None


@dataclass
class _Connection:
    id: str
    app: _App
    resource_name: str
    cell: _Cell
    org_id: str
    created_at: datetime
    state: str
    mappings: list[_Mapping]
    linked: set[str] = field(default_factory=set)
    busy_until: float = -math.inf
    """An accepted action is in progress until then; another one is refused meanwhile."""
    pause_waiting: bool = False
    failures: dict[str, str] = field(default_factory=dict)
    diagnosis: _DiagnosisScript = field(default_factory=_DiagnosisScript)
    validations: dict[str, _Validation] = field(default_factory=dict)
    write_errors: list[_WriteError] = field(default_factory=list)
    notifications: list[_Notification] = field(default_factory=list)
    requests: deque[float] = field(default_factory=deque)
    org_schema: dict[str, frozenset[str]] = field(default_factory=dict)
    """Object name (lower case) -> the fields its Salesforce org offers; unscripted objects
    offer _STANDARD_FIELDS and whatever their mapping maps."""


@dataclass(frozen=True)
class _Timing:
    lag_seconds: float = 0.5
    import_seconds: float = 0.5
    mapping_sync_seconds: float = 0.5
    pause_seconds: float = 0.3
    resume_seconds: float = 0.3
    restart_seconds: float = 0.3
    diagnose_polls: int = 1


@dataclass(frozen=True)
class _Behaviour:
    pause_when_busy: PausePolicy = "refuse"
    reject_foreign_org: bool = False
    absolute_detail_urls: bool = False


@dataclass(frozen=True)
class _RateLimit:
    daily_requests: int | None = None
    retry_after: str | None = None


class _Refusal(Exception):
    """Raised anywhere below a handler so each check reads as one line and yields Connect's
    body: ``{"message": ...}``, or ``{"error": ...}`` where Connect uses that key."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        key: str = "message",
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        super().__init__(message)
        self.reply = Reply.json(status, {key: message}, headers)


UserHandler = Callable[[Request, _User], Reply]
CellHandler = Callable[[Request, _User, _Cell], Reply]
Event = Callable[[float], None]


@dataclass(frozen=True, eq=False)
class ConnectHost:
    """One of Connect's hosts as a sandbox service; all of them share their fake's state."""

    name: str
    fake: FakeConnect = field(repr=False)
    table: tuple[Route, ...] = field(repr=False)

    def routes(self) -> tuple[Route, ...]:
        return self.table

    def error_reply(
        self, request: Request, status: int, error_id: str | None, message: str | None
    ) -> Reply:
        if error_id == MAINTENANCE:
            return Reply(status, (("Content-Type", "text/html; charset=utf-8"),), _MAINTENANCE_PAGE)
        phrase = responses.get(status, "Error")
        return Reply.json(
            status, {"message": message or _DEFAULT_MESSAGES.get(status, f"{phrase}.")}
        )

    def secrets(self) -> list[str]:
        return self.fake.secrets()


class FakeConnect:
    """State and handlers of the fake; every access goes through one lock.

    Tokens are Heroku API keys, but this fake keeps its own table: every token handed to a
    seeding method joins it (``add_user`` only to choose the email), so a test seeds the same
    token into ``sb.heroku`` and here. A token the fake never saw gets 401.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users: dict[str, _User] = {}
        self._apps: dict[str, _App] = {}
        self._connections: dict[str, _Connection] = {}
        self._events: list[tuple[float, int, Event]] = []
        self._sequence = itertools.count()
        self._numbers = itertools.count(1)
        self._offset = 0.0
        self._timing = _Timing()
        self._behaviour = _Behaviour()
        self._rate_limit = _RateLimit()
        self._diverted: str | None = None
        self._hosts = [(ConnectHost("connect", self, self._discovery_routes()), DISCOVERY_PREFIX)]
        for cell in _CELLS:
            host = ConnectHost(f"connect-{cell.name}", self, self._cell_routes(cell))
            self._hosts.append((host, f"{CELL_PREFIX}/{cell.name}"))

    def mounts(self) -> list[tuple[ConnectHost, str]]:
        """Each host and the prefix it must be mounted under: ``region_url`` points there."""
        return list(self._hosts)

    def secrets(self) -> list[str]:
        with self._lock:
            return list(self._users)

    # Seeding and inspection, for tests and demos.

    def add_user(self, email: str, token: str | None = None) -> str:
        """Issue a token Connect accepts; pass the one ``sb.heroku`` issued to share it."""
        token = token or "HRKU-" + secrets.token_hex(30)
        with self._lock:
            if token in self._users:
                raise ValueError("that token is already issued")
            self._users[token] = _User(str(uuid.uuid4()), email)
        return token

    def grant(self, token: str, app_name: str) -> None:
        """Give the token's user the app permissions ``/auth/{app}`` needs; the app need not
        have a connection (an app without the add-on)."""
        with self._lock:
            self._app_named(app_name).members.add(self._seeded_user(token).id)

    def add_connection(
        self,
        app_name: str,
        *,
        owner_token: str,
        resource_name: str | None = None,
        cell: str = "us",
        state: str = "IDLE",
        mappings: list[dict[str, Any]] | None = None,
        org_id: str | None = None,
    ) -> str:
        """Seed a connection with an empty access list, its mappings (export form) synced.

        The owner may link it with ``/auth``; nobody is linked yet, as on a new add-on.
        """
        parsed = _parse_mappings(mappings or [])
        with self._lock:
            self._settle()
            home = next((c for c in _CELLS if c.name == cell), None)
            if home is None:
                raise KeyError(f"no cell {cell!r}")
            app = self._app_named(app_name)
            app.members.add(self._seeded_user(owner_token).id)
            name = resource_name or self._resource_name()
            if any(c.resource_name == name for c in self._connections.values()):
                raise ValueError(f"resource {name!r} already exists")
            now = self._wall()
            connection = _Connection(
                id=str(uuid.uuid4()),
                app=app,
                resource_name=name,
                cell=home,
                org_id=org_id or "00D" + "".join(secrets.choice(_ORG_ALPHABET) for _ in range(15)),
                created_at=now,
                state=state,
                mappings=[_new_mapping(o, c, now, "DATA_SYNCED") for o, c in parsed],
            )
            self._connections[connection.id] = connection
        return connection.id

    def set_state(
        self, connection_id: str, state: str, *, for_seconds: float | None = None
    ) -> None:
        """Put the connection in any state, invented ones included; with ``for_seconds`` it
        goes back to IDLE after that long, as pending work (BUSY) finishes."""
        with self._lock:
            self._settle()
            connection = self._connections[connection_id]
            now = self._mono()
            self._enter(connection, state, now)
            if for_seconds is not None:

                def finish(at: float) -> None:
                    if connection.state == state:
                        self._enter(connection, "IDLE", at)

                self._schedule(now + for_seconds, finish)

    def set_mapping_state(self, connection_id: str, object_name: str, state: str) -> None:
        with self._lock:
            self._settle()
            connection = self._connections[connection_id]
            mapping = _mapping_named(connection, object_name)
            if mapping is None:
                raise KeyError(f"no mapping {object_name!r}")
            self._set_mapping_state(mapping, state, self._mono())

    def hold_load(
        self,
        connection_id: str,
        object_name: str,
        *,
        reads: int | None = None,
        poll_first: bool = False,
    ) -> None:
        """Script the mapping's next load (a reload, or the load of a new mapping after an
        import or a resume), driven by API reads so a test needs no timing: with
        ``poll_first`` a routine Salesforce poll shows first (POLLING_SF_CHANGES, then
        DATA_SYNCED, one read each, ``times.sf_poll`` moving each time), as it may between a
        reload request and the load, since states lag; then RELOAD_TABLE for ``reads`` reads,
        or with None until ``release_load``; then DATA_SYNCED (or its scripted failure).
        UNVERIFIED: whether Connect polls a mapping between a reload request and its load."""
        with self._lock:
            mapping = _mapping_named(self._connections[connection_id], object_name)
            if mapping is None:
                raise KeyError(f"no mapping {object_name!r}")
            prelude = ["POLLING_SF_CHANGES", "DATA_SYNCED"] if poll_first else []
            loading = ["RELOAD_TABLE"] * (1 if reads is None else max(reads, 0))
            mapping.hold = _Hold(deque([*prelude, *loading]), forever=reads is None)

    def release_load(self, connection_id: str, object_name: str) -> None:
        """End a load held by ``hold_load(reads=None)``: the mapping is synced (or fails)."""
        with self._lock:
            self._settle()
            mapping = _mapping_named(self._connections[connection_id], object_name)
            if mapping is None or mapping.hold is None:
                raise KeyError(f"no held load of {object_name!r}")
            mapping.hold = None
            self._set_mapping_state(mapping, mapping.broken or "DATA_SYNCED", self._mono())

    def fail_mapping(self, connection_id: str, object_name: str, state: str = "BAD_CONFIG") -> None:
        """Make the next accepted import end with this mapping in ``state``, as Connect accepts
        configurations that cannot work and fails later (heroku/heroku-connect-plugin#97)."""
        with self._lock:
            self._connections[connection_id].failures[object_name.lower()] = state

    def set_timing(
        self,
        *,
        lag_seconds: float = 0.5,
        import_seconds: float = 0.5,
        mapping_sync_seconds: float = 0.5,
        pause_seconds: float = 0.3,
        resume_seconds: float = 0.3,
        restart_seconds: float = 0.3,
        diagnose_polls: int = 1,
    ) -> None:
        """Script actions accepted from now on.

        An import shows nothing for ``lag_seconds``, then IMPORT_CONFIGURATION with the new
        configuration for ``import_seconds``; its new mappings then reload for
        ``mapping_sync_seconds``. A reload or restart also starts after ``lag_seconds``. Pause
        and resume take effect ``pause_seconds`` and ``resume_seconds`` after acceptance. A
        diagnosis answers 202 to ``diagnose_polls`` reads before its result.
        """
        with self._lock:
            self._timing = _Timing(
                lag_seconds=lag_seconds,
                import_seconds=import_seconds,
                mapping_sync_seconds=mapping_sync_seconds,
                pause_seconds=pause_seconds,
                resume_seconds=resume_seconds,
                restart_seconds=restart_seconds,
                diagnose_polls=diagnose_polls,
            )

    def set_behaviour(
        self,
        *,
        pause_when_busy: PausePolicy = "refuse",
        reject_foreign_org: bool = False,
        absolute_detail_urls: bool = False,
    ) -> None:
        """Choose among plausible answers where Connect's is UNVERIFIED.

        ``pause_when_busy``: a pause outside IDLE is refused with 409, or accepted and applied
        once the connection is next IDLE. ``reject_foreign_org``: an import whose
        ``connection.organization_id`` names another Salesforce org is refused with 400.
        ``absolute_detail_urls``: discovery lists ``detail_url`` as an absolute URL on the cell
        (what the plugin's fixtures show) instead of a path relative to ``region_url``.
        """
        with self._lock:
            self._behaviour = _Behaviour(pause_when_busy, reject_foreign_org, absolute_detail_urls)

    def set_rate_limit(
        self, daily_requests: int | None = None, retry_after: str | None = None
    ) -> None:
        """Answer 429 to a connection's requests beyond ``daily_requests`` in 24 hours.

        UNVERIFIED: third parties describe 5,000 a day per connection; scope and headers are
        unknown. Counters restart from zero.
        """
        with self._lock:
            self._rate_limit = _RateLimit(daily_requests, retry_after)
            for connection in self._connections.values():
                connection.requests.clear()

    def set_diagnosis(
        self,
        connection_id: str,
        *,
        errors: Iterable[Mapping[str, str]] = (),
        warnings: Iterable[Mapping[str, str]] = (),
        never_finishes: bool = False,
    ) -> None:
        """Script the connection's diagnoses started from now on; each check needs only the
        fields a test cares about, e.g. ``{"rule_id": ..., "message": ...}``."""
        script = _DiagnosisScript(
            tuple(_check(c, "FAILED") for c in errors),
            tuple(_check(c, "FAILED") for c in warnings),
            never_finishes,
        )
        with self._lock:
            self._connections[connection_id].diagnosis = script

    def add_write_error(
        self,
        connection_id: str,
        object_name: str,
        message: str,
        age_hours: float,
        *,
        action: str = "UPDATE",
        record_id: int | None = None,
    ) -> None:
        """A failed write to Salesforce, ``age_hours`` old; only the last 24 hours are listed.
        UNVERIFIED: the ``action`` key (the trigger log's column) in the wire form."""
        with self._lock:
            connection = self._connections[connection_id]
            connection.write_errors.append(
                _WriteError(
                    next(self._numbers),
                    object_name.lower(),
                    record_id if record_id is not None else next(self._numbers),
                    action,
                    message,
                    self._wall() - timedelta(hours=age_hours),
                )
            )

    def set_org_schema(self, connection_id: str, schema: Mapping[str, Iterable[str]]) -> None:
        """The fields the connection's Salesforce org offers for these objects, served at each
        mapping's ``schema_url`` and checked by its diagnosis."""
        with self._lock:
            self._connections[connection_id].org_schema.update(
                {name.lower(): frozenset(fields) for name, fields in schema.items()}
            )

    def break_mapping(self, connection_id: str, object_name: str, state: str) -> None:
        """Put a mapping in an error state it falls back into after every reload or recovery:
        a fault that recovering cannot fix."""
        with self._lock:
            self._settle()
            mapping = _mapping_named(self._connections[connection_id], object_name)
            if mapping is None:
                raise KeyError(f"no mapping {object_name!r}")
            mapping.broken = state
            self._set_mapping_state(mapping, state, self._mono())

    def divert_cells(self, origin: str | None) -> None:
        """List every connection on a cell at ``origin`` (another host) instead of the caller's:
        a spoofed or compromised discovery answer, for proving no key follows it."""
        with self._lock:
            self._diverted = origin

    def advance(self, seconds: float) -> None:
        """Move the fake's clocks forward: due events apply, write errors age."""
        with self._lock:
            self._offset += seconds

    def connection(self, connection_id: str) -> Connection:
        with self._lock:
            self._settle()
            connection = self._connections[connection_id]
            emails = {u.id: u.email for u in self._users.values()}
            return Connection(
                id=connection.id,
                app_name=connection.app.name,
                resource_name=connection.resource_name,
                cell=connection.cell.name,
                state=connection.state,
                linked=frozenset(emails[i] for i in connection.linked),
                mappings=tuple(
                    ObjectMapping(m.id, m.object_name, m.state, m.revision, copy.deepcopy(m.config))
                    for m in connection.mappings
                ),
            )

    def export(self, connection_id: str) -> dict[str, Any]:
        """The configuration the export endpoint would send now, in a stable order."""
        with self._lock:
            self._settle()
            return self._export(self._connections[connection_id])

    # Routes.

    def _discovery_routes(self) -> tuple[Route, ...]:
        return (
            Route("POST", "/auth/{app}", self._served(self._auth)),
            Route("GET", "/connections", self._served(self._search)),
        )

    def _cell_routes(self, cell: _Cell) -> tuple[Route, ...]:
        def on(handler: CellHandler) -> Handler:
            return self._served(lambda request, user: handler(request, user, cell))

        connection = "/api/v3/connections/{connection}"
        mapping = "/api/v3/mappings/{mapping}"
        return (
            Route("GET", connection, on(self._get_connection)),
            Route("GET", f"{connection}/actions/export", on(self._export_config)),
            Route("POST", f"{connection}/actions/import", on(self._import_config)),
            Route("POST", f"{connection}/actions/pause", on(self._pause)),
            Route("POST", f"{connection}/actions/resume", on(self._resume)),
            Route("POST", f"{connection}/actions/restart", on(self._restart)),
            Route("POST", f"{connection}/validations", on(self._start_validation)),
            Route("GET", f"{connection}/validations/{{validation}}", on(self._get_validation)),
            Route("GET", f"{connection}/errors", on(self._connection_errors)),
            Route("GET", f"{connection}/notifications", on(self._notifications)),
            Route("GET", mapping, on(self._get_mapping)),
            Route("DELETE", mapping, on(self._delete_mapping)),
            Route("POST", f"{mapping}/actions/reload", on(self._reload_mapping)),
            Route("GET", f"{mapping}/validations", on(self._validate_mapping)),
            Route("GET", f"{mapping}/errors", on(self._mapping_errors)),
            Route("GET", f"{mapping}/schema", on(self._mapping_schema)),
        )

    def _served(self, handler: UserHandler) -> Handler:
        """Wrap a handler in what every Connect call goes through: due events, then the
        Heroku API key as a Bearer token."""

        def serve(request: Request) -> Reply:
            with self._lock:
                self._settle()
                try:
                    return handler(request, self._caller(request))
                except _Refusal as refusal:
                    return refusal.reply

        return serve

    def _caller(self, request: Request) -> _User:
        scheme, _, token = (request.header("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _Refusal(401, _DEFAULT_MESSAGES[401])
        user = self._users.get(token.strip())
        if user is None:
            raise _Refusal(401, "Invalid token.")
        return user

    # Discovery handlers; they run under the lock.

    def _auth(self, request: Request, user: _User) -> Reply:
        """Join the app's connections' access lists (idempotent) and list every connection the
        user can now see, other apps' included."""
        app = self._permitted_app(request.params["app"], user)
        addon_type = _addon_type(request.query)
        if addon_type in (None, 1):
            for connection in self._connections.values():
                if connection.app is app:
                    connection.linked.add(user.id)
        listed = self._listed(request, user, addon_type)
        return Reply.json(
            200,
            {
                "user": {"id": user.id, "email": user.email},
                "connections": listed,
                **_directory(_origin(request)),
            },
        )

    def _search(self, request: Request, user: _User) -> Reply:
        """The linked connections only: empty for an app until ``/auth``."""
        query = parse_qs(request.query)
        wanted = query.get("app", [None])[0]
        app = None if wanted is None else self._permitted_app(wanted, user)
        resource = query.get("resource_name", [None])[0]
        listed = [
            item
            for item in self._listed(request, user, _addon_type(request.query))
            if (app is None or item["app_id"] == app.id)
            and (resource is None or item["resource_name"] == resource)
        ]
        body = {"count": len(listed), "next": None, "previous": None, "results": listed}
        return Reply.json(200, {**body, **_directory(_origin(request))})

    def _listed(
        self, request: Request, user: _User, addon_type: int | None
    ) -> list[dict[str, Any]]:
        if addon_type not in (None, 1):
            return []  # every connection here is a Sync one
        origin = self._diverted or _origin(request)
        absolute = self._behaviour.absolute_detail_urls
        return [
            _listing(c, origin, absolute=absolute)
            for c in self._connections.values()
            if user.id in c.linked
        ]

    def _permitted_app(self, ident: str, user: _User) -> _App:
        app = self._apps.get(ident) or next((a for a in self._apps.values() if a.id == ident), None)
        if app is None:
            raise _Refusal(404, "Couldn't find that app.")
        if user.id not in app.members:
            raise _Refusal(403, f"You do not have access to the app {app.name}.")
        return app

    # Cell handlers; they run under the lock.

    def _get_connection(self, request: Request, user: _User, cell: _Cell) -> Reply:
        connection = self._reachable(request, user, cell)
        deep = parse_qs(request.query).get("deep") == ["true"]
        reply = Reply.json(200, self._connection_wire(connection, request.base_url, deep=deep))
        if deep:
            self._step_holds(connection.mappings)
        return reply

    def _export_config(self, request: Request, user: _User, cell: _Cell) -> Reply:
        """Mappings and every object's keys come in a fresh random order each time: Connect
        promises no order, so clients must normalise before comparing."""
        exported = self._export(self._reachable(request, user, cell))
        _SHUFFLE.shuffle(exported["mappings"])
        return Reply.json(200, _shuffled_keys(exported))

    def _import_config(self, request: Request, user: _User, cell: _Cell) -> Reply:
        """Validate now, apply later; upserts by object name and never deletes a mapping.

        UNVERIFIED: 202 with ``{"message": "success"}``; an import into a PAUSED connection
        is applied and leaves it PAUSED.
        """
        connection = self._reachable(request, user, cell)
        _require_set_up(connection)
        try:
            body = json.loads(request.body)
        except ValueError:
            raise _Refusal(400, "The body is not valid JSON.") from None
        try:
            if not isinstance(body, dict):
                raise ValueError("The configuration must be a JSON object.")
            if body.get("version", 1) != 1:
                raise ValueError(f"Unsupported configuration version {body['version']!r}.")
            parsed = _parse_mappings(body.get("mappings"))
        except ValueError as error:
            raise _Refusal(400, str(error)) from None
        block = body.get("connection")
        org = block.get("organization_id") if isinstance(block, dict) else None
        if self._behaviour.reject_foreign_org and org not in (None, connection.org_id):
            raise _Refusal(
                400, f"The configuration belongs to organization {org}, not {connection.org_id}."
            )
        self._require_free(connection)
        self._schedule_import(connection, parsed)
        return Reply.json(202, {"message": "success"})

    def _pause(self, request: Request, user: _User, cell: _Cell) -> Reply:
        """Documented for IDLE only; elsewhere ``set_behaviour(pause_when_busy=...)`` decides.

        UNVERIFIED: 409 for an already paused connection.
        """
        connection = self._reachable(request, user, cell)
        _require_set_up(connection)
        self._require_free(connection)
        if connection.state == "PAUSED":
            raise _Refusal(409, "Connection is already paused.")
        if connection.state == "IDLE":
            self._pause_at(connection, self._mono() + self._timing.pause_seconds)
        elif self._behaviour.pause_when_busy == "refuse":
            raise _Refusal(409, f"Connection must be idle to pause; it is {connection.state}.")
        else:
            connection.pause_waiting = True
            connection.busy_until = math.inf
        return Reply(202)

    def _resume(self, request: Request, user: _User, cell: _Cell) -> Reply:
        """Resume a paused connection, or cancel a pause still waiting for IDLE.

        UNVERIFIED: 409 for a connection that is not paused.
        """
        connection = self._reachable(request, user, cell)
        _require_set_up(connection)
        now = self._mono()
        if connection.pause_waiting:
            connection.pause_waiting = False
            connection.busy_until = now
            return Reply(202)
        self._require_free(connection)
        if connection.state != "PAUSED":
            raise _Refusal(409, "Connection is not paused.")
        resumed_at = now + self._timing.resume_seconds
        connection.busy_until = resumed_at

        def resumed(at: float) -> None:
            self._enter(connection, "IDLE", at)
            for mapping in connection.mappings:
                if mapping.state == "INITIAL":
                    self._reload(mapping, at)

        self._schedule(resumed_at, resumed)
        return Reply(202)

    def _restart(self, request: Request, user: _User, cell: _Cell) -> Reply:
        """RECOVERY after the lag, then IDLE, whatever the state (PAUSED included); mappings in
        an error state reload then (UNVERIFIED), and a broken one fails again."""
        connection = self._reachable(request, user, cell)
        _require_set_up(connection)
        self._require_free(connection)
        recovers_at = self._mono() + self._timing.lag_seconds
        connection.busy_until = recovers_at + self._timing.restart_seconds

        def recovered(at: float) -> None:
            self._enter(connection, "IDLE", at)
            for mapping in connection.mappings:
                if mapping.state in _ERROR_MAPPING:
                    self._reload(mapping, at)

        self._schedule(recovers_at, lambda at: self._enter(connection, "RECOVERY", at))
        self._schedule(connection.busy_until, recovered)
        return Reply(202)

    def _start_validation(self, request: Request, user: _User, cell: _Cell) -> Reply:
        connection = self._reachable(request, user, cell)
        script = connection.diagnosis
        validation_id = uuid.uuid4().hex
        connection.validations[validation_id] = _Validation(
            script, None if script.never_finishes else self._timing.diagnose_polls
        )
        url = f"{request.base_url}/api/v3/connections/{connection.id}/validations/{validation_id}"
        return Reply.json(202, {"result_url": url})

    def _get_validation(self, request: Request, user: _User, cell: _Cell) -> Reply:
        """202 without a body while the diagnosis runs; the checks scripted when it started
        and the mappings as they are when it is ready make its result, fixed from then on."""
        connection = self._reachable(request, user, cell)
        validation = connection.validations.get(request.params["validation"])
        if validation is None:
            raise _Refusal(404, _DEFAULT_MESSAGES[404])
        if validation.polls_left is None or validation.polls_left > 0:
            if validation.polls_left is not None:
                validation.polls_left -= 1
            return Reply(202)
        if validation.result is None:
            validation.result = _diagnosis(connection, validation.script)
        return Reply.json(200, validation.result)

    def _connection_errors(self, request: Request, user: _User, cell: _Cell) -> Reply:
        connection = self._reachable(request, user, cell)
        return Reply.json(200, _errors_wire(self._recent_errors(connection)))

    def _notifications(self, request: Request, user: _User, cell: _Cell) -> Reply:
        """Events the fake raised itself: a mapping failing after an import."""
        connection = self._reachable(request, user, cell)
        results = [
            {
                "id": n.id,
                "created_at": _iso(n.created_at),
                "event_type": n.event_type,
                "message": n.message,
            }
            for n in reversed(connection.notifications)
        ]
        return Reply.json(
            200, {"count": len(results), "next": None, "previous": None, "results": results}
        )

    def _get_mapping(self, request: Request, user: _User, cell: _Cell) -> Reply:
        connection, mapping = self._reachable_mapping(request, user, cell)
        reply = Reply.json(200, self._mapping_wire(connection, mapping))
        self._step_holds([mapping])
        return reply

    def _step_holds(self, mappings: Iterable[_Mapping]) -> None:
        """After a read: each held load that was shown moves one step on."""
        now = self._mono()
        for mapping in mappings:
            hold = mapping.hold
            if hold is None or not hold.active:
                continue
            if hold.steps:
                self._set_mapping_state(mapping, hold.steps.popleft(), now)
            elif not hold.forever:
                mapping.hold = None
                self._set_mapping_state(mapping, mapping.broken or "DATA_SYNCED", now)

    def _delete_mapping(self, request: Request, user: _User, cell: _Cell) -> Reply:
        """Stops syncing the object at once. UNVERIFIED: the Postgres table is kept."""
        connection, mapping = self._reachable_mapping(request, user, cell)
        connection.mappings.remove(mapping)
        return Reply(204)

    def _reload_mapping(self, request: Request, user: _User, cell: _Cell) -> Reply:
        connection, mapping = self._reachable_mapping(request, user, cell)
        _require_set_up(connection)
        self._schedule(
            self._mono() + self._timing.lag_seconds, lambda at: self._reload(mapping, at)
        )
        return Reply(202)

    def _validate_mapping(self, request: Request, user: _User, cell: _Cell) -> Reply:
        """Synchronous, unlike a connection's diagnosis, and without a ``mappings`` key."""
        connection, mapping = self._reachable_mapping(request, user, cell)
        return Reply.json(200, _mapping_checks(mapping, _offered(connection, mapping)))

    def _mapping_schema(self, request: Request, user: _User, cell: _Cell) -> Reply:
        """The object's fields in the connection's org. UNVERIFIED: the path (the plugin's
        types list a ``schema_url`` on each mapping) and this body."""
        connection, mapping = self._reachable_mapping(request, user, cell)
        fields = sorted(_offered(connection, mapping))
        return Reply.json(
            200, {"object_name": mapping.object_name, "fields": [{"name": f} for f in fields]}
        )

    def _mapping_errors(self, request: Request, user: _User, cell: _Cell) -> Reply:
        connection, mapping = self._reachable_mapping(request, user, cell)
        table = mapping.object_name.lower()
        recent = [e for e in self._recent_errors(connection) if e.table_name == table]
        return Reply.json(200, _errors_wire(recent))

    # Helpers; they run under the lock.

    def _reachable(self, request: Request, user: _User, cell: _Cell) -> _Connection:
        """The connection in the path, if this cell serves it and the user is linked to it."""
        connection = self._connections.get(request.params["connection"])
        if connection is None or connection.cell is not cell:
            raise _Refusal(404, _DEFAULT_MESSAGES[404])
        return self._admitted(connection, user)

    def _reachable_mapping(
        self, request: Request, user: _User, cell: _Cell
    ) -> tuple[_Connection, _Mapping]:
        wanted = request.params["mapping"]
        for connection in self._connections.values():
            mapping = next((m for m in connection.mappings if m.id == wanted), None)
            if mapping is not None and connection.cell is cell:
                return self._admitted(connection, user), mapping
        raise _Refusal(404, _DEFAULT_MESSAGES[404])

    def _admitted(self, connection: _Connection, user: _User) -> _Connection:
        if user.id not in connection.linked:
            raise _Refusal(403, "You do not have access to this connection.")
        limit = self._rate_limit
        if limit.daily_requests is not None:
            now, window = self._mono(), connection.requests
            while window and window[0] <= now - _DAY_SECONDS:
                window.popleft()
            if len(window) >= limit.daily_requests:
                retry = () if limit.retry_after is None else (("Retry-After", limit.retry_after),)
                raise _Refusal(429, _DEFAULT_MESSAGES[429], headers=retry)
            window.append(now)
        return connection

    def _require_free(self, connection: _Connection) -> None:
        """UNVERIFIED: one action at a time, refused with Connect's other error key."""
        if self._mono() < connection.busy_until:
            raise _Refusal(409, "Another operation is in progress on this connection.", key="error")

    def _schedule_import(
        self, connection: _Connection, parsed: list[tuple[str, dict[str, Any]]]
    ) -> None:
        timing = self._timing
        applies_at = self._mono() + timing.lag_seconds
        connection.busy_until = applies_at + timing.import_seconds
        failures, connection.failures = connection.failures, {}
        added: list[_Mapping] = []
        settles_in = "IDLE"

        def apply(at: float) -> None:
            nonlocal settles_in
            settles_in = "PAUSED" if connection.state == "PAUSED" else "IDLE"
            self._enter(connection, "IMPORT_CONFIGURATION", at)
            wall = self._wall(at)
            for object_name, config in parsed:
                mapping = _mapping_named(connection, object_name)
                if mapping is None:
                    added.append(_new_mapping(object_name, config, wall, "INITIAL"))
                    connection.mappings.append(added[-1])
                elif mapping.config != config:
                    mapping.config, mapping.applied_at = config, wall
                    mapping.revision += 1

        def finish(at: float) -> None:
            self._enter(connection, settles_in, at)
            for mapping in added:
                # UNVERIFIED: a paused connection loads nothing: new mappings wait in INITIAL
                # until sync resumes.
                if settles_in != "PAUSED":
                    self._reload(mapping, at)
            for object_name, state in failures.items():
                failed = _mapping_named(connection, object_name)
                if failed is not None:
                    failed.broken = state
                    self._set_mapping_state(failed, state, at)
                    connection.notifications.append(
                        _Notification(
                            next(self._numbers),
                            "mapping-error",
                            f"Mapping {failed.object_name} is in state {state}.",
                            self._wall(at),
                        )
                    )

        self._schedule(applies_at, apply)
        self._schedule(connection.busy_until, finish)

    def _reload(self, mapping: _Mapping, at: float) -> None:
        """RELOAD_TABLE for a while, then synced, or back to the failure it was scripted for;
        a held load (``hold_load``) steps on reads instead."""
        hold = mapping.hold
        if hold is not None and not hold.active:
            hold.active = True
            self._set_mapping_state(
                mapping, hold.steps.popleft() if hold.steps else "RELOAD_TABLE", at
            )
            return
        self._set_mapping_state(mapping, "RELOAD_TABLE", at)

        def loaded(when: float) -> None:
            if mapping.state == "RELOAD_TABLE":
                self._set_mapping_state(mapping, mapping.broken or "DATA_SYNCED", when)

        self._schedule(at + self._timing.mapping_sync_seconds, loaded)

    def _pause_at(self, connection: _Connection, at: float) -> None:
        connection.busy_until = at
        self._schedule(at, lambda when: self._enter(connection, "PAUSED", when))

    def _enter(self, connection: _Connection, state: str, at: float) -> None:
        """Every connection state change goes through here: a pause waiting for IDLE starts."""
        connection.state = state
        if state == "IDLE" and connection.pause_waiting:
            connection.pause_waiting = False
            self._pause_at(connection, at + self._timing.pause_seconds)

    def _set_mapping_state(self, mapping: _Mapping, state: str, at: float) -> None:
        mapping.state, mapping.state_since = state, self._wall(at)

    def _schedule(self, at: float, event: Event) -> None:
        heapq.heappush(self._events, (at, next(self._sequence), event))

    def _settle(self) -> None:
        """Apply every event whose instant has come, in time order; an event may schedule
        another that is already due (a waiting pause), which then runs in the same pass."""
        now = self._mono()
        while self._events and self._events[0][0] <= now:
            at, _, event = heapq.heappop(self._events)
            event(at)

    def _mono(self) -> float:
        return time.monotonic() + self._offset

    def _wall(self, at: float | None = None) -> datetime:
        """The fake's wall-clock time of one of its monotonic instants, by default now."""
        lead = 0.0 if at is None else at - self._mono()
        return datetime.now(UTC) + timedelta(seconds=self._offset + lead)

    def _recent_errors(self, connection: _Connection) -> list[_WriteError]:
        """The last 24 hours' write errors, newest first."""
        since = self._wall() - timedelta(seconds=_DAY_SECONDS)
        recent = [e for e in connection.write_errors if e.created_at > since]
        return sorted(recent, key=lambda e: e.created_at, reverse=True)

    def _app_named(self, name: str) -> _App:
        return self._apps.setdefault(name, _App(str(uuid.uuid4()), name))

    def _seeded_user(self, token: str) -> _User:
        """The token's user, joining the table under a made-up email if new."""
        if token not in self._users:
            self._users[token] = _User(str(uuid.uuid4()), f"user{len(self._users) + 1}@example.com")
        return self._users[token]

    def _resource_name(self) -> str:
        taken = {c.resource_name for c in self._connections.values()}
        while True:
            word = secrets.choice(_RESOURCE_WORDS)
            name = f"herokuconnect-{word}-{secrets.randbelow(90000) + 10000}"
            if name not in taken:
                return name

    def _export(self, connection: _Connection) -> dict[str, Any]:
        return {
            "version": 1,
            "connection": {
                "app_name": connection.app.name,
                "organization_id": _org_of(connection),
                "exported_at": _iso(self._wall()),
                "features": dict(_FEATURES),
                "api_version": _API_VERSION,
                "name": connection.resource_name,
                "logplex_log_enabled": False,
            },
            "mappings": [
                {"object_name": m.object_name, "config": copy.deepcopy(m.config)}
                for m in connection.mappings
            ],
        }

    def _connection_wire(
        self, connection: _Connection, cell_url: str, *, deep: bool
    ) -> dict[str, Any]:
        """Without ``deep=true`` there is no ``mappings`` key at all. A NEW connection has no
        database and, like one needing authentication, no Salesforce organization."""
        org = _org_of(connection)
        sf_info = None
        if org is not None:
            sf_info = {
                "organization_id": org,
                "environment": "production",
                "domain": "https://login.salesforce.com",
                "api_version": _API_VERSION,
                "username": f"integration@{connection.app.name}.example.com",
            }
        has_db = connection.state != "NEW"
        wire: dict[str, Any] = {
            "id": connection.id,
            "name": connection.resource_name,
            "internal_name": connection.app.name,
            "resource_name": connection.resource_name,
            "app_name": connection.app.name,
            "app_id": connection.app.id,
            "state": connection.state,
            "mappings_summary_state": _summary(connection.mappings),
            "db_key": "DATABASE_URL" if has_db else None,
            "schema_name": "salesforce" if has_db else None,
            "organization_id": org,
            "sf_info": sf_info,
            "region_url": cell_url,
            "detail_url": f"/api/v3/connections/{connection.id}",
            "notifications_url": f"/api/v3/connections/{connection.id}/notifications",
            "features": dict(_FEATURES),
            "logplex_log_enabled": False,
            "created_at": _iso(connection.created_at),
        }
        if deep:
            wire["mappings"] = [self._mapping_wire(connection, m) for m in connection.mappings]
        return wire

    def _mapping_wire(self, connection: _Connection, mapping: _Mapping) -> dict[str, Any]:
        synced = mapping.state in _OK_MAPPING and mapping.state != "RELOAD_TABLE"
        table = mapping.object_name.lower()
        errors = sum(1 for e in self._recent_errors(connection) if e.table_name == table)
        config = mapping.config
        return {
            "id": mapping.id,
            "object_name": mapping.object_name,
            "state": mapping.state,
            "state_description": _DESCRIPTIONS.get(
                mapping.state, "OK" if synced else mapping.state
            ),
            "config": {
                **copy.deepcopy(config),
                "revision": mapping.revision,
                "applied_at": _iso(mapping.applied_at),
            },
            "counts": {
                "db": mapping.rows if synced else 0,
                "sf": mapping.rows,
                "pending": 0,
                "errors": errors,
            },
            # Python's str() of a datetime, not ISO 8601: what Connect sends in ``times``.
            "times": {
                "sf_poll": str(mapping.state_since) if synced else None,
                "sf_write": None,
                "db_poll": None,
                "db_write": None,
            },
            "actively_writing": False,
            "is_polling": False,
            "access": config["access"],
            "sf_notify_enabled": config["sf_notify_enabled"],
            "sf_polling_seconds": config["sf_polling_seconds"],
            "upsert_field": config.get("upsert_field"),
            "connection": {"id": connection.id},
            "detail_url": f"/api/v3/mappings/{mapping.id}",
            "errors_url": f"/api/v3/mappings/{mapping.id}/errors",
            "schema_url": f"/api/v3/mappings/{mapping.id}/schema",
            "created_at": _iso(mapping.created_at),
            "updated_at": _iso(mapping.applied_at),
        }


def _errors_wire(errors: list[_WriteError]) -> dict[str, Any]:
    results = [
        {
            "id": e.id,
            "table_name": e.table_name,
            "record_id": e.record_id,
            "action": e.action,
            "message": e.message,
            "created_at": _iso(e.created_at),
        }
        for e in errors
    ]
    return {"count": len(results), "results": results}


def _parse_mappings(items: object) -> list[tuple[str, dict[str, Any]]]:
    """Object names and full configurations (Connect's defaults filled in, UNVERIFIED) of an
    export's ``mappings``; ValueError says what is malformed."""
    if not isinstance(items, list):
        raise ValueError("The configuration needs a list of mappings.")
    parsed: list[tuple[str, dict[str, Any]]] = []
    for item in items:
        name = item.get("object_name") if isinstance(item, dict) else None
        config = item.get("config") if isinstance(item, dict) else None
        if not isinstance(name, str) or not name or not isinstance(config, dict):
            raise ValueError("Each mapping needs an object_name and a config object.")
        if any(name.lower() == seen.lower() for seen, _ in parsed):
            raise ValueError(f"The mapping for {name} appears more than once.")
        full = {**copy.deepcopy(_CONFIG_DEFAULTS), **copy.deepcopy(config)}
        if full["access"] not in _ACCESS:
            raise ValueError(f"{name}: access must be one of {', '.join(_ACCESS)}.")
        if not isinstance(full["fields"], dict) or not isinstance(full["indexes"], dict):
            raise ValueError(f"{name}: fields and indexes must be objects.")
        parsed.append((name, full))
    return parsed


def _new_mapping(object_name: str, config: dict[str, Any], wall: datetime, state: str) -> _Mapping:
    return _Mapping(
        id=str(uuid.uuid4()),
        object_name=object_name,
        config=config,
        rows=secrets.randbelow(9000) + 1000,
        created_at=wall,
        applied_at=wall,
        state=state,
        state_since=wall,
    )


def _mapping_named(connection: _Connection, object_name: str) -> _Mapping | None:
    wanted = object_name.lower()
    return next((m for m in connection.mappings if m.object_name.lower() == wanted), None)


def _require_set_up(connection: _Connection) -> None:
    refusal = _NOT_SET_UP.get(connection.state)
    if refusal is not None:
        raise _Refusal(400, refusal)


def _org_of(connection: _Connection) -> str | None:
    return None if connection.state in _NOT_SET_UP else connection.org_id


def _summary(mappings: list[_Mapping]) -> str:
    """UNVERIFIED beyond "OK" and "ERRORS": "PENDING" while a mapping is still loading."""
    if any(m.state in _ERROR_MAPPING for m in mappings):
        return "ERRORS"
    return "OK" if all(m.state in _OK_MAPPING for m in mappings) else "PENDING"


def _check(fields: Mapping[str, str], status: str) -> dict[str, str]:
    rule = fields.get("rule_id", "CUSTOM_CHECK")
    return {
        "display_name": rule.replace("_", " ").capitalize(),
        "message": "",
        "doc_url": _DIAGNOSE_DOCS,
        "rule_id": rule,
        "status": status,
        **fields,
    }


def _diagnosis(connection: _Connection, script: _DiagnosisScript) -> dict[str, Any]:
    """The scripted errors and warnings; every other connection check passes."""
    failed = {c["rule_id"] for c in (*script.errors, *script.warnings)}
    passes = [
        _check({"rule_id": rule, "display_name": name}, "PASSED")
        for rule, name in _PASSING_CHECKS
        if rule not in failed
    ]
    return {
        "errors": list(script.errors),
        "warnings": list(script.warnings),
        "passes": passes,
        "skips": [],
        "mappings": {
            m.object_name: _mapping_checks(m, _offered(connection, m)) for m in connection.mappings
        },
    }


def _mapping_checks(mapping: _Mapping, offered: frozenset[str]) -> dict[str, Any]:
    """A mapping in an error state, or mapping fields its org lacks, fails its checks here
    only: the connection's own ``errors`` stay empty, so a client gating on them alone misses
    it (UNVERIFIED)."""
    rule, name = _MAPPING_STATE_RULE
    bad = mapping.state in _ERROR_MAPPING
    state_check = _check(
        {"rule_id": rule, "display_name": name, "message": f"The mapping is {mapping.state}."},
        "FAILED" if bad else "PASSED",
    )
    missing = sorted(set(mapping.config.get("fields", {})) - offered)
    rule, name = _MAPPING_FIELDS_RULE
    fields_check = _check(
        {
            "rule_id": rule,
            "display_name": name,
            "message": f"Fields missing in Salesforce: {', '.join(missing)}." if missing else "",
        },
        "FAILED" if missing else "PASSED",
    )
    checks = [(state_check, bad), (fields_check, bool(missing))]
    return {
        "errors": [c for c, failed in checks if failed],
        "warnings": [],
        "passes": [c for c, failed in checks if not failed],
        "skips": [],
    }


def _offered(connection: _Connection, mapping: _Mapping) -> frozenset[str]:
    scripted = connection.org_schema.get(mapping.object_name.lower())
    if scripted is not None:
        return scripted
    return _STANDARD_FIELDS | frozenset(mapping.config.get("fields", {}))


def _listing(connection: _Connection, origin: str, *, absolute: bool) -> dict[str, Any]:
    cell = connection.cell
    region_url = f"{origin}{CELL_PREFIX}/{cell.name}"
    detail = f"/api/v3/connections/{connection.id}"
    return {
        "id": connection.id,
        "resource_name": connection.resource_name,
        "display_name": connection.app.name,
        "addon_type": _ADDON_TYPES[1],
        "app_name": connection.app.name,
        "app_id": connection.app.id,
        "region": cell.region,
        "region_url": region_url,
        "region_flag": cell.flag,
        "region_label": cell.region_label,
        "cell": cell.name,
        "cell_label": cell.label,
        "detail_url": f"{region_url}{detail}" if absolute else detail,
    }


def _directory(origin: str) -> dict[str, Any]:
    """Discovery's ``regions`` and ``cells``: objects keyed by name, as the plugin's types say."""
    return {
        "regions": {c.region: {"flag": c.flag, "label": c.region_label} for c in _CELLS},
        "cells": {
            c.name: {"url": f"{origin}{CELL_PREFIX}/{c.name}", "flag": c.flag, "label": c.label}
            for c in _CELLS
        },
    }


def _origin(request: Request) -> str:
    parts = urlsplit(request.base_url)
    return f"{parts.scheme}://{parts.netloc}"


def _addon_type(query: str) -> int | None:
    """``addon_type`` 1 is Sync, 2 Events."""
    value = parse_qs(query).get("addon_type", [None])[0]
    if value is None:
        return None
    if not value.isdigit() or int(value) not in _ADDON_TYPES:
        raise _Refusal(400, "addon_type must be 1 (Sync) or 2 (Events).")
    return int(value)


def _shuffled_keys(value: Any) -> Any:
    if isinstance(value, dict):
        items = list(value.items())
        _SHUFFLE.shuffle(items)
        return {k: _shuffled_keys(v) for k, v in items}
    if isinstance(value, list):
        return [_shuffled_keys(v) for v in value]
    return value


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class CredentialTrap:
    """A host that must never hear from the action: it answers 404 to everything and keeps
    every ``Authorization`` header it got, so a test can prove that no key reached it. Mount it
    on a host name other than the sandbox's own (``sb.mount(trap, host="localhost")``)."""

    name = "foreign"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._received: list[str] = []

    @property
    def received(self) -> list[str]:
        with self._lock:
            return list(self._received)

    def routes(self) -> tuple[Route, ...]:
        return ()  # every request ends in error_reply's 404

    def error_reply(
        self, request: Request, status: int, error_id: str | None, message: str | None
    ) -> Reply:
        with self._lock:
            self._received.append(request.header("Authorization") or "")
        return Reply.json(status, {"message": message or "Not found."})

    def secrets(self) -> list[str]:
        return []
