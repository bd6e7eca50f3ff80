"""Rendering shared by every operation's summary: status cells, versions, links, footers.

Every value that came from a remote service or an input goes through `markdown.text/code/link`.
This module imports no operation: each operation renders its own section from these pieces.
"""

from __future__ import annotations

import json
import re

from promote_action.context import RunContext
from promote_action.report import markdown as md
from promote_action.status import Status

DRY_RUN = "*Dry run: nothing was changed. This is what a run would do:*"

COMMIT_SHA = re.compile(r"^[0-9a-f]{7,40}$")
"""Slug commits are free text set through the API: only a real SHA goes into a link."""


def compact_json(value: object) -> str:
    """Outputs are JSON on one line, so no value can inject another output."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def status_cell(status: Status) -> str:
    return f"{status.icon} {md.text(status)}"


def version(number: int | None) -> str:
    return f"v{number}" if number is not None else "—"


def findings(found: list[str]) -> list[str]:
    """Pre-flight findings as one block, none when there are none."""
    if not found:
        return []
    return ["**Pre-flight findings:**\n" + "\n".join(f"- ⚠️ {md.text(f)}" for f in found)]


def commit(sha: str | None, description: str | None) -> str:
    text = f" · commit {md.code(sha[:7])}" if sha else ""
    return text + (f" {md.text(description)}" if description else "")


def footer(requests: int, run: RunContext, platform: str = "Heroku") -> str:
    line = f"{platform} API requests: {requests}"
    if run.run_url:
        line += f" · [workflow run]({run.run_url})"
    return f"<sub>{line}</sub>"


def heroku_app_link(app_name: str) -> str:
    return md.link(app_name, f"https://dashboard.heroku.com/apps/{app_name}/activity")
