"""Job summaries rendered from an operation's plan and outcomes (templates, not glue in logic).

Every value that came from a remote service or an input goes through `markdown.text/code/link`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from promote_action.context import RunContext
from promote_action.report import markdown as md
from promote_action.waiting import format_duration

if TYPE_CHECKING:
    from promote_action.operations.heroku_releases import TargetOutcome
    from promote_action.operations.slug_copy import SlugCopyPlan

STATUS_ICONS = {
    "succeeded": "✅",
    "unchanged": "✅",
    "created": "🟡",
    "planned": "📝",
    "dry-run": "📝",
    "pending": "⏳",
    "failed": "❌",
    "timed-out": "⌛",
    "cancelled": "🛑",
    "not-started": "⏸️",
}


def compact_json(value: object) -> str:
    """Outputs are JSON on one line, so no value can inject another output."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def status_cell(status: str) -> str:
    return f"{STATUS_ICONS.get(status, '❔')} {md.text(status)}"


def _version(version: int | None) -> str:
    return f"v{version}" if version is not None else "—"


def slug_copy(
    plan: SlugCopyPlan,
    outcomes: list[TargetOutcome] | None,
    status: str,
    requests: int,
    run: RunContext,
) -> str:
    source = plan.source
    what = _version(source.version) if source.version else f"slug {md.code(source.slug_id[:8])}"
    lines = [
        f"## {STATUS_ICONS.get(status, '❔')} Heroku slug copy: {md.text(status)}",
        "",
        f"**Source:** {md.link(source.app.name, _dashboard(source.app.name))} {what}"
        + (f" · commit {md.code(source.commit[:7])}" if source.commit else "")
        + (f" {md.text(source.commit_description)}" if source.commit_description else ""),
        f"**Slug:** {md.code(source.slug_id)} · **Description:** {md.text(plan.description)}",
        "",
    ]
    if outcomes is None:
        lines += ["*Dry run: nothing was changed. This is what a run would do:*", ""]
    by_app = {o.plan.app.id: o for o in outcomes or []}
    rows = []
    for target in plan.targets:
        outcome = by_app.get(target.app.id)
        release = outcome.release if outcome else None
        if outcome is None:
            after = "would release" if target.change else "already runs this slug"
            target_status = "planned" if target.change else "unchanged"
            duration = "—"
        else:
            after = _version(release.version) if release else "—"
            target_status = outcome.status
            duration = format_duration(outcome.duration) if outcome.duration is not None else "—"
        rows.append(
            [
                md.link(target.app.name, _dashboard(target.app.name)),
                _version(target.current_version),
                after,
                status_cell(target_status),
                duration,
            ]
        )
    lines.append(md.table(["Target", "Before", "After", "Status", "Duration"], rows))
    for warning in plan.warnings:
        lines += ["", f"> ⚠️ {md.text(warning)}"]
    for outcome in outcomes or []:
        if outcome.error:
            lines += ["", f"**{md.text(outcome.plan.app.name)}:** {md.text(outcome.error)}"]
            if outcome.output_tail:
                lines += [
                    "",
                    md.details(
                        "Release-phase output (last lines)",
                        md.code_block("\n".join(outcome.output_tail)),
                    ),
                ]
    footer = f"Heroku API requests: {requests}"
    if run.run_url:
        footer += f" · [workflow run]({run.run_url})"
    lines += ["", f"<sub>{footer}</sub>"]
    return "\n".join(lines)


def _dashboard(app_name: str) -> str:
    return f"https://dashboard.heroku.com/apps/{app_name}/activity"


def slug_copy_plan_lines(plan: SlugCopyPlan) -> list[str]:
    """The plan as log lines, printed before any write so the log shows intent first."""
    source = plan.source
    what = _version(source.version) if source.version else f"slug {source.slug_id}"
    commit = f" commit {source.commit[:7]}" if source.commit else ""
    lines = [f"source: {source.app.name} {what}{commit} (slug {source.slug_id})"]
    for target in plan.targets:
        before = _version(target.current_version)
        action = "release the slug" if target.change else "already runs this slug, no change"
        lines.append(f"target: {target.app.name} {before}: {action}")
    return lines
