"""slug-copy: release the slug of a source app's release on other apps, without a rebuild.

Plan (read-only): resolve the source release (newest succeeded one with a slug, or the pinned
release or slug) and each target's current release. Apply: one `POST /apps/{target}/releases`
per target that does not already run the slug, then follow each new release through its
release phase and verify that the target's current release carries the slug.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Annotated, Any

from pydantic import BaseModel, Field

from promote_action.context import RunContext
from promote_action.errors import RemoteError, UsageError
from promote_action.heroku.models import App, Release
from promote_action.inputs import Inputs
from promote_action.inputs.plan_fields import Description, Findings, Id, RemoteText, Stack, Version
from promote_action.inputs.validators import MAX_TARGETS
from promote_action.operations.base import Services, read_all, write_once
from promote_action.operations.heroku.follower import ReleaseFollower, run_per_target
from promote_action.operations.heroku.planning import (
    connect,
    no_slug,
    pinned_release,
    preflight,
    resolve_app,
    target_drift,
    target_plan,
)
from promote_action.operations.heroku.results import (
    adopted_notes,
    compare_links,
    environment_url,
    failure_line,
    failures,
    overall_status,
    per_target_outputs,
    target_results,
    targets_table,
)
from promote_action.operations.heroku.targets import AppRef, TargetOutcome, TargetPlan
from promote_action.operations.heroku.waves import (
    Wave,
    WaveRun,
    WaveRunner,
    WhenLive,
    check_wave_inputs,
    pinned_waves,
    plan_waves,
    wave_lines,
    waves_output,
    waves_section,
)
from promote_action.report import markdown as md
from promote_action.report.common import (
    DRY_RUN,
    commit,
    compact_json,
    findings,
    footer,
    heroku_app_link,
    version,
)
from promote_action.report.model import Result, Summary
from promote_action.status import Status

log = logging.getLogger("promote_action.slug_copy")


class SourcePlan(BaseModel):
    app: AppRef
    release_id: Id | None
    version: Version | None
    slug_id: Id
    commit: RemoteText | None
    commit_description: RemoteText | None
    stack: Stack | None


class SlugCopyPlan(BaseModel):
    """Everything the run will do, resolved before any write; dry run and summary use it."""

    source: SourcePlan
    targets: Annotated[list[TargetPlan], Field(min_length=1, max_length=MAX_TARGETS)]
    description: Description
    findings: Findings
    source_pinned: bool
    """The user pinned the release or slug: a newer source release is then not a drift."""
    waves: list[Wave] = []
    """Released one after the other (canary-apps, waves); empty: every target at once."""


class SlugCopy:
    name = "slug-copy"
    plan_type = SlugCopyPlan
    drift_exempt = frozenset({"source_pinned"})
    """Plan fields that differ on re-planning by design: mode apply pins the source release."""

    def __init__(self, inputs: Inputs, services: Services) -> None:
        inputs.require("heroku-api-key", "source-app", "target-apps")
        if inputs.release and inputs.slug:
            raise UsageError("slug", "give either 'release' or 'slug', not both")
        if inputs.source_app in inputs.target_apps:
            raise UsageError("target-apps", f"'{inputs.source_app}' is also the source app")
        check_wave_inputs(inputs)
        self.inputs = inputs
        self.services = services
        self.heroku = connect(inputs, services)
        self.wave_run: WaveRun | None = None
        """How the waves went, once applied in waves (read by `result`)."""

    def close(self) -> None:
        self.heroku.close()

    # -- plan -------------------------------------------------------------------------------------

    def plan(self) -> SlugCopyPlan:
        source_name = str(self.inputs.source_app)
        source_app = resolve_app(self.heroku, "source-app", source_name)
        source = self._source(source_app)

        def plan_target(name: str) -> TargetPlan:
            app = resolve_app(self.heroku, "target-apps", name)
            return target_plan(self.heroku, app, deploys_slug=source.slug_id)

        # Concurrently, as pipeline-promote does: 50 targets resolved one after another took
        # seconds. A usage error still names the first bad target in the input's order.
        targets = read_all(plan_target, self.inputs.target_apps)
        seen: dict[str, str] = {}
        for target, name in zip(targets, self.inputs.target_apps, strict=True):
            if target.app.id == source_app.id:
                raise UsageError("target-apps", f"'{name}' is the source app {source_app.name}")
            if target.app.id in seen:
                raise UsageError("target-apps", f"'{name}' and '{seen[target.app.id]}' are one app")
            seen[target.app.id] = name
        plan = SlugCopyPlan(
            source=source,
            targets=targets,
            description=self.inputs.description or self._default_description(source),
            findings=preflight(self.heroku, source_app, source.stack, targets),
            source_pinned=bool(self.inputs.release or self.inputs.slug),
            waves=plan_waves(self.inputs, targets),
        )
        for line in plan_lines(plan):
            log.info("%s", line)
        return plan

    @staticmethod
    def pinned_inputs(plan: SlugCopyPlan) -> dict[str, Any]:
        """Inputs that resolve exactly this plan again (mode apply)."""
        return {
            "source_app": plan.source.app.id,
            "target_apps": [t.app.id for t in plan.targets],
            "release": plan.source.release_id,
            "slug": None if plan.source.release_id else plan.source.slug_id,
            "description": plan.description,
            **pinned_waves(plan.waves),
        }

    def drift(self, planned: SlugCopyPlan, fresh: SlugCopyPlan) -> list[str]:
        drifts = target_drift(planned.targets, fresh.targets)
        if not planned.source_pinned:
            newest = self._source_release(
                resolve_app(self.heroku, "source-app", planned.source.app.id), pinned=False
            )
            if newest.id != planned.source.release_id:
                drifts.insert(
                    0,
                    f"{planned.source.app.name}: the newest succeeded release is now "
                    f"v{newest.version} (the plan ships v{planned.source.version})",
                )
        return drifts

    def _source(self, app: App) -> SourcePlan:
        release: Release | None
        if self.inputs.slug:
            release, slug_id = None, self.inputs.slug
        else:
            release = self._source_release(app)
            slug_id = str(release.slug_id)
        try:
            slug = self.heroku.slug(app.id, slug_id)
        except RemoteError as exc:
            if exc.code == "not_found" and self.inputs.slug:
                raise UsageError(
                    "slug", f"slug {slug_id} not found on {app.name} ({exc})"
                ) from None
            raise
        return SourcePlan(
            app=AppRef.of(app),
            release_id=release.id if release else None,
            version=release.version if release else None,
            slug_id=slug.id,
            commit=slug.commit,
            commit_description=slug.commit_description,
            stack=slug.stack.name if slug.stack else None,
        )

    def _source_release(self, app: App, *, pinned: bool = True) -> Release:
        if pinned and self.inputs.release:
            return pinned_release(self.heroku, app, self.inputs.release)
        newest_without_slug = None
        for release in self.heroku.newest_releases(app.id):
            if release.status != "succeeded":
                continue
            if release.slug_id:
                return release
            newest_without_slug = newest_without_slug or release
        if newest_without_slug:
            raise UsageError("source-app", no_slug(app, newest_without_slug))
        raise UsageError(
            "source-app",
            f"{app.name} has no succeeded release with a slug; push code to {app.name} first",
        )

    def _default_description(self, source: SourcePlan) -> str:
        what = f"v{source.version}" if source.version else f"slug {source.slug_id[:8]}"
        text = f"Copy of {source.app.name} {what}"
        if source.commit:
            text += f" ({source.commit[:7]})"
        if self.services.run.run_id:
            text += f", GitHub run {self.services.run.run_id}"
        return text

    # -- apply ------------------------------------------------------------------------------------

    def apply(self, plan: SlugCopyPlan) -> list[TargetOutcome]:
        """Release on every changing target concurrently; return when all are settled, the
        deadline passed, or the job was cancelled (then unfinished targets say so)."""
        outcomes = [TargetOutcome(plan=target) for target in plan.targets]
        follower = ReleaseFollower(self.heroku, self.services, self.inputs)

        def release_target(when_live: WhenLive, outcome: TargetOutcome) -> None:
            release = self._adoptable(plan, outcome.plan)
            if release is not None:
                outcome.adopted = True
                log.warning(
                    "%s: release v%s of this slug is already in progress (another run?): "
                    "following it instead of creating a second release",
                    outcome.plan.app.name,
                    release.version,
                )
            else:
                release = self._create(plan, outcome.plan)
                log.info("%s: created release v%s", outcome.plan.app.name, release.version)
            if self.inputs.wait:
                follower.settle(outcome, release, plan.source.slug_id)
                when_live(outcome)
            else:
                outcome.release, outcome.status = release, Status.CREATED

        def release_wave(wave: list[TargetOutcome], when_live: WhenLive) -> None:
            run_per_target(self.services, wave, partial(release_target, when_live))

        if plan.waves:
            runner = WaveRunner(self.services, self.inputs, follower)
            self.wave_run = runner.run(plan.waves, outcomes, release_wave)
        else:
            release_wave(outcomes, follower.finish)
        return outcomes

    def _adoptable(self, plan: SlugCopyPlan, target: TargetPlan) -> Release | None:
        """Another run's pending release of our slug, newer than what the target runs: two
        runs of one change must not release it twice (the second would restart the dynos
        and run the release phase again)."""
        pending = target.pending_release_of(plan.source.slug_id)
        return None if pending is None else self.heroku.release(target.app.id, pending)

    def _create(self, plan: SlugCopyPlan, target: TargetPlan) -> Release:
        """POST the release once; if the response is lost, a release of this slug newer than
        the planned current one means the POST took effect."""
        app = target.app

        def send() -> Release:
            return self.heroku.create_release(
                app.id, slug_id=plan.source.slug_id, description=plan.description
            )

        def created() -> Release | None:
            for release in self.heroku.newest_releases(app.id):
                if target.newest_version is not None and release.version <= target.newest_version:
                    return None
                if release.slug_id == plan.source.slug_id:
                    return release
            return None

        return write_once(send, created)

    # -- report -----------------------------------------------------------------------------------

    def result(self, plan: SlugCopyPlan, outcomes: list[TargetOutcome] | None) -> Result:
        status = self.services.unapplied_status if outcomes is None else overall_status(outcomes)
        waves = self.wave_run if outcomes is not None else None
        if waves and waves.halted:
            status = waves.status
        result = {
            "operation": self.name,
            "status": status,
            "source": {
                "app": plan.source.app.name,
                "release_id": plan.source.release_id,
                "release_version": plan.source.version,
                "slug_id": plan.source.slug_id,
                "commit": plan.source.commit,
            },
            "targets": target_results(plan.targets, outcomes),
        }
        outputs = {
            "status": status,
            "slug-id": plan.source.slug_id,
            "source-release-version": str(plan.source.version or ""),
            "result": compact_json(result),
            **per_target_outputs(outcomes or []),
            "waves": compact_json(
                waves_output(plan.waves, plan.targets, waves, self.services.unapplied_status)
            ),
        }
        requests = self.heroku.http.requests_sent
        summary = render(plan, outcomes, status, requests, self.services.run)
        failure = failure_line(outcomes) if outcomes else None
        if waves and outcomes:
            failure = waves.failure(outcomes)
        return Result(
            status=status,
            outputs=outputs,
            summary=summary.add(
                *waves_section(plan.waves, plan.targets, waves, self.inputs.health_check)
            ),
            failure=failure,
            environment_url=environment_url(plan.targets, outcomes),
        )


# -- rendering ------------------------------------------------------------------------------------


def plan_lines(plan: SlugCopyPlan) -> list[str]:
    """The plan as log lines, printed before any write so the log shows intent first."""
    source = plan.source
    what = version(source.version) if source.version else f"slug {source.slug_id}"
    sha = f" commit {source.commit[:7]}" if source.commit else ""
    lines = [f"source: {source.app.name} {what}{sha} (slug {source.slug_id})"]
    for target in plan.targets:
        before = version(target.current_version)
        action = "release the slug" if target.change else "already runs this slug, no change"
        lines.append(f"target: {target.app.name} {before}: {action}")
    return [*lines, *wave_lines(plan.waves, plan.targets)]


def render(
    plan: SlugCopyPlan,
    outcomes: list[TargetOutcome] | None,
    status: Status,
    requests: int,
    run: RunContext,
) -> Summary:
    source = plan.source
    what = version(source.version) if source.version else f"slug {md.code(source.slug_id[:8])}"
    blocks = [
        f"**Source:** {heroku_app_link(source.app.name)} {what}"
        + commit(source.commit, source.commit_description)
        + f"\n**Slug:** {md.code(source.slug_id)} · **Description:** {md.text(plan.description)}",
        *([DRY_RUN] if outcomes is None else []),
        targets_table(plan.targets, outcomes, "would release"),
        *adopted_notes(outcomes),
        *findings(plan.findings),
        *compare_links(source.commit, plan.targets, run),
        *failures(outcomes),
    ]
    return Summary("Heroku slug copy", status, tuple(blocks), footer(requests, run))
