"""Outcomes of Heroku targets turned into what users see: statuses, the failure line, outputs
and the summary's shared pieces (targets table, code changes, failures)."""

from __future__ import annotations

from promote_action.context import RunContext
from promote_action.operations.heroku.targets import TargetOutcome, TargetPlan
from promote_action.report import markdown as md
from promote_action.report.common import (
    COMMIT_SHA,
    compact_json,
    heroku_app_link,
    status_cell,
    version,
)
from promote_action.status import SETTLED_OK, Status
from promote_action.waiting import format_duration


def overall_status(outcomes: list[TargetOutcome]) -> Status:
    """Green only from green parts: a target in any other state (pending, not started, rolled
    back) makes the run failed, never succeeded."""
    statuses = {o.status for o in outcomes}
    for status in (Status.CANCELLED, Status.FAILED, Status.TIMED_OUT):
        if status in statuses:
            return status
    if statuses <= {Status.UNCHANGED}:
        return Status.UNCHANGED
    if statuses <= {Status.SUCCEEDED, Status.UNCHANGED}:
        return Status.SUCCEEDED
    if statuses <= SETTLED_OK:
        return Status.CREATED
    return Status.FAILED


def failure_line(outcomes: list[TargetOutcome], started: str | None = None) -> str | None:
    """One line: what failed, and what was changed anyway (nothing partial left silently).
    `started` names a change under way whose releases are not known yet (a promotion)."""
    bad = [o for o in outcomes if o.status not in SETTLED_OK]
    if not bad:
        return None
    changed = [
        f"{o.plan.app.name} v{o.release.version} ({o.status})" for o in outcomes if o.release
    ]
    reasons = "; ".join(
        f"{o.plan.app.name}: {o.error or o.status}"
        + (f" (rollback: {o.rollback})" if o.rollback else "")
        for o in bad
    )
    created = f"Releases created: {', '.join(changed) or 'none'}"
    if started:
        created = f"{created}. {started}" if changed else started
    return f"{reasons}. {created}"


def target_results(
    targets: list[TargetPlan], outcomes: list[TargetOutcome] | None
) -> list[dict[str, object]]:
    """The `result` output's per-target entries; planned targets when nothing ran."""
    by_app = {o.plan.app.id: o for o in outcomes or []}
    results: list[dict[str, object]] = []
    for target in targets:
        outcome = by_app.get(target.app.id)
        release = outcome.release if outcome else None
        duration = outcome.duration if outcome else None
        planned = Status.PLANNED if target.change else Status.UNCHANGED
        results.append(
            {
                "app": target.app.name,
                "app_id": target.app.id,
                "status": outcome.status if outcome else planned,
                "release_id": release.id if release else None,
                "release_version": release.version if release else None,
                "previous_version": target.current_version,
                "error": outcome.error if outcome else None,
                "duration_seconds": round(duration, 3) if duration is not None else None,
                "health": outcome.health if outcome else None,
                "rollback": outcome.rollback if outcome else None,
                "rollback_release_version": (
                    outcome.rollback_release.version
                    if outcome and outcome.rollback_release
                    else None
                ),
                "adopted": outcome.adopted if outcome else False,
            }
        )
    return results


def per_target_outputs(outcomes: list[TargetOutcome]) -> dict[str, str]:
    """A JSON object by app name, one target too (`{}` when nothing was released): a workflow
    reads `fromJSON(...)[app]` without knowing how many targets a run had."""
    released = [(o.plan.app.name, o.release) for o in outcomes if o.release]
    return {
        "release-id": compact_json({name: r.id for name, r in released}),
        "release-version": compact_json({name: r.version for name, r in released}),
    }


def environment_url(targets: list[TargetPlan], outcomes: list[TargetOutcome] | None) -> str | None:
    """The web URL of the first target that is live, else of the first target."""
    live = [o.plan.app.web_url for o in outcomes or [] if o.status == Status.SUCCEEDED]
    return next((url for url in [*live, *(t.app.web_url for t in targets)] if url), None)


def targets_table(
    targets: list[TargetPlan], outcomes: list[TargetOutcome] | None, planned: str
) -> str:
    by_app = {o.plan.app.id: o for o in outcomes or []}
    rows = []
    for target in targets:
        outcome = by_app.get(target.app.id)
        if outcome is None:
            after = planned if target.change else "already runs it"
            target_status = Status.PLANNED if target.change else Status.UNCHANGED
            duration = "—"
        else:
            after = version(outcome.release.version) if outcome.release else "—"
            if outcome.rollback_release is not None:
                # What the app runs now, not only the release that failed.
                now = version(outcome.rollback_release.version)
                after += f", rolled back: {now} (= {version(target.current_version)})"
            target_status = outcome.status
            duration = format_duration(outcome.duration) if outcome.duration is not None else "—"
        rows.append(
            [
                heroku_app_link(target.app.name),
                version(target.current_version),
                after,
                status_cell(target_status),
                duration,
            ]
        )
    return md.table(["Target", "Before", "After", "Status", "Duration"], rows)


def compare_links(commit: str | None, targets: list[TargetPlan], run: RunContext) -> list[str]:
    """What changes in code, per target, when the repository is known (GitHub compare)."""
    if not (commit and run.repository and COMMIT_SHA.match(commit)):
        return []
    links = []
    for target in targets:
        old = target.current_commit
        if old and old != commit and COMMIT_SHA.match(old):
            url = f"{run.server_url}/{run.repository}/compare/{old}...{commit}"
            links.append(f"- {md.text(target.app.name)}: [{old[:7]}...{commit[:7]}]({url})")
    return ["**Code changes:**\n" + "\n".join(links)] if links else []


def failures(outcomes: list[TargetOutcome] | None) -> list[str]:
    """Per failed target: the error, the rollback, and the release-phase output's last lines."""
    blocks: list[str] = []
    for outcome in outcomes or []:
        if outcome.error:
            blocks.append(f"**{md.text(outcome.plan.app.name)}:** {md.text(outcome.error)}")
            if outcome.rollback:
                blocks.append(f"↩️ Rollback: {md.text(outcome.rollback)}")
            if outcome.output_tail:
                tail = md.code_block("\n".join(outcome.output_tail))
                blocks.append(md.details("Release-phase output (last lines)", tail))
    return blocks


def adopted_notes(outcomes: list[TargetOutcome] | None) -> list[str]:
    """Releases this run followed but did not create: the report must not claim them."""
    return [
        f"🔁 {heroku_app_link(o.plan.app.name)}: release v{o.release.version} of this slug was "
        "already in progress (another run?); it was followed, not created again."
        for o in outcomes or []
        if o.adopted and o.release
    ]
