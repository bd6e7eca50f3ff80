"""GitHub deployments and sticky pull-request comments, opt-in with `github-token`.

PyGithub is imported only here and only when a token is given (about 130 ms of start-up
otherwise saved), with its default pauses between requests and writes turned off: they would
add seconds to every deploy. GitHub is the deploy's witness, not its gate: a GitHub write that
fails is a warning, never a failed deploy.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promote_action.context import RunContext
from promote_action.inputs import Inputs, reveal
from promote_action.report.model import Report

if TYPE_CHECKING:
    from github.Deployment import Deployment
    from github.Repository import Repository

log = logging.getLogger("promote_action.github")

COMMENT_LIMIT = 65_000
"""GitHub refuses comment bodies over 65,536 characters."""
DEFAULT_BOT = "github-actions[bot]"
STATES = {
    "succeeded": "success",
    "unchanged": "success",
    "created": "success",
    "cancelled": "error",
}


@dataclass(frozen=True)
class GitHubEvent:
    """What the workflow run says about itself: repository, commit, pull request."""

    api_url: str
    repository: str
    sha: str
    pull_number: int | None

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> GitHubEvent | None:
        repository = environ.get("GITHUB_REPOSITORY")
        if not repository:
            return None
        sha, pull = environ.get("GITHUB_SHA", ""), None
        event_path = environ.get("GITHUB_EVENT_PATH")
        if event_path and environ.get("GITHUB_EVENT_NAME", "").startswith("pull_request"):
            try:
                event = json.loads(Path(event_path).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                event = {}
            pr = event.get("pull_request") or {}
            pull = pr.get("number") or event.get("number")
            # A pull_request run's GITHUB_SHA is a merge commit; deploy the head that was tested.
            sha = (pr.get("head") or {}).get("sha") or sha
        api_url = (environ.get("GITHUB_API_URL") or "https://api.github.com").rstrip("/")
        return cls(api_url, repository, sha, int(pull) if pull else None)


class GitHubDelivery:
    def __init__(self, token: str, event: GitHubEvent, inputs: Inputs, run: RunContext) -> None:
        from github import Auth, Github  # noqa: PLC0415 - PyGithub only when a token is given

        self.event = event
        self.inputs = inputs
        self.run = run
        self.environment = inputs.environment or "production"
        self.github = Github(
            auth=Auth.Token(token),
            base_url=event.api_url,
            timeout=15,
            seconds_between_requests=0,
            seconds_between_writes=0,
            retry=3,
            lazy=True,
        )
        self.repo: Repository = self.github.get_repo(event.repository)
        self.deployment: Deployment | None = None

    @classmethod
    def create(
        cls, inputs: Inputs, environ: Mapping[str, str], run: RunContext
    ) -> GitHubDelivery | None:
        if not inputs.github_token:
            return None
        event = GitHubEvent.from_env(environ)
        if event is None:
            log.warning(
                "github-token is set but GITHUB_REPOSITORY is not: nothing is written to GitHub"
            )
            return None
        return cls(reveal(inputs.github_token), event, inputs, run)

    def start(self, operation: str) -> None:
        """A deployment for the environment, marked in progress, before anything changes."""
        try:
            options: dict[str, Any] = {}
            if self.inputs.production_environment is not None:
                options["production_environment"] = self.inputs.production_environment
            self.deployment = self.repo.create_deployment(
                ref=self.event.sha,
                task="deploy",
                auto_merge=False,
                required_contexts=[],
                environment=self.environment,
                description=f"promote-action {operation}"[:140],
                transient_environment=self.inputs.transient_environment,
                payload={"operation": operation},
                **options,
            )
            self.deployment.create_status(
                "in_progress", target_url=self.run.run_url or "", description="deploying"
            )
            log.info("GitHub deployment %s for %s", self.deployment.id, self.environment)
        except Exception as exc:
            log.warning("GitHub deployment not created: %s", _describe(exc))
            self.deployment = None

    def progress(self, description: str) -> None:
        """A further `in_progress` status saying where the deploy is (e.g. its wave)."""
        if self.deployment is None:
            return
        try:
            self.deployment.create_status(
                "in_progress", target_url=self.run.run_url or "", description=description[:140]
            )
        except Exception as exc:
            log.warning("GitHub deployment status not written: %s", _describe(exc))

    def finish(self, report: Report) -> dict[str, str]:
        """The deployment's final status, and the sticky comment on a pull request."""
        outputs: dict[str, str] = {}
        if self.deployment is not None:
            state = STATES.get(report.status, "failure")
            description = (report.failure or f"{report.status}")[:140]
            try:
                self.deployment.create_status(
                    state,
                    target_url=self.run.run_url or "",
                    description=description,
                    environment_url=report.environment_url or "",
                    auto_inactive=True,
                )
            except Exception as exc:
                log.warning("GitHub deployment status not written: %s", _describe(exc))
            outputs["deployment-id"] = str(self.deployment.id)
        if self.event.pull_number is not None:
            self._sticky_comment(self.event.pull_number, report.markdown)
        return outputs

    def _sticky_comment(self, number: int, summary: str) -> None:
        """One comment per environment, found by a hidden marker and edited in place."""
        marker = f"<!-- promote-action:{_marker_safe(self.environment)} -->"
        body = f"{marker}\n{summary}"
        if len(body) > COMMENT_LIMIT:
            body = body[:COMMENT_LIMIT] + "\n\n*Truncated: see the job summary.*"
        try:
            issue = self.repo.get_issue(number)
            mine = self._login()
            existing = next(
                (
                    c
                    for c in issue.get_comments()
                    if c.body.startswith(marker) and c.user.login == mine
                ),
                None,
            )
            if existing is None:
                issue.create_comment(body)
            else:
                existing.edit(body)
        except Exception as exc:
            log.warning("pull request comment not written: %s", _describe(exc))

    def _login(self) -> str:
        """The token's own login: workflow tokens may not read /user, and are the bot."""
        try:
            return str(self.github.get_user().login)
        except Exception:
            return DEFAULT_BOT


def _marker_safe(environment: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in environment)


def _describe(exc: Exception) -> str:
    """GitHub's status and message, or the kind of network failure (never its URL)."""
    status = getattr(exc, "status", None)
    if status is None:
        return type(exc).__name__
    data = getattr(exc, "data", None)
    message = data.get("message") if isinstance(data, dict) else ""
    return f"HTTP {status} {message}".strip()
