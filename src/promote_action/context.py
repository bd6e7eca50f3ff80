"""What the run knows about the workflow around it (for descriptions and links), from env."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class RunContext:
    repository: str | None = None
    run_id: str | None = None
    sha: str | None = None
    server_url: str = "https://github.com"
    workspace: str | None = None
    """GITHUB_WORKSPACE: where files the action reads or writes live (None: the working
    directory)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> RunContext:
        return cls(
            repository=environ.get("GITHUB_REPOSITORY") or None,
            run_id=environ.get("GITHUB_RUN_ID") or None,
            sha=environ.get("GITHUB_SHA") or None,
            server_url=(environ.get("GITHUB_SERVER_URL") or "https://github.com").rstrip("/"),
            workspace=environ.get("GITHUB_WORKSPACE") or None,
        )

    @property
    def run_url(self) -> str | None:
        if self.repository and self.run_id:
            return f"{self.server_url}/{self.repository}/actions/runs/{self.run_id}"
        return None
