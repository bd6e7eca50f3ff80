"""A fake of the GitHub REST API, the part a deploy action uses (shared/reference/API_NOTES.md
section 4.4): deployments and their statuses, pull request conversation comments, and the
repository, pull request and user lookups a client such as PyGithub makes around them.

GitHub's defaults are kept where they are traps. A deployment request that leaves out
``required_contexts`` needs every commit status of its commit to be ``success`` and answers 409
otherwise; the action must send ``auto_merge=False, required_contexts=[]``. A ``success`` status
with ``auto_inactive`` (the default) marks older deployments of its environment inactive, as
GitHub's background job does, though before answering rather than moments later. The
``GITHUB_TOKEN`` of a workflow is an installation token, which ``GET /user`` refuses: an action
cannot learn its own login that way.

Mounted under a prefix, the fake looks like GitHub Enterprise Server's ``https://host/api/v3``:
every URL it hands back carries the prefix, so a client that follows them stays on the fake.
Lists come in pages with a ``Link`` header that, like GitHub's, addresses the repository by id
(``/repositories/{id}/...``); both forms of a repository's paths are served. Ids come from one
counter shared by every kind of object, so a client that confuses a deployment id with a status
id or a pull request's id with its issue's gets a 404 instead of passing by luck.

Where GitHub's behaviour is undocumented, the choice made here is marked UNVERIFIED.
"""

from __future__ import annotations

import base64
import itertools
import json
import math
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from http.client import responses
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from .routing import Handler, Reply, Request, Route

ACTIONS_BOT = "github-actions[bot]"
"""The login behind a workflow's ``GITHUB_TOKEN``."""
DEFAULT_BRANCH = "main"
MAX_COMMENT = 65536
MAX_DESCRIPTION = 140
MAX_STATUSES = 100
"""GitHub refuses the 101st status of one deployment."""
DEPLOYMENT_STATES = frozenset(
    {"error", "failure", "inactive", "in_progress", "queued", "pending", "success"}
)
COMMIT_STATES = frozenset({"error", "failure", "pending", "success"})

_ACTIONS_BOT_ID = 41898282  # github-actions[bot]'s user id on github.com
_REPO_NAME = re.compile(r"[A-Za-z0-9-]+/[A-Za-z0-9._-]+")
_SHA = re.compile(r"[0-9a-f]{40}")
_WEB = "https://github.com"
_DOCS = "https://docs.github.com/rest"
_PER_PAGE = 30
_MAX_PER_PAGE = 100
_RATE_WINDOW_SECONDS = 3600
_USER_RATE_LIMIT = 5000
# A workflow's GITHUB_TOKEN gets 1,000 requests an hour per repository.
_INSTALLATION_RATE_LIMIT = 1000
_MAX_ENVIRONMENT = 255
# Where GitHub's message is not the status's reason phrase.
_DEFAULT_MESSAGES = {
    401: "Bad credentials",
    422: "Validation Failed",
    500: "Server Error",
    502: "Server Error",
}


@dataclass(frozen=True)
class Deployment:
    """A deployment as the API would show it at one instant; a snapshot, so assertions stay
    stable. ``environment`` is where its latest status put it, ``original_environment`` where it
    was created for."""

    id: int
    sha: str
    ref: str
    task: str
    payload: dict[str, Any] | str
    original_environment: str
    environment: str
    description: str | None
    creator: str
    transient_environment: bool
    production_environment: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class DeploymentStatus:
    id: int
    deployment_id: int
    state: str
    description: str | None
    environment: str
    environment_url: str | None
    log_url: str | None
    """Also sent and shown as ``target_url``, its legacy name."""
    creator: str
    created_at: datetime
    automatic: bool = False
    """Created by GitHub itself: ``auto_inactive`` superseded the deployment."""


@dataclass(frozen=True)
class Comment:
    """A pull request conversation comment (an issue comment, to the API)."""

    id: int
    number: int
    body: str
    login: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class _User:
    id: int
    login: str
    type: str


@dataclass(frozen=True)
class _Pull:
    id: int
    issue_id: int
    number: int
    head_ref: str
    head_sha: str
    author: str
    created_at: datetime


@dataclass(eq=False)
class _Repo:
    """A repository and everything in it; mutated only under the fake's lock."""

    id: int
    owner: _User
    name: str
    created_at: datetime
    tokens: set[str] = field(default_factory=set)
    """Tokens that may read and write the repository; to any other it does not exist."""
    refs: dict[str, str] = field(default_factory=dict)
    checks: dict[str, dict[str, str]] = field(default_factory=dict)
    """Commit statuses: sha -> context -> the state its latest status reported."""
    pulls: dict[int, _Pull] = field(default_factory=dict)
    deployments: dict[int, Deployment] = field(default_factory=dict)
    """As created: ``environment`` and ``updated_at`` are derived from the statuses."""
    statuses: dict[int, list[DeploymentStatus]] = field(default_factory=dict)
    """Deployment id -> its statuses, oldest first."""
    comments: dict[int, Comment] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return f"{self.owner.login}/{self.name}"


@dataclass
class _Window:
    """One token's primary rate limit: ``limit`` requests until ``reset`` (epoch seconds)."""

    limit: int
    used: int
    reset: int


@dataclass(frozen=True)
class _Kind:
    """A JSON type, named as GitHub's request-schema complaints name it."""

    name: str
    accepts: Callable[[Any], bool]


_STRING = _Kind("a string", lambda v: isinstance(v, str))
_OPTIONAL_STRING = _Kind("a string or null", lambda v: v is None or isinstance(v, str))
_BOOLEAN = _Kind("a boolean", lambda v: isinstance(v, bool))
_STRINGS = _Kind(
    "an array of strings", lambda v: isinstance(v, list) and all(isinstance(i, str) for i in v)
)
_PAYLOAD = _Kind("an object or a string", lambda v: isinstance(v, dict | str))
_DEPLOYMENT_FIELDS = {
    "ref": _STRING,
    "task": _STRING,
    "auto_merge": _BOOLEAN,
    "required_contexts": _STRINGS,
    "payload": _PAYLOAD,
    "environment": _STRING,
    "description": _OPTIONAL_STRING,
    "transient_environment": _BOOLEAN,
    "production_environment": _BOOLEAN,
}
# GitHub casts rather than validates these (its schema check is off for statuses); refusing a
# wrong type is this fake's simplification. A bad ``state`` gets GitHub's own answer.
_STATUS_FIELDS = {
    "target_url": _OPTIONAL_STRING,
    "log_url": _OPTIONAL_STRING,
    "description": _OPTIONAL_STRING,
    "environment": _OPTIONAL_STRING,
    "environment_url": _OPTIONAL_STRING,
    "auto_inactive": _BOOLEAN,
}
_COMMENT_FIELDS = {"body": _STRING}
_DEPLOYMENT_FILTERS = frozenset({"sha", "ref", "task", "environment"})


class _ApiError(Exception):
    """Raised anywhere below a handler so each check reads as one line and yields GitHub's body.

    ``docs`` replaces the route's documentation link, for errors that are not about the route.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        errors: Sequence[Mapping[str, Any]] = (),
        docs: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors
        self.docs = docs

    def reply(self, docs: str) -> Reply:
        return _error(self.status, self.message, self.docs or docs, self.errors)


ApiHandler = Callable[[Request, _User | None], Reply]
RepoHandler = Callable[[Request, _User, _Repo], Reply]


class FakeGitHub:
    """State and handlers of the fake; every access goes through one lock."""

    name = "github"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1_000_000_001)
        self._tokens: dict[str, _User] = {}
        self._users: dict[str, _User] = {}
        self._repos: dict[str, _Repo] = {}
        self._windows: dict[str, _Window] = {}

    # Seeding and inspection, for tests and demos.

    def add_repo(self, full_name: str, token: str, *, login: str = ACTIONS_BOT) -> None:
        """Create a private repository that ``token``, belonging to ``login``, may write to.

        A login ending in ``[bot]`` is an app's installation (type Bot), anything else a user.
        One token may be given several repositories; each repository has one token.
        """
        if not _REPO_NAME.fullmatch(full_name):
            raise ValueError(f"GitHub would refuse the repository name {full_name!r}")
        if not token:
            raise ValueError("a repository needs a token that may write to it")
        owner, name = full_name.split("/")
        with self._lock:
            if full_name.lower() in self._repos:
                raise ValueError(f"repository {full_name!r} already exists")
            holder = self._tokens.get(token)
            if holder is not None and holder.login != login:
                raise ValueError(f"that token already belongs to {holder.login}")
            self._tokens[token] = self._user(login)
            repo = _Repo(next(self._ids), self._user(owner, "Organization"), name, _now())
            repo.tokens.add(token)
            self._repos[full_name.lower()] = repo

    def add_ref(self, full_name: str, ref: str, sha: str, *, statuses: Iterable[str] = ()) -> None:
        """Point a branch or tag at ``sha`` and report commit statuses on that commit.

        The n-th state sets context ``ci/n``: seeding the same commit again with other states
        replaces them, as a newer status of a context does on GitHub.
        """
        states = list(statuses)
        if not _SHA.fullmatch(sha):
            raise ValueError(f"{sha!r} is not a full lower-case commit SHA")
        unknown = [s for s in states if s not in COMMIT_STATES]
        if unknown:
            raise ValueError(f"commit statuses are one of {sorted(COMMIT_STATES)}, not {unknown}")
        with self._lock:
            repo = self._repo(full_name)
            repo.refs[ref] = sha
            checks = repo.checks.setdefault(sha, {})
            checks.update({f"ci/{n}": state for n, state in enumerate(states, start=1)})

    def add_pull(
        self, full_name: str, number: int, head_ref: str, head_sha: str, *, login: str = "octocat"
    ) -> None:
        """Open pull request ``number`` by ``login`` from ``head_ref`` into the default branch;
        ``head_ref`` and ``refs/pull/{number}/head`` now point at ``head_sha``."""
        if number < 1:
            raise ValueError("pull request numbers start at 1")
        if not _SHA.fullmatch(head_sha):
            raise ValueError(f"{head_sha!r} is not a full lower-case commit SHA")
        with self._lock:
            repo = self._repo(full_name)
            if number in repo.pulls:
                raise ValueError(f"pull request #{number} already exists")
            author = self._user(login)
            pull = _Pull(
                next(self._ids), next(self._ids), number, head_ref, head_sha, author.login, _now()
            )
            repo.pulls[number] = pull
            repo.refs[head_ref] = repo.refs[f"refs/pull/{number}/head"] = head_sha

    def add_comment(self, full_name: str, number: int, body: str, *, login: str) -> int:
        """Comment on a pull request as ``login`` (someone else than the action, typically);
        returns the comment's id."""
        with self._lock:
            repo = self._repo(full_name)
            if number not in repo.pulls:
                raise KeyError(f"no pull request #{number} in {full_name}")
            return self._comment(repo, number, body, self._user(login)).id

    def set_rate_limit(self, token: str, *, remaining: int) -> None:
        """Leave ``remaining`` requests in the token's current hour; at 0 the next is refused."""
        with self._lock:
            window = self._window(token)
            if not 0 <= remaining <= window.limit:
                raise ValueError(f"remaining must be between 0 and {window.limit}")
            window.used = window.limit - remaining

    def deployments(self, full_name: str) -> list[Deployment]:
        """Every deployment, oldest first, as the API would show it now."""
        with self._lock:
            repo = self._repo(full_name)
            return [_view(repo, d) for d in repo.deployments.values()]

    def statuses(self, full_name: str, deployment_id: int) -> list[DeploymentStatus]:
        """A deployment's statuses, oldest first (the API lists them newest first)."""
        with self._lock:
            return list(self._repo(full_name).statuses[deployment_id])

    def comments(self, full_name: str, number: int) -> list[Comment]:
        with self._lock:
            repo = self._repo(full_name)
            if number not in repo.pulls:
                raise KeyError(f"no pull request #{number} in {full_name}")
            return [c for c in repo.comments.values() if c.number == number]

    # The Service protocol.

    def routes(self) -> list[Route]:
        api, in_repo = self._api, self._in_repo
        deployments, statuses = "deployments/deployments#", "deployments/statuses#"
        comments = "issues/comments#"
        per_repo: list[tuple[str, str, RepoHandler, str]] = [
            ("GET", "", self._get_repo, "repos/repos#get-a-repository"),
            ("GET", "/deployments", self._list_deployments, f"{deployments}list-deployments"),
            ("POST", "/deployments", self._create_deployment, f"{deployments}create-a-deployment"),
            (
                "GET",
                "/deployments/{deployment}",
                self._get_deployment,
                f"{deployments}get-a-deployment",
            ),
            (
                "GET",
                "/deployments/{deployment}/statuses",
                self._list_statuses,
                f"{statuses}list-deployment-statuses",
            ),
            (
                "POST",
                "/deployments/{deployment}/statuses",
                self._create_status,
                f"{statuses}create-a-deployment-status",
            ),
            (
                "GET",
                "/deployments/{deployment}/statuses/{status}",
                self._get_status,
                f"{statuses}get-a-deployment-status",
            ),
            ("GET", "/issues/{number}", self._get_issue, "issues/issues#get-an-issue"),
            (
                "GET",
                "/issues/{number}/comments",
                self._list_comments,
                f"{comments}list-issue-comments",
            ),
            (
                "POST",
                "/issues/{number}/comments",
                self._create_comment,
                f"{comments}create-an-issue-comment",
            ),
            (
                "GET",
                "/issues/comments/{comment}",
                self._get_comment,
                f"{comments}get-an-issue-comment",
            ),
            (
                "PATCH",
                "/issues/comments/{comment}",
                self._update_comment,
                f"{comments}update-an-issue-comment",
            ),
            ("GET", "/pulls/{number}", self._get_pull, "pulls/pulls#get-a-pull-request"),
        ]
        return [
            Route("GET", "/user", api(self._get_user, "users/users#get-the-authenticated-user")),
            *(
                Route(method, f"{prefix}{path}", api(in_repo(handler), docs))
                for prefix in ("/repos/{owner}/{repo}", "/repositories/{repository_id}")
                for method, path, handler, docs in per_repo
            ),
        ]

    def error_reply(
        self, request: Request, status: int, error_id: str | None, message: str | None
    ) -> Reply:
        """GitHub's error bodies have no code for ``error_id``: the message is all they say."""
        text = message or _DEFAULT_MESSAGES.get(status) or responses.get(status, "Error")
        with self._lock:
            return self._stamp(_error(status, text, _DOCS), _credential(request))

    def secrets(self) -> list[str]:
        with self._lock:
            return list(self._tokens)

    # Request plumbing.

    def _api(self, handler: ApiHandler, docs: str) -> Handler:
        """Wrap a handler in what every call goes through: credentials, then the rate limit."""

        def serve(request: Request) -> Reply:
            credential = _credential(request)
            with self._lock:
                user = self._tokens.get(credential)
                try:
                    if credential and user is None:
                        raise _ApiError(401, "Bad credentials", docs=_DOCS)
                    if user is not None:
                        self._meter(credential)
                    reply = handler(request, user)
                except _ApiError as error:
                    reply = error.reply(f"{_DOCS}/{docs}")
                return self._stamp(reply, credential)

        return serve

    def _in_repo(self, handler: RepoHandler) -> ApiHandler:
        """Resolve the repository a path names; one the caller may not see does not exist."""

        def serve(request: Request, user: _User | None) -> Reply:
            params = request.params
            if "repository_id" in params:
                repo = next(
                    (r for r in self._repos.values() if str(r.id) == params["repository_id"]), None
                )
            else:
                repo = self._repos.get(f"{params['owner']}/{params['repo']}".lower())
            if repo is None or user is None or _credential(request) not in repo.tokens:
                raise _ApiError(404, "Not Found")
            return handler(request, user, repo)

        return serve

    def _meter(self, token: str) -> None:
        window = self._window(token)
        if window.used >= window.limit:
            user = self._tokens[token]
            account = "installation" if user.type == "Bot" else "user"
            raise _ApiError(
                403,
                f"API rate limit exceeded for {account} ID {user.id}.",
                docs=f"{_DOCS}/overview/rate-limits-for-the-rest-api",
            )
        window.used += 1

    def _window(self, token: str) -> _Window:
        """A token's current hour of requests; a workflow token's limit is lower than a
        person's."""
        now = time.time()
        window = self._windows.get(token)
        if window is None or now >= window.reset:
            bot = self._tokens[token].type == "Bot"
            limit = _INSTALLATION_RATE_LIMIT if bot else _USER_RATE_LIMIT
            window = _Window(limit, 0, math.ceil(now) + _RATE_WINDOW_SECONDS)
            self._windows[token] = window
        return window

    def _stamp(self, reply: Reply, token: str) -> Reply:
        """Add the headers of every answer; the rate limit's only for a known token."""
        request_id = ":".join(f"{secrets.randbits(4 * n):0{n}X}" for n in (4, 5, 6, 6, 8))
        stamped = reply.with_headers(("X-GitHub-Request-Id", request_id))
        if token not in self._tokens:
            return stamped
        window = self._window(token)
        return stamped.with_headers(
            ("X-RateLimit-Limit", str(window.limit)),
            ("X-RateLimit-Remaining", str(window.limit - window.used)),
            ("X-RateLimit-Reset", str(window.reset)),
            ("X-RateLimit-Used", str(window.used)),
            ("X-RateLimit-Resource", "core"),
        )

    # Handlers; they run under the lock.

    def _get_user(self, request: Request, user: _User | None) -> Reply:
        if user is None:
            raise _ApiError(401, "Requires authentication")
        if user.type == "Bot":
            raise _ApiError(403, "Resource not accessible by integration")
        return Reply.json(200, _user_wire(user, request.base_url))

    def _get_repo(self, request: Request, user: _User, repo: _Repo) -> Reply:
        return Reply.json(200, self._wire(request, repo).repository())

    def _list_deployments(self, request: Request, user: _User, repo: _Repo) -> Reply:
        """Newest first; ``environment`` filters on the environment a deployment was created for,
        not one a status moved it to, as GitHub's query does."""
        filters = {k: v for k, v in parse_qsl(request.query) if k in _DEPLOYMENT_FILTERS and v}

        def selected(deployment: Deployment) -> bool:
            have = {
                "sha": deployment.sha,
                "ref": deployment.ref,
                "task": deployment.task,
                "environment": deployment.original_environment,
            }
            return all(have[key] == value for key, value in filters.items())

        wire = self._wire(request, repo)
        newest_first = reversed(repo.deployments.values())
        items = [wire.deployment(_view(repo, d)) for d in newest_first if selected(d)]
        return _page(request, repo, items)

    def _create_deployment(self, request: Request, user: _User, repo: _Repo) -> Reply:
        """Validate, resolve the ref, check commit statuses, then create; GitHub's order."""
        body = _json_object(request)
        _validate(body, _DEPLOYMENT_FIELDS, required="ref")
        ref: str = body["ref"]
        sha = _resolve(repo, ref)
        if sha is None:
            raise _ApiError(422, f"No ref found for: {ref}")
        # ``auto_merge`` (default true) merges the default branch into a ref behind it; every
        # ref here is up to date with it, so there is never anything to merge.
        _require_green(repo, ref, sha, body.get("required_contexts"))
        environment: str = body.get("environment", "production")
        production = body.get("production_environment")
        now = _now()
        deployment = Deployment(
            id=next(self._ids),
            sha=sha,
            ref=ref,
            task=body.get("task", "deploy"),
            payload=body.get("payload", {}),
            original_environment=environment,
            environment=environment,
            description=body.get("description"),
            creator=user.login,
            transient_environment=body.get("transient_environment", False),
            production_environment=(
                environment == "production" if production is None else production
            ),
            created_at=now,
            updated_at=now,
        )
        repo.deployments[deployment.id] = deployment
        repo.statuses[deployment.id] = []
        wire = self._wire(request, repo).deployment(deployment)
        return Reply.json(201, wire, (("Location", wire["url"]),))

    def _get_deployment(self, request: Request, user: _User, repo: _Repo) -> Reply:
        deployment = _view(repo, _deployment(repo, request))
        return Reply.json(200, self._wire(request, repo).deployment(deployment))

    def _list_statuses(self, request: Request, user: _User, repo: _Repo) -> Reply:
        history = repo.statuses[_deployment(repo, request).id]
        wire = self._wire(request, repo)
        return _page(request, repo, [wire.status(s) for s in reversed(history)])

    def _get_status(self, request: Request, user: _User, repo: _Repo) -> Reply:
        history = repo.statuses[_deployment(repo, request).id]
        status = next((s for s in history if str(s.id) == request.params["status"]), None)
        if status is None:
            raise _ApiError(404, "Not Found")
        return Reply.json(200, self._wire(request, repo).status(status))

    def _create_status(self, request: Request, user: _User, repo: _Repo) -> Reply:
        deployment = _deployment(repo, request)
        body = _json_object(request)
        _validate(body, _STATUS_FIELDS)
        history = repo.statuses[deployment.id]
        state = body.get("state")
        if not isinstance(state, str) or state not in DEPLOYMENT_STATES:
            # GitHub checks the state before anything else and reports it alone.
            raise _ApiError(
                422,
                "Validation Failed",
                errors=[_invalid("state", "state is not included in the list")],
            )
        description: str | None = body.get("description")
        environment: str | None = body.get("environment")
        if environment is None:
            environment = history[-1].environment if history else deployment.original_environment
        environment_url = (body.get("environment_url") or "").strip() or None
        log_url: str | None = body.get("log_url") or body.get("target_url")
        errors = [
            *_too_long("description", description, MAX_DESCRIPTION),
            *_too_long("environment", environment, _MAX_ENVIRONMENT),
            *_not_http("environment_url", environment_url),
            # GitHub stores target_url as log_url and names its errors after target_url.
            *_not_http("target_url", log_url),
        ]
        if len(history) >= MAX_STATUSES:
            # UNVERIFIED: how GitHub renders this error, which has no field.
            message = "This deployment has reached the maximum number of statuses."
            errors.append({"resource": "DeploymentStatus", "code": "custom", "message": message})
        if errors:
            raise _ApiError(422, "Validation Failed", errors=errors)
        status = DeploymentStatus(
            id=next(self._ids),
            deployment_id=deployment.id,
            state=state,
            description=description,
            environment=environment,
            environment_url=environment_url,
            log_url=log_url,
            creator=user.login,
            created_at=_now(),
        )
        history.append(status)
        if state == "success" and body.get("auto_inactive", True):
            self._deactivate_others(repo, deployment, environment)
        wire = self._wire(request, repo).status(status)
        return Reply.json(201, wire, (("Location", wire["url"]),))

    def _get_issue(self, request: Request, user: _User, repo: _Repo) -> Reply:
        pull = _pull(repo, request)
        return Reply.json(200, self._wire(request, repo).issue(pull))

    def _get_pull(self, request: Request, user: _User, repo: _Repo) -> Reply:
        pull = _pull(repo, request)
        return Reply.json(200, self._wire(request, repo).pull(pull))

    def _list_comments(self, request: Request, user: _User, repo: _Repo) -> Reply:
        """Oldest first, as GitHub lists a conversation."""
        number = _pull(repo, request).number
        wire = self._wire(request, repo)
        return _page(
            request, repo, [wire.comment(c) for c in repo.comments.values() if c.number == number]
        )

    def _create_comment(self, request: Request, user: _User, repo: _Repo) -> Reply:
        number = _pull(repo, request).number
        comment = self._comment(repo, number, _comment_body(request), user)
        wire = self._wire(request, repo).comment(comment)
        return Reply.json(201, wire, (("Location", wire["url"]),))

    def _get_comment(self, request: Request, user: _User, repo: _Repo) -> Reply:
        comment = _comment(repo, request)
        return Reply.json(200, self._wire(request, repo).comment(comment))

    def _update_comment(self, request: Request, user: _User, repo: _Repo) -> Reply:
        """Anyone who may write to the repository may edit anyone's comment, as on GitHub:
        keeping to its own comments is the client's job."""
        comment = _comment(repo, request)
        edited = replace(comment, body=_comment_body(request), updated_at=_now())
        repo.comments[comment.id] = edited
        return Reply.json(200, self._wire(request, repo).comment(edited))

    # Helpers; they run under the lock.

    def _wire(self, request: Request, repo: _Repo) -> _Wire:
        return _Wire(request.base_url, repo, self._users)

    def _user(self, login: str, kind: str | None = None) -> _User:
        """The account called ``login``, created on first mention."""
        user = self._users.get(login)
        if user is None:
            kind = kind or ("Bot" if login.endswith("[bot]") else "User")
            ident = _ACTIONS_BOT_ID if login == ACTIONS_BOT else next(self._ids)
            user = self._users[login] = _User(ident, login, kind)
        return user

    def _repo(self, full_name: str) -> _Repo:
        repo = self._repos.get(full_name.lower())
        if repo is None:
            raise KeyError(f"no repository {full_name!r}")
        return repo

    def _comment(self, repo: _Repo, number: int, body: str, user: _User) -> Comment:
        now = _now()
        comment = Comment(next(self._ids), number, body, user.login, now, now)
        repo.comments[comment.id] = comment
        return comment

    def _deactivate_others(self, repo: _Repo, current: Deployment, environment: str) -> None:
        """What ``auto_inactive`` does after a success: every other deployment whose latest
        status is a success in the same environment, unless transient or production, gets an
        ``inactive`` status by the author of that success, keeping its log URL.

        UNVERIFIED: GitHub's documentation exempts production deployments, as done here; its
        job may no longer do so.
        """
        now = _now()
        for other in repo.deployments.values():
            history = repo.statuses[other.id]
            if (
                other.id == current.id
                or not history
                or other.transient_environment
                or other.production_environment
            ):
                continue
            latest = history[-1]
            if latest.state == "success" and latest.environment == environment:
                history.append(
                    DeploymentStatus(
                        id=next(self._ids),
                        deployment_id=other.id,
                        state="inactive",
                        description=None,
                        environment=environment,
                        environment_url=None,
                        log_url=latest.log_url,
                        creator=latest.creator,
                        created_at=now,
                        automatic=True,
                    )
                )


@dataclass(frozen=True)
class _Wire:
    """Objects as JSON, with URLs under the base the client used to reach the fake."""

    base: str
    repo: _Repo
    users: Mapping[str, _User]

    @property
    def url(self) -> str:
        return f"{self.base}/repos/{self.repo.full_name}"

    def user(self, login: str) -> dict[str, Any]:
        return _user_wire(self.users[login], self.base)

    def repository(self) -> dict[str, Any]:
        repo, url, created = self.repo, self.url, _iso(self.repo.created_at)
        return {
            "id": repo.id,
            "node_id": _node_id("R", repo.id),
            "name": repo.name,
            "full_name": repo.full_name,
            "private": True,
            "owner": _user_wire(repo.owner, self.base),
            "html_url": f"{_WEB}/{repo.full_name}",
            "description": None,
            "fork": False,
            "url": url,
            "deployments_url": f"{url}/deployments",
            "issue_comment_url": f"{url}/issues/comments{{/number}}",
            "issues_url": f"{url}/issues{{/number}}",
            "pulls_url": f"{url}/pulls{{/number}}",
            "statuses_url": f"{url}/statuses/{{sha}}",
            "created_at": created,
            "updated_at": created,
            "pushed_at": created,
            "default_branch": DEFAULT_BRANCH,
            "visibility": "private",
            "archived": False,
            "disabled": False,
            "permissions": {
                "admin": False,
                "maintain": False,
                "push": True,
                "triage": True,
                "pull": True,
            },
        }

    def deployment(self, deployment: Deployment) -> dict[str, Any]:
        url = f"{self.url}/deployments/{deployment.id}"
        return {
            "url": url,
            "id": deployment.id,
            "node_id": _node_id("DE", deployment.id),
            "task": deployment.task,
            "original_environment": deployment.original_environment,
            "environment": deployment.environment,
            "description": deployment.description,
            "created_at": _iso(deployment.created_at),
            "updated_at": _iso(deployment.updated_at),
            "statuses_url": f"{url}/statuses",
            "repository_url": self.url,
            "creator": self.user(deployment.creator),
            "sha": deployment.sha,
            "ref": deployment.ref,
            "payload": deployment.payload,
            "transient_environment": deployment.transient_environment,
            "production_environment": deployment.production_environment,
            "performed_via_github_app": None,
        }

    def status(self, status: DeploymentStatus) -> dict[str, Any]:
        """Absent texts and URLs are empty strings, as GitHub shows them."""
        deployment_url = f"{self.url}/deployments/{status.deployment_id}"
        created = _iso(status.created_at)
        return {
            "url": f"{deployment_url}/statuses/{status.id}",
            "id": status.id,
            "node_id": _node_id("DES", status.id),
            "state": status.state,
            "creator": self.user(status.creator),
            "description": status.description or "",
            "environment": status.environment,
            "target_url": status.log_url or "",
            "created_at": created,
            "updated_at": created,
            "deployment_url": deployment_url,
            "repository_url": self.url,
            "environment_url": status.environment_url or "",
            "log_url": status.log_url or "",
            "performed_via_github_app": None,
        }

    def comment(self, comment: Comment) -> dict[str, Any]:
        return {
            "url": f"{self.url}/issues/comments/{comment.id}",
            "html_url": f"{_WEB}/{self.repo.full_name}/pull/{comment.number}"
            f"#issuecomment-{comment.id}",
            "issue_url": f"{self.url}/issues/{comment.number}",
            "id": comment.id,
            "node_id": _node_id("IC", comment.id),
            "user": self.user(comment.login),
            "created_at": _iso(comment.created_at),
            "updated_at": _iso(comment.updated_at),
            "body": comment.body,
        }

    def issue(self, pull: _Pull) -> dict[str, Any]:
        """A pull request seen as the issue that carries its conversation."""
        url = f"{self.url}/issues/{pull.number}"
        created = _iso(pull.created_at)
        return {
            "url": url,
            "comments_url": f"{url}/comments",
            "html_url": f"{_WEB}/{self.repo.full_name}/pull/{pull.number}",
            "id": pull.issue_id,
            "node_id": _node_id("PR", pull.id),
            "number": pull.number,
            "title": pull.head_ref,
            "user": self.user(pull.author),
            "labels": [],
            "state": "open",
            "locked": False,
            "comments": self._count(pull),
            "created_at": created,
            "updated_at": created,
            "closed_at": None,
            "body": None,
            "pull_request": {
                "url": f"{self.url}/pulls/{pull.number}",
                "html_url": f"{_WEB}/{self.repo.full_name}/pull/{pull.number}",
                "merged_at": None,
            },
        }

    def pull(self, pull: _Pull) -> dict[str, Any]:
        url = f"{self.url}/pulls/{pull.number}"
        issue_url = f"{self.url}/issues/{pull.number}"
        created = _iso(pull.created_at)
        owner = self.repo.owner.login
        return {
            "url": url,
            "id": pull.id,
            "node_id": _node_id("PR", pull.id),
            "html_url": f"{_WEB}/{self.repo.full_name}/pull/{pull.number}",
            "issue_url": issue_url,
            "comments_url": f"{issue_url}/comments",
            "statuses_url": f"{self.url}/statuses/{pull.head_sha}",
            "number": pull.number,
            "state": "open",
            "locked": False,
            "title": pull.head_ref,
            "user": self.user(pull.author),
            "body": None,
            "created_at": created,
            "updated_at": created,
            "closed_at": None,
            "merged_at": None,
            "draft": False,
            "merged": False,
            "comments": self._count(pull),
            "head": {
                "label": f"{owner}:{pull.head_ref}",
                "ref": pull.head_ref,
                "sha": pull.head_sha,
                "repo": self.repository(),
            },
            "base": {
                "label": f"{owner}:{DEFAULT_BRANCH}",
                "ref": DEFAULT_BRANCH,
                "repo": self.repository(),
            },
        }

    def _count(self, pull: _Pull) -> int:
        return sum(1 for c in self.repo.comments.values() if c.number == pull.number)


def _user_wire(user: _User, base: str) -> dict[str, Any]:
    bot = user.type == "Bot"
    app = user.login.removesuffix("[bot]")
    prefix = {"Bot": "BOT", "Organization": "O"}.get(user.type, "U")
    return {
        "login": user.login,
        "id": user.id,
        "node_id": _node_id(prefix, user.id),
        "avatar_url": f"https://avatars.githubusercontent.com/u/{user.id}?v=4",
        "gravatar_id": "",
        "url": f"{base}/users/{quote(user.login)}",
        "html_url": f"{_WEB}/apps/{app}" if bot else f"{_WEB}/{user.login}",
        "type": user.type,
        "site_admin": False,
    }


def _page(request: Request, repo: _Repo, items: list[dict[str, Any]]) -> Reply:
    """One page of a list, ``per_page`` (30, at most 100) from ``page`` (1), with GitHub's
    ``Link`` header: prev, next, last, first, each where it applies."""
    query = parse_qsl(request.query)
    params = dict(query)
    per_page = min(_positive(params.get("per_page"), _PER_PAGE), _MAX_PER_PAGE)
    page = _positive(params.get("page"), 1)
    last = max(1, math.ceil(len(items) / per_page))
    kept = [(k, v) for k, v in query if k != "page"]
    parts = request.path.split("/")
    # /repos/{owner}/{repo}/rest or /repositories/{id}/rest
    rest = "/".join(parts[4:] if parts[1] == "repos" else parts[3:])
    where = f"{request.base_url}/repositories/{repo.id}/{rest}"
    relations = [
        ("prev", page - 1, page > 1),
        ("next", page + 1, page < last),
        ("last", last, page < last),
        ("first", 1, page > 1),
    ]
    links = [
        f'<{where}?{urlencode([*kept, ("page", str(n))])}>; rel="{rel}"'
        for rel, n, applies in relations
        if applies
    ]
    headers = [("Link", ", ".join(links))] if links else []
    return Reply.json(200, items[(page - 1) * per_page : page * per_page], headers)


def _positive(text: str | None, default: int) -> int:
    """A positive integer query parameter; GitHub ignores anything else."""
    return int(text) if text is not None and text.isdigit() and int(text) > 0 else default


def _view(repo: _Repo, deployment: Deployment) -> Deployment:
    history = repo.statuses[deployment.id]
    if not history:
        return deployment
    latest = history[-1]
    return replace(deployment, environment=latest.environment, updated_at=latest.created_at)


def _require_green(repo: _Repo, ref: str, sha: str, required: list[str] | None) -> None:
    """Every context in ``required`` (all reported ones when the client sent none) must be
    ``success``; a required context never reported fails too."""
    checks = repo.checks.get(sha, {})
    contexts = checks if required is None else required
    if all(checks.get(context) == "success" for context in contexts):
        return
    reported = [{"context": c, "state": s} for c, s in checks.items()]
    raise _ApiError(
        409,
        f"Conflict: Commit status checks failed for {ref}.",
        errors=[
            {
                "resource": "Deployment",
                "field": "required_contexts",
                "code": "invalid",
                "contexts": reported,
            }
        ],
    )


def _resolve(repo: _Repo, ref: str) -> str | None:
    """The commit a branch, tag, ``refs/...`` name or full SHA names, as far as the fake knows
    the repository: the commits refs point at."""
    for name in (ref, ref.removeprefix("refs/heads/"), ref.removeprefix("refs/tags/")):
        if name in repo.refs:
            return repo.refs[name]
    return ref if ref in repo.refs.values() else None


def _deployment(repo: _Repo, request: Request) -> Deployment:
    ident = request.params["deployment"]
    deployment = repo.deployments.get(int(ident)) if ident.isdigit() else None
    if deployment is None:
        raise _ApiError(404, "Not Found")
    return deployment


def _pull(repo: _Repo, request: Request) -> _Pull:
    number = request.params["number"]
    pull = repo.pulls.get(int(number)) if number.isdigit() else None
    if pull is None:
        raise _ApiError(404, "Not Found")
    return pull


def _comment(repo: _Repo, request: Request) -> Comment:
    ident = request.params["comment"]
    comment = repo.comments.get(int(ident)) if ident.isdigit() else None
    if comment is None:
        raise _ApiError(404, "Not Found")
    return comment


def _comment_body(request: Request) -> str:
    body = _json_object(request)
    _validate(body, _COMMENT_FIELDS, required="body")
    text: str = body["body"]
    if not text.strip():
        # UNVERIFIED: the code GitHub gives a blank body.
        missing = {"resource": "IssueComment", "code": "missing_field", "field": "body"}
        raise _ApiError(422, "Validation Failed", errors=[missing])
    if len(text) > MAX_COMMENT:
        too_long = {
            "resource": "IssueComment",
            "code": "custom",
            "field": "body",
            "message": f"body is too long (maximum is {MAX_COMMENT} characters)",
        }
        raise _ApiError(422, "Validation Failed", errors=[too_long])
    return text


def _credential(request: Request) -> str:
    """The token from ``token X`` or ``Bearer X``, GitHub's two schemes for one."""
    scheme, _, value = (request.header("Authorization") or "").partition(" ")
    return value.strip() if scheme.lower() in ("token", "bearer") else ""


def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        raise _ApiError(400, "Problems parsing JSON") from None
    if not isinstance(body, dict):
        raise _ApiError(400, "Body should be a JSON object")
    return body


def _validate(body: Mapping[str, Any], fields: Mapping[str, _Kind], required: str = "") -> None:
    """GitHub's request-schema check: the first complaint, in its words."""
    if required and required not in body:
        raise _ApiError(422, f'Invalid request.\n\n"{required}" wasn\'t supplied.')
    for name, kind in fields.items():
        if name in body and not kind.accepts(body[name]):
            value = json.dumps(body[name])
            raise _ApiError(
                422, f"Invalid request.\n\nFor 'properties/{name}', {value} is not {kind.name}."
            )


def _invalid(field_name: str, message: str) -> dict[str, str]:
    return {
        "resource": "DeploymentStatus",
        "code": "custom",
        "field": field_name,
        "message": message,
    }


def _too_long(field_name: str, text: str | None, limit: int) -> list[dict[str, str]]:
    if text is None or len(text) <= limit:
        return []
    return [_invalid(field_name, f"{field_name} is too long (maximum is {limit} characters)")]


def _not_http(field_name: str, url: str | None) -> list[dict[str, str]]:
    if not url or url.startswith("http"):
        return []
    return [_invalid(field_name, f"{field_name} must use http(s) scheme")]


def _error(status: int, message: str, docs: str, errors: Sequence[Mapping[str, Any]] = ()) -> Reply:
    """GitHub's error body: message, errors when there are some, documentation link, status."""
    body: dict[str, Any] = {"message": message}
    if errors:
        body["errors"] = list(errors)
    body.update(documentation_url=docs, status=str(status))
    return Reply.json(status, body)


def _node_id(prefix: str, ident: int) -> str:
    return f"{prefix}_kwDO{base64.urlsafe_b64encode(ident.to_bytes(8, 'big')).decode().rstrip('=')}"


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
