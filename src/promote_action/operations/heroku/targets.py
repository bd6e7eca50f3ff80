"""A Heroku target as planned (what it runs before any write) and as it ends (its outcome).

slug-copy and pipeline-promote share these: both plan targets the same way, and from the moment a
target has a new release both follow it the same way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from pydantic import BaseModel

from promote_action.heroku.models import App, Release
from promote_action.inputs.plan_fields import AppName, HttpUrl, Id, RemoteText, Stack, Version
from promote_action.status import Status


class AppRef(BaseModel):
    id: Id
    name: AppName
    web_url: HttpUrl | None = None

    @classmethod
    def of(cls, app: App) -> AppRef:
        return cls(id=app.id, name=app.name, web_url=app.web_url)


class TargetPlan(BaseModel):
    """A target as found before any write: what it runs now."""

    app: AppRef
    current_release_id: Id | None
    current_version: Version | None
    current_slug_id: Id | None
    current_commit: RemoteText | None = None
    stack: Stack | None
    pending_version: Version | None = None
    """A release still in its release phase on the target when the plan was made."""
    pending_release_id: Id | None = None
    pending_slug_id: Id | None = None
    """The pending release and its slug: of the slug we deploy, it is another run's release
    of the same change, to adopt instead of releasing twice."""
    newest_version: Version | None = None
    """The target's newest release (any status) at plan time: anything newer is ours."""
    change: bool = True
    """False when the target already runs what would be deployed: nothing to do."""

    def pending_release_of(self, slug_id: str) -> str | None:
        """The id of a release of `slug_id` pending here, newer than what the target runs:
        another run's release of the same change, to adopt rather than release twice."""
        if self.pending_release_id is None or self.pending_slug_id != slug_id:
            return None
        if (self.pending_version or 0) <= (self.current_version or 0):
            return None
        return self.pending_release_id


@dataclass
class TargetOutcome:
    """Progress of one target; written by its worker thread, read by the reporter."""

    plan: TargetPlan
    status: Status = Status.NOT_STARTED
    release: Release | None = None
    error: str | None = None
    output_tail: list[str] = field(default_factory=list)
    started: float | None = None
    finished: float | None = None
    health: str | None = None
    """What the health check saw, when one ran."""
    rollback: str | None = None
    """What the rollback did, when one was needed."""
    adopted: bool = False
    """The release is another run's release of the same slug, followed instead of a new one."""
    rollback_release: Release | None = None
    """The release a successful rollback created: what the app runs now."""

    @property
    def rolled_back(self) -> bool:
        """The rollback succeeded: the target runs its previous release again."""
        return self.rollback_release is not None

    @property
    def duration(self) -> float | None:
        if self.started is None:
            return None
        return (self.finished or time.monotonic()) - self.started

    @property
    def log_title(self) -> str:
        version = f" v{self.release.version}" if self.release else ""
        return f"Release phase: {self.plan.app.name}{version}"
