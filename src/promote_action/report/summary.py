"""Job summaries rendered from an operation's plan and outcomes (templates, not glue in logic).

Every value that came from a remote service or an input goes through `markdown.text/code/link`.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from promote_action.context import RunContext
from promote_action.report import markdown as md
from promote_action.waiting import format_duration

if TYPE_CHECKING:
    from promote_action.operations.connect import ConnectOutcome, ConnectPlan
    from promote_action.operations.heroku_releases import TargetOutcome, TargetPlan
    from promote_action.operations.kintone_deploy import KintoneOutcome, KintonePlan
    from promote_action.operations.pipeline_promote import PromotionPlan
    from promote_action.operations.slug_copy import SlugCopyPlan

STATUS_ICONS = {
    "succeeded": "✅",
    "unchanged": "✅",
    "created": "🟡",
    "planned": "📝",
    "drifted": "🚫",
    "dry-run": "📝",
    "pending": "⏳",
    "failed": "❌",
    "timed-out": "⌛",
    "cancelled": "🛑",
    "not-started": "⏸️",
    "rolled back": "↩️",
}


COMMIT_SHA = re.compile(r"^[0-9a-f]{7,40}$")
"""Slug commits are free text set through the API: only a real SHA goes into a link."""


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
        f"**Source:** {_app_link(source.app.name)} {what}"
        + _commit(source.commit, source.commit_description),
        f"**Slug:** {md.code(source.slug_id)} · **Description:** {md.text(plan.description)}",
        "",
    ]
    if outcomes is None:
        lines += [DRY_RUN, ""]
    lines.append(_targets_table(plan.targets, outcomes, "would release"))
    lines += _findings(plan.findings)
    lines += _compare_links(source.commit, plan.targets, run)
    lines += _failures(outcomes)
    lines += ["", _footer(requests, run)]
    return "\n".join(lines)


def pipeline_promote(
    plan: PromotionPlan,
    outcomes: list[TargetOutcome] | None,
    status: str,
    requests: int,
    run: RunContext,
) -> str:
    source = plan.source
    pipeline = md.text(plan.pipeline.name or plan.pipeline.id)
    lines = [
        f"## {STATUS_ICONS.get(status, '❔')} Heroku pipeline promotion: {md.text(status)}",
        "",
        f"**Pipeline:** {pipeline} · **Source:** {_app_link(source.app.name)} "
        f"({md.text(source.stage)}) {_version(source.version)}"
        + _commit(source.commit, source.commit_description),
        "",
    ]
    if outcomes is None:
        lines += [DRY_RUN, ""]
    lines.append(_targets_table(plan.targets, outcomes, f"would get {_version(source.version)}"))
    lines += _findings(plan.findings)
    lines += _compare_links(source.commit, plan.targets, run)
    lines += _failures(outcomes)
    lines += ["", "### Pipeline", "", _pipeline_map(plan, outcomes)]
    lines += ["", _footer(requests, run)]
    return "\n".join(lines)


DRY_RUN = "*Dry run: nothing was changed. This is what a run would do:*"


def _targets_table(
    targets: list[TargetPlan], outcomes: list[TargetOutcome] | None, planned: str
) -> str:
    by_app = {o.plan.app.id: o for o in outcomes or []}
    rows = []
    for target in targets:
        outcome = by_app.get(target.app.id)
        if outcome is None:
            after = planned if target.change else "already runs it"
            target_status = "planned" if target.change else "unchanged"
            duration = "—"
        else:
            after = _version(outcome.release.version) if outcome.release else "—"
            target_status = outcome.status
            duration = format_duration(outcome.duration) if outcome.duration is not None else "—"
        rows.append(
            [
                _app_link(target.app.name),
                _version(target.current_version),
                after,
                status_cell(target_status),
                duration,
            ]
        )
    return md.table(["Target", "Before", "After", "Status", "Duration"], rows)


def _pipeline_map(plan: PromotionPlan, outcomes: list[TargetOutcome] | None) -> str:
    """Stage -> apps with versions before and after, so reviewers see the whole pipeline."""
    released = {o.plan.app.id: o for o in outcomes or [] if o.release}
    rows = []
    for entry in plan.stages:
        outcome = released.get(entry.app.id)
        after = _version(outcome.release.version) if outcome and outcome.release else "unchanged"
        if outcome:
            after += f" {STATUS_ICONS.get(outcome.status, '❔')}"
        role = " (source)" if entry.app.id == plan.source.app.id else ""
        rows.append(
            [md.text(entry.stage), _app_link(entry.app.name) + role, _version(entry.version), after]
        )
    table = md.table(["Stage", "App", "Before", "After"], rows)
    if plan.review_apps:
        table += f"\n\n{plan.review_apps} review app(s) not shown."
    return table


def _findings(findings: list[str]) -> list[str]:
    if not findings:
        return []
    return ["", "**Pre-flight findings:**", *(f"- ⚠️ {md.text(f)}" for f in findings)]


def _compare_links(commit: str | None, targets: list[TargetPlan], run: RunContext) -> list[str]:
    """What changes in code, per target, when the repository is known (GitHub compare)."""
    if not (commit and run.repository and COMMIT_SHA.match(commit)):
        return []
    links = []
    for target in targets:
        old = target.current_commit
        if old and old != commit and COMMIT_SHA.match(old):
            url = f"{run.server_url}/{run.repository}/compare/{old}...{commit}"
            links.append(f"- {md.text(target.app.name)}: [{old[:7]}...{commit[:7]}]({url})")
    return ["", "**Code changes:**", *links] if links else []


def _failures(outcomes: list[TargetOutcome] | None) -> list[str]:
    lines: list[str] = []
    for outcome in outcomes or []:
        if outcome.error:
            lines += ["", f"**{md.text(outcome.plan.app.name)}:** {md.text(outcome.error)}"]
            if outcome.rollback:
                lines += ["", f"↩️ Rollback: {md.text(outcome.rollback)}"]
            if outcome.output_tail:
                tail = md.code_block("\n".join(outcome.output_tail))
                lines += ["", md.details("Release-phase output (last lines)", tail)]
    return lines


def _commit(commit: str | None, description: str | None) -> str:
    text = f" · commit {md.code(commit[:7])}" if commit else ""
    return text + (f" {md.text(description)}" if description else "")


def _footer(requests: int, run: RunContext, platform: str = "Heroku") -> str:
    footer = f"{platform} API requests: {requests}"
    if run.run_url:
        footer += f" · [workflow run]({run.run_url})"
    return f"<sub>{footer}</sub>"


def _app_link(app_name: str) -> str:
    return md.link(app_name, _dashboard(app_name))


def _dashboard(app_name: str) -> str:
    return f"https://dashboard.heroku.com/apps/{app_name}/activity"


def slug_copy_plan_lines(plan: SlugCopyPlan, run: RunContext) -> list[str]:
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


def promotion_plan_lines(plan: PromotionPlan) -> list[str]:
    source = plan.source
    commit = f" commit {source.commit[:7]}" if source.commit else ""
    lines = [
        f"pipeline: {plan.pipeline.name or plan.pipeline.id} ({plan.pipeline.id})",
        f"source: {source.app.name} ({source.stage}) v{source.version}{commit}",
    ]
    for target in plan.targets:
        action = "promote" if target.change else "already runs this slug, no change"
        lines.append(f"target: {target.app.name} {_version(target.current_version)}: {action}")
    return lines


def kintone_plan_lines(plan: KintonePlan) -> list[str]:
    action = "revert (discard preview changes)" if plan.revert else "deploy"
    space = f" in guest space {plan.guest_space_id}" if plan.guest_space_id else ""
    lines = [f"kintone {action} on {plan.base_url}{space}, {plan.auth_method} auth"]
    for app in plan.apps:
        change = (
            f"preview revision {app.preview_revision} -> production (now {app.live_revision})"
            if app.change
            else f"no pending changes (revision {app.live_revision})"
        )
        lines.append(f"app {app.app} {app.name}: {change}")
        lines += [f"  {difference}" for difference in app.differences]
    return lines


def kintone_deploy(
    plan: KintonePlan,
    outcome: KintoneOutcome | None,
    *,
    status: str,
    apps: list[dict[str, object]],
    requests: int,
    run: RunContext,
) -> str:
    action = "revert of preview changes" if plan.revert else "deploy"
    lines = [
        f"## {STATUS_ICONS.get(status, '❔')} kintone {action}: {md.text(status)}",
        "",
        f"**Domain:** {md.text(plan.base_url)}"
        + (f" · guest space {plan.guest_space_id}" if plan.guest_space_id else "")
        + f" · {md.text(plan.auth_method)} auth",
        "",
    ]
    if outcome is None:
        lines += [DRY_RUN, ""]
    rows = []
    for app, result in zip(plan.apps, apps, strict=True):
        after = result["live_revision_after"]
        rows.append(
            [
                md.link(app.app, app.url),
                md.text(app.name),
                str(app.live_revision),
                str(app.preview_revision) if app.change else "—",
                str(after) if after is not None else "—",
                status_cell(str(result["status"])),
            ]
        )
    table = md.table(["App", "Name", "Live before", "Deploying", "Live after", "Status"], rows)
    lines.append(table if len(rows) <= 30 else md.details(f"{len(rows)} apps", table))
    changes = [
        f"- app {md.text(app.app)} {md.text(app.name)}: "
        + "; ".join(md.text(d) for d in app.differences)
        for app in plan.apps
        if app.differences
    ]
    if changes:
        lines += [
            "",
            md.details("What the deploy changes (preview vs production)", "\n".join(changes)),
        ]
    if outcome and outcome.error:
        lines += ["", f"**Failure:** {md.text(outcome.error)}"]
    lines += [
        "",
        "> kintone has no API to roll production back to earlier settings: a failed deploy is "
        "undone by kintone itself (all-or-nothing), but a successful one can only be reverted "
        "by deploying the old settings again.",
        "",
        _footer(requests, run, "kintone"),
    ]
    return "\n".join(lines)


CONNECT_TITLES = {
    "connect-promote": "Heroku Connect mapping promotion",
    "connect-pause": "Heroku Connect pause",
    "connect-resume": "Heroku Connect resume",
    "connect-check": "Heroku Connect health check",
}


def connect_plan_lines(plan: ConnectPlan) -> list[str]:
    target = plan.target
    lines = [
        f"target: {target.app} connection {target.resource_name} ({target.state})",
        f"source: {plan.source}",
    ]
    if not plan.changes:
        lines.append("the target already has the source configuration")
    for change in plan.changes:
        lines.append(f"{change.change}: {change.object_name} {'; '.join(change.details)}".rstrip())
    return lines


def connect(
    plan: ConnectPlan,
    outcome: ConnectOutcome | None,
    *,
    status: str,
    requests: int,
    run: RunContext,
) -> str:
    target = plan.target
    connection = outcome.connection if outcome else None
    state = connection.state if connection else target.state
    lines = [
        f"## {STATUS_ICONS.get(status, '❔')} {CONNECT_TITLES[plan.operation]}: {md.text(status)}",
        "",
        f"**App:** {_app_link(target.app)} · **Connection:** {md.text(target.resource_name)} · "
        f"**State:** {md.text(target.state)}"
        + (f" -> {md.text(state)}" if state != target.state else ""),
        "",
    ]
    if outcome is None:
        lines += [DRY_RUN, ""]
    if plan.operation == "connect-promote":
        lines += [f"**Source:** {md.text(plan.source)}", ""]
        rows = [
            [md.text(c.object_name), md.text(c.change), md.text("; ".join(c.details)) or "—"]
            for c in plan.changes
        ]
        lines.append(
            md.table(["Object", "Change", "Details"], rows)
            if rows
            else "*The target already has the source configuration.*"
        )
        lines.append("")
    if connection and connection.mappings:
        rows = [
            [
                md.text(m.object_name),
                md.text(m.state),
                *(
                    str(v) if v is not None else "—"
                    for v in (m.counts.db, m.counts.sf, m.counts.errors)
                ),
            ]
            for m in connection.mappings
        ]
        lines += [md.table(["Object", "State", "Rows (db)", "Rows (sf)", "Errors"], rows), ""]
    if outcome and outcome.diagnosis:
        d = outcome.diagnosis
        lines.append(
            f"**Diagnosis:** {len(d.all_errors())} error(s), {len(d.warnings)} warning(s), "
            f"{len(d.passes)} passed, {len(d.skips)} skipped"
        )
        for item in d.all_errors():
            text = item.get("display_name") or item.get("rule_id") or "error"
            lines.append(f"- ❌ {md.text(text)}: {md.text(item.get('message', ''))}")
        lines.append("")
    if outcome and outcome.write_errors is not None:
        lines += [f"**Write errors (last 24 h):** {outcome.write_errors.count}", ""]
    if outcome and outcome.error:
        lines += [f"**Failure:** {md.text(outcome.error)}", ""]
    lines.append(_footer(requests, run, "Heroku Connect"))
    return "\n".join(lines)
