"""What a run reports, as data: the runner composes it, the entrypoint publishes it.

A summary is kept as blocks until it is published, so the runner can add a refusal or a note
to what an operation rendered without patching rendered Markdown.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from promote_action.errors import EXIT_OK
from promote_action.report import markdown as md
from promote_action.status import Status


@dataclass(frozen=True)
class Summary:
    """A job summary: a heading with the status, then blocks of escaped Markdown."""

    title: str
    status: Status
    blocks: tuple[str, ...] = ()
    footer: str | None = None
    label: str | None = None
    """Shown instead of the status word in the heading (`input error`)."""

    def add(self, *blocks: str) -> Summary:
        return replace(self, blocks=self.blocks + blocks)

    def render(self) -> str:
        heading = f"## {self.status.icon} {self.title}: {md.text(self.label or self.status)}"
        parts = [heading, *self.blocks]
        if self.footer:
            parts.append(self.footer)
        return "\n\n".join(parts)


@dataclass(frozen=True)
class Result:
    """What an operation hands the runner: its status, outputs, summary and failure line."""

    status: Status
    outputs: dict[str, str]
    summary: Summary
    failure: str | None = None
    """One line naming what failed and what was changed anyway; None on success."""
    environment_url: str | None = None
    """Where the deployed thing can be seen (an app's web URL): GitHub's environment URL."""


@dataclass(frozen=True)
class Report:
    """The run's end state as the entrypoint publishes it: outputs, summary, exit code."""

    status: Status
    outputs: dict[str, str]
    summary: Summary
    failure: str | None = None
    exit_code: int = EXIT_OK
    environment_url: str | None = None

    @property
    def markdown(self) -> str:
        return self.summary.render()
