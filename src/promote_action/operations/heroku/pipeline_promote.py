"""pipeline-promote: promote a release through a Heroku pipeline and report every target.

Plan (read-only): the source app's coupling gives the pipeline and stage; the pipeline's
couplings give the map of stages and apps; targets are the next stage (development ->
staging -> production), an explicit stage, or named apps of the same pipeline. The source
release (current, or pinned) is resolved so the promotion ships exactly it.

Apply: one `POST /pipeline-promotions` pinned to that release; its targets are polled with one
request per poll however many there are, and each target's release is followed as soon as it
exists (release-phase log, status, then proof the app runs it). A target is green only when its
release succeeded and the app runs it; Heroku's `error_message` is reported verbatim.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, replace
from typing import Annotated, Any, Protocol

from pydantic import BaseModel, Field

from promote_action.context import RunContext
from promote_action.errors import (
    Cancelled,
    PromoteError,
    RemoteError,
    UsageError,
    WaitTimeout,
)
from promote_action.heroku.client import HerokuClient
from promote_action.heroku.models import App, Coupling, Release
from promote_action.inputs import Inputs
from promote_action.inputs.parsers import UUID
from promote_action.inputs.plan_fields import Count, Findings, Id, RemoteText, Stage, Version
from promote_action.inputs.validators import MAX_TARGETS
from promote_action.operations.base import Services, read_all, write_once
from promote_action.operations.heroku.follower import (
    LatestReleases,
    ReleaseFollower,
    run_per_target,
)
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
from promote_action.status import SETTLED_OK, Status
from promote_action.waiting import PollSchedule, wait_for

log = logging.getLogger("promote_action.pipeline_promote")

NEXT_STAGE = {"development": "staging", "staging": "production"}
MAP_STAGES = ("test", "development", "staging", "production")
"""Stages shown with their apps; review apps can be many and are only counted."""
STAGE_ORDER = {stage: index for index, stage in enumerate(("test", "review", *MAP_STAGES[1:]))}
PROMOTION_SCHEDULE = PollSchedule(first_delay=0.25, dense_for=4.0, min_interval=1.0, fraction=0.25)
"""One request per round covers every target. A promotion takes a few seconds to create the
releases and a release without a release phase is live soon after, so the targets are read
every 0.25 s for 4 s (16 requests for the whole promotion), then every second, growing with the
wait."""
LATEST_MAX_AGE = 0.1
"""Workers of targets whose releases appeared together poll in step: a read of the pipeline's
latest releases this recent answers them all."""


class PipelineRef(BaseModel):
    id: Id
    name: RemoteText | None


class PromotionSource(BaseModel):
    app: AppRef
    stage: Stage
    release_id: Id
    version: Version
    slug_id: Id
    commit: RemoteText | None
    commit_description: RemoteText | None


class StageApp(BaseModel):
    stage: Stage
    app: AppRef
    version: Version | None


class PromotionPlan(BaseModel):
    """Everything the promotion will do, resolved before any write."""

    pipeline: PipelineRef
    source: PromotionSource
    targets: Annotated[list[TargetPlan], Field(max_length=MAX_TARGETS)]
    stages: Annotated[list[StageApp], Field(max_length=1000)]
    review_apps: Count
    findings: Findings
    source_pinned: bool
    """The user pinned the source release: a newer one is then not a drift."""
    waves: list[Wave] = []
    """One promotion per wave, one after the other; empty: one promotion to every target."""


@dataclass
class PromotionOutcome:
    promotion_id: str | None
    """The promotion's id; with waves, each wave's, comma separated."""
    targets: list[TargetOutcome]
    waves: WaveRun | None = None


class PipelinePromote:
    name = "pipeline-promote"
    plan_type = PromotionPlan
    drift_exempt = frozenset({"source_pinned", "stages", "review_apps"})
    """Plan fields that differ on re-planning by design: mode apply pins the source release,
    and the pipeline map around the targets (a review app opened, a deploy to development)
    is context for the reviewer, not what the plan ships."""

    def __init__(self, inputs: Inputs, services: Services) -> None:
        inputs.require("heroku-api-key", "source-app")
        if inputs.slug:
            raise UsageError("slug", "is for slug-copy; pipeline-promote takes 'release'")
        if inputs.target_apps and inputs.target_stage:
            raise UsageError("target-stage", "give either 'target-apps' or 'target-stage'")
        if inputs.source_app in inputs.target_apps:
            raise UsageError("target-apps", f"'{inputs.source_app}' is also the source app")
        check_wave_inputs(inputs)
        self.inputs = inputs
        self.services = services
        self.heroku = connect(inputs, services)

    def close(self) -> None:
        self.heroku.close()

    # -- plan -------------------------------------------------------------------------------------

    def plan(self) -> PromotionPlan:
        source_app = resolve_app(self.heroku, "source-app", str(self.inputs.source_app))
        coupling = self._coupling(source_app)
        pipeline = PipelineRef(id=coupling.pipeline.id, name=coupling.pipeline.name)
        if self.inputs.pipeline:
            pipeline = self._check_pipeline(source_app, pipeline, self.inputs.pipeline)
        couplings = self.heroku.pipeline_couplings(pipeline.id)
        stage_of = {c.app.id: c.stage for c in couplings}
        mapped = [
            c.app.id for c in couplings if c.stage in MAP_STAGES and c.app.id != source_app.id
        ]
        apps = {app.id: app for app in read_all(self._readable_app, mapped) if app}
        apps[source_app.id] = source_app
        source, source_current, slug_stack = self._source(source_app, coupling.stage)
        target_apps = self._targets(source_app, coupling.stage, stage_of, apps)
        targets = read_all(
            lambda app: target_plan(self.heroku, app, deploys_slug=source.slug_id), target_apps
        )
        versions = {t.app.id: t.current_version for t in targets}
        versions[source_app.id] = source_current
        others = [app for app in apps.values() if app.id not in versions]
        for app, current in zip(
            others, read_all(lambda a: self.heroku.current_release(a.id), others), strict=True
        ):
            versions[app.id] = current.version if current else None
        shown = {**apps, **{app.id: app for app in target_apps}}
        stages = [
            StageApp(stage=stage_of[app.id], app=AppRef.of(app), version=versions.get(app.id))
            for app in shown.values()
        ]
        plan = PromotionPlan(
            pipeline=pipeline,
            source=source,
            targets=targets,
            stages=sorted(stages, key=lambda s: (STAGE_ORDER.get(s.stage, 9), s.app.name)),
            review_apps=sum(1 for c in couplings if c.stage == "review"),
            findings=preflight(self.heroku, source_app, slug_stack, targets),
            source_pinned=bool(self.inputs.release),
            waves=plan_waves(self.inputs, targets),
        )
        for line in plan_lines(plan):
            log.info("%s", line)
        return plan

    def _readable_app(self, app_id: str) -> App | None:
        """Apps of the map that this key may not read are left out rather than failing the
        plan: only the source and the targets must be accessible."""
        try:
            return self.heroku.app(app_id)
        except RemoteError as exc:
            if exc.code in ("forbidden", "not_found"):
                log.info("pipeline app %s is not readable with this key (%s)", app_id, exc.code)
                return None
            raise

    @staticmethod
    def pinned_inputs(plan: PromotionPlan) -> dict[str, Any]:
        """Inputs that resolve exactly this plan again (mode apply)."""
        return {
            "source_app": plan.source.app.id,
            "target_apps": [t.app.id for t in plan.targets],
            "target_stage": None,
            "release": plan.source.release_id,
            "pipeline": plan.pipeline.id,
            **pinned_waves(plan.waves),
        }

    def drift(self, planned: PromotionPlan, fresh: PromotionPlan) -> list[str]:
        drifts = target_drift(planned.targets, fresh.targets)
        if not planned.source_pinned:
            current = self.heroku.current_release(planned.source.app.id)
            if current is None or current.id != planned.source.release_id:
                now = f"v{current.version}" if current else "nothing"
                drifts.insert(
                    0,
                    f"{planned.source.app.name} now runs {now} "
                    f"(the plan promotes v{planned.source.version})",
                )
        return drifts

    def _coupling(self, app: App) -> Coupling:
        try:
            return self.heroku.app_coupling(app.id)
        except RemoteError as exc:
            if exc.code == "not_found":
                raise UsageError(
                    "source-app", f"app '{app.name}' is not in any pipeline ({exc})"
                ) from None
            raise

    def _check_pipeline(self, app: App, actual: PipelineRef, wanted: str) -> PipelineRef:
        """The `pipeline` input guards against promoting from the wrong place."""
        if UUID.match(wanted):
            if wanted != actual.id:
                raise UsageError(
                    "pipeline",
                    f"{app.name} is in pipeline {actual.name or actual.id} ({actual.id}), "
                    f"not {wanted}",
                )
            return actual
        candidates = self.heroku.pipelines_named(wanted)
        if len(candidates) > 1:
            listed = ", ".join(c.id for c in candidates)
            raise UsageError(
                "pipeline",
                f"{len(candidates)} pipelines are named '{wanted}' ({listed}); give the id",
            )
        name = actual.name or self.heroku.pipeline(actual.id).name
        if name != wanted:
            raise UsageError("pipeline", f"{app.name} is in pipeline {name}, not {wanted}")
        return PipelineRef(id=actual.id, name=name)

    def _source(self, app: App, stage: str) -> tuple[PromotionSource, int | None, str | None]:
        """The release to promote, the version the source runs now (for the map), and the
        stack its slug was built for."""
        current = self.heroku.current_release(app.id)
        if self.inputs.release:
            release = pinned_release(self.heroku, app, self.inputs.release)
        elif current is None:
            raise UsageError("source-app", f"{app.name} has no release to promote")
        elif not current.slug_id:
            raise UsageError("source-app", no_slug(app, current))
        else:
            release = current
        slug = self.heroku.slug(app.id, str(release.slug_id))
        source = PromotionSource(
            app=AppRef.of(app),
            stage=stage,
            release_id=release.id,
            version=release.version,
            slug_id=slug.id,
            commit=slug.commit,
            commit_description=slug.commit_description,
        )
        stack = slug.stack.name if slug.stack else None
        return source, current.version if current else None, stack

    def _targets(
        self, source: App, source_stage: str, stage_of: dict[str, str], apps: dict[str, App]
    ) -> list[App]:
        if self.inputs.target_apps:
            return self._named_targets(source, stage_of, apps)
        stage = self.inputs.target_stage or NEXT_STAGE.get(source_stage)
        if stage is None:
            raise UsageError(
                "target-stage",
                f"{source.name} is in the {source_stage} stage, which has no next stage; "
                "give 'target-stage' or 'target-apps'",
            )
        ids = [i for i, s in stage_of.items() if s == stage and i != source.id]
        targets = [apps.get(i) or resolve_app(self.heroku, "target-stage", i) for i in ids]
        if not targets:
            raise UsageError(
                "target-stage",
                f"no apps to promote to: the {stage} stage of the pipeline has none besides "
                f"{source.name}"
                if stage == source_stage
                else f"no downstream apps in the {stage} stage of the pipeline",
            )
        for app in targets:
            if app.is_fir:
                raise UsageError("target-stage", f"app '{app.name}' is a Fir app")
        return sorted(targets, key=lambda a: a.name)

    def _named_targets(
        self, source: App, stage_of: dict[str, str], apps: dict[str, App]
    ) -> list[App]:
        known = {key: app for app in apps.values() for key in (app.id, app.name)}
        targets: list[App] = []
        for name in self.inputs.target_apps:
            app = known.get(name) or resolve_app(self.heroku, "target-apps", name)
            if app.id == source.id:
                raise UsageError("target-apps", f"'{name}' is the source app {source.name}")
            if app.id not in stage_of:
                raise UsageError("target-apps", f"app '{app.name}' is not in this pipeline")
            if app.is_fir:
                raise UsageError("target-apps", f"app '{app.name}' is a Fir app")
            if any(t.id == app.id for t in targets):
                raise UsageError("target-apps", f"'{name}' names an app already listed")
            targets.append(app)
        return targets

    # -- apply ------------------------------------------------------------------------------------

    def apply(self, plan: PromotionPlan) -> PromotionOutcome:
        outcomes = [TargetOutcome(plan=target) for target in plan.targets]
        follower = ReleaseFollower(self.heroku, self.services, self.inputs)
        if not plan.waves:
            promotion_id = self._promote(plan, outcomes, follower, follower.finish)
            return PromotionOutcome(promotion_id, outcomes)

        def promote_wave(wave: list[TargetOutcome], when_live: WhenLive) -> str | None:
            return self._promote(plan, wave, follower, when_live)

        run = WaveRunner(self.services, self.inputs, follower).run(
            plan.waves, outcomes, promote_wave
        )
        ids = [wave.promotion_id for wave in run.waves if wave.promotion_id]
        return PromotionOutcome(",".join(ids) or None, outcomes, run)

    def _promote(
        self,
        plan: PromotionPlan,
        outcomes: list[TargetOutcome],
        follower: ReleaseFollower,
        when_live: WhenLive,
    ) -> str | None:
        """One promotion of the planned source release to `outcomes`' changing targets, each
        followed until live (then `when_live`); returns the promotion's id once all settled."""
        changing = [o for o in outcomes if o.plan.change]
        if not changing:
            for outcome in outcomes:
                outcome.status = Status.UNCHANGED
            return None
        adopted = {
            o.plan.app.id: release_id
            for o in changing
            if (release_id := o.plan.pending_release_of(plan.source.slug_id))
        }
        for outcome in changing:
            if outcome.plan.app.id in adopted:
                outcome.adopted = True
                log.warning(
                    "%s: a release of this slug is already in progress (another run?): "
                    "following it instead of promoting to it again",
                    outcome.plan.app.name,
                )
        to_promote = [o.plan.app.id for o in changing if o.plan.app.id not in adopted]
        try:
            tracker: TargetTracker = KnownReleases(adopted)
            if to_promote:
                tracker = WithAdopted(self._start(plan, to_promote), adopted)
        except PromoteError as exc:
            status = Status.CANCELLED if isinstance(exc, Cancelled) else Status.FAILED
            for outcome in changing:
                outcome.status, outcome.error = status, str(exc)
            return None
        if not self.inputs.wait:
            for outcome in outcomes:
                outcome.status = Status.CREATED if outcome.plan.change else Status.UNCHANGED
            return tracker.promotion_id
        # This promotion's targets share one read of the pipeline's latest releases per round.
        following = ReleaseFollower(self.heroku, self.services, self.inputs, latest=tracker.latest)

        def follow_target(outcome: TargetOutcome) -> None:
            app = outcome.plan.app
            state = tracker.wait_for_release(app.id, self.services)
            if state.release_id is None:
                outcome.status = Status.FAILED
                outcome.error = state.error_message or "the promotion created no release"
                return
            release = state.release or self.heroku.release(app.id, state.release_id)
            log.info("%s: promotion created release v%s", app.name, release.version)
            following.settle(outcome, release, plan.source.slug_id)
            final = tracker.wait_for_end(app.id, self.services)
            if final.status == "failed":
                outcome.status = Status.FAILED
                outcome.error = final.error_message or outcome.error
            when_live(outcome)

        run_per_target(self.services, outcomes, follow_target)
        return tracker.promotion_id

    @staticmethod
    def started_note(outcome: PromotionOutcome | None) -> str | None:
        """A promotion goes on without us: stopped before some of its releases appeared, the
        report must say it was started, for which targets, and that releases may follow."""
        if outcome is None or outcome.promotion_id is None:
            return None
        unseen = [
            o.plan.app.name
            for o in outcome.targets
            if o.plan.change and o.release is None and o.status not in SETTLED_OK
        ]
        if not unseen:
            return None
        return (
            f"Promotion {outcome.promotion_id} was started for {', '.join(unseen)}: "
            "its releases may still appear there"
        )

    def _start(self, plan: PromotionPlan, target_ids: list[str]) -> TargetTracker:
        """Create the promotion once and never send it again: two promotions would deploy
        twice. If the response is lost, its releases appearing on the targets show it was
        created; if none appears before the deadline, the step fails saying the outcome is
        unknown."""

        def send() -> TargetTracker:
            promotion = self.heroku.create_promotion(
                pipeline_id=plan.pipeline.id,
                source_app_id=plan.source.app.id,
                source_release_id=plan.source.release_id,
                targets=target_ids,
            )
            log.info("promotion %s created", promotion.id)
            latest = LatestReleases(self.heroku, plan.pipeline.id, max_age=LATEST_MAX_AGE)
            tracker = PromotionTracker(self.heroku, promotion.id, target_ids, latest)
            if self.inputs.wait:
                tracker.start(self.services)
            return tracker

        def created() -> TargetTracker | None:
            found = self._evidence(plan, target_ids)
            return KnownReleases(found) if found else None

        return write_once(send, created, attempts=1)

    def _evidence(self, plan: PromotionPlan, target_ids: list[str]) -> dict[str, str]:
        """Releases of the promoted slug that appeared on the targets after the plan."""
        planned = {t.app.id: t.newest_version or 0 for t in plan.targets}
        found: dict[str, str] = {}

        def look() -> dict[str, str] | None:
            for app_id in target_ids:
                if app_id in found:
                    continue
                for release in self.heroku.newest_releases(app_id):
                    if release.version <= planned[app_id]:
                        break
                    if release.slug_id == plan.source.slug_id:
                        found[app_id] = release.id
                        break
            return dict(found) if len(found) == len(target_ids) else None

        try:
            return wait_for(
                look,
                what="the promotion's releases",
                deadline=self.services.deadline,
                cancel=self.services.cancel,
                state=lambda: f"{len(found)} of {len(target_ids)} found",
            )
        except WaitTimeout:
            return found

    # -- report -----------------------------------------------------------------------------------

    def result(self, plan: PromotionPlan, outcome: PromotionOutcome | None) -> Result:
        targets = outcome.targets if outcome else None
        status = self.services.unapplied_status if targets is None else overall_status(targets)
        waves = outcome.waves if outcome else None
        if waves and waves.halted:
            status = waves.status
        promotion_id = outcome.promotion_id if outcome else None
        result = {
            "operation": self.name,
            "status": status,
            "promotion_id": promotion_id,
            "pipeline": {"id": plan.pipeline.id, "name": plan.pipeline.name},
            "source": {
                "app": plan.source.app.name,
                "stage": plan.source.stage,
                "release_id": plan.source.release_id,
                "release_version": plan.source.version,
                "slug_id": plan.source.slug_id,
                "commit": plan.source.commit,
            },
            "targets": target_results(plan.targets, targets),
        }
        outputs = {
            "status": status,
            "promotion-id": promotion_id or "",
            "slug-id": plan.source.slug_id,
            "source-release-version": str(plan.source.version),
            "result": compact_json(result),
            **per_target_outputs(targets or []),
            "waves": compact_json(
                waves_output(plan.waves, plan.targets, waves, self.services.unapplied_status)
            ),
        }
        requests = self.heroku.http.requests_sent
        summary = render(plan, targets, status, requests, self.services.run)
        note = self.started_note(outcome)
        failure = failure_line(targets, note) if targets else None
        if waves and targets:
            failure = waves.failure(targets)
            failure = f"{failure}. {note}" if failure and note else failure or note
        summary = summary.add(
            *waves_section(plan.waves, plan.targets, waves, self.inputs.health_check)
        )
        if note:
            summary = summary.add(f"**⚠️ {md.text(note)}**")
        return Result(
            status=status,
            outputs=outputs,
            summary=summary,
            failure=failure,
            environment_url=environment_url(plan.targets, targets),
        )


@dataclass
class TargetState:
    """What the promotion says about one target: its release once created, its status."""

    release_id: str | None = None
    status: str = "pending"
    error_message: str | None = None
    release: Release | None = None
    """The release itself when the pipeline's latest releases showed it (saves a read)."""


class TargetTracker(Protocol):
    promotion_id: str | None
    latest: LatestReleases | None

    def wait_for_release(self, app_id: str, services: Services) -> TargetState: ...

    def wait_for_end(self, app_id: str, services: Services) -> TargetState: ...


class PromotionTracker:
    """Follows `promotion-targets`: one request per poll covers every target.

    A background thread polls until every target has its release (or has failed), waking each
    target's worker as soon as its release exists. The releases that appeared in a round are
    then read together, with one request for the pipeline's latest releases instead of one per
    target. From then on the releases themselves are followed; the targets are read again only
    when a worker asks for its final status, and one read then serves every worker asking at
    the same time.
    """

    def __init__(
        self,
        heroku: HerokuClient,
        promotion_id: str,
        target_ids: list[str],
        latest: LatestReleases,
    ) -> None:
        self.heroku = heroku
        self.promotion_id: str | None = promotion_id
        self.latest: LatestReleases | None = latest
        self._states = {app_id: TargetState() for app_id in target_ids}
        self._changed = threading.Condition()
        self._poll_lock = threading.Lock()
        self._polled_at = float("-inf")
        self._error: PromoteError | None = None
        self._discovering = True

    def start(self, services: Services) -> None:
        threading.Thread(
            target=self._discover, args=(services,), name="promotion", daemon=True
        ).start()

    def _discover(self, services: Services) -> None:
        def every_release_known() -> bool | None:
            self._refresh(max_age=0)
            with self._changed:
                waiting = [s for s in self._states.values() if not _has_release_or_ended(s)]
            return None if waiting else True

        try:
            wait_for(
                every_release_known,
                what="the promotion's targets",
                deadline=services.deadline,
                cancel=services.cancel,
                schedule=PROMOTION_SCHEDULE,
                settle_first=True,
                state=self._releases_created,
            )
        except PromoteError as exc:
            self._error = exc
        finally:
            with self._changed:
                self._discovering = False
                self._changed.notify_all()

    def _releases_created(self) -> str:
        """Progress of the promotion, for "still waiting" lines."""
        with self._changed:
            known = sum(1 for s in self._states.values() if _has_release_or_ended(s))
            return f"{known} of {len(self._states)} releases created"

    def _refresh(self, *, max_age: float) -> None:
        """Read every target's state, unless another thread did so within `max_age` s."""
        with self._poll_lock:
            if time.monotonic() - self._polled_at < max_age:
                return
            targets = self.heroku.promotion_targets(str(self.promotion_id))
            self._polled_at = time.monotonic()
            with self._changed:
                new = {
                    t.app.id: t.release.id
                    for t in targets
                    if t.release and t.app.id in self._states
                    if self._states[t.app.id].release_id is None
                }
            releases = self._latest_releases(new)
        with self._changed:
            for target in targets:
                state = self._states.get(target.app.id)
                if state is None:
                    continue
                if target.release:
                    state.release_id = target.release.id
                    state.release = state.release or releases.get(target.app.id)
                if target.finished:
                    state.status = target.status
                    state.error_message = target.error_message
            self._changed.notify_all()

    def _latest_releases(self, wanted: dict[str, str]) -> dict[str, Release]:
        """The releases `wanted` (app id -> release id), read afresh in one request for the
        whole pipeline; a target whose item is missing or is another release is read on its
        own by its worker."""
        if not wanted or self.latest is None:
            return {}
        self.latest.refresh()
        found = {app_id: self.latest.newest(app_id) for app_id in wanted}
        return {a: r for a, r in found.items() if r is not None and r.id == wanted[a]}

    def wait_for_release(self, app_id: str, services: Services) -> TargetState:
        with self._changed:
            while True:
                state = self._states[app_id]
                if _has_release_or_ended(state):
                    return replace(state)
                if self._error is not None:
                    raise self._error
                if not self._discovering:
                    raise PromoteError("stopped following the promotion")
                services.cancel.raise_if_cancelled()
                self._changed.wait(0.1)

    def wait_for_end(self, app_id: str, services: Services) -> TargetState:
        def ended() -> TargetState | None:
            with self._changed:
                state = replace(self._states[app_id])
            if state.status != "pending":
                return state
            self._refresh(max_age=PROMOTION_SCHEDULE.first_delay / 2)
            with self._changed:
                state = replace(self._states[app_id])
            return state if state.status != "pending" else None

        return wait_for(
            ended,
            what="the promotion's targets",
            deadline=services.deadline,
            cancel=services.cancel,
            schedule=PROMOTION_SCHEDULE,
            state=lambda: self._states[app_id].status,
            announce=False,  # part of the promotion's wait, announced once by `_discover`
        )


def _has_release_or_ended(state: TargetState) -> bool:
    return state.release_id is not None or state.status != "pending"


class WithAdopted:
    """The promotion's targets, plus targets whose release another run had already started:
    those are followed directly and were left out of the promotion."""

    def __init__(self, promotion: TargetTracker, adopted: dict[str, str]) -> None:
        self._promotion = promotion
        self._adopted = KnownReleases(adopted)
        self.promotion_id = promotion.promotion_id
        self.latest = promotion.latest
        """The pipeline's latest releases cover the adopted targets too: same pipeline."""

    def _for(self, app_id: str) -> TargetTracker:
        return self._adopted if app_id in self._adopted.releases else self._promotion

    def wait_for_release(self, app_id: str, services: Services) -> TargetState:
        return self._for(app_id).wait_for_release(app_id, services)

    def wait_for_end(self, app_id: str, services: Services) -> TargetState:
        return self._for(app_id).wait_for_end(app_id, services)


class KnownReleases:
    """Stands in for the promotion when its creation response was lost but its releases were
    found on the targets: those releases are followed directly."""

    promotion_id: str | None = None
    latest: LatestReleases | None = None

    def __init__(self, releases: dict[str, str]) -> None:
        self.releases = releases

    def wait_for_release(self, app_id: str, services: Services) -> TargetState:
        if app_id in self.releases:
            return TargetState(release_id=self.releases[app_id], status="succeeded")
        return TargetState(
            status="failed",
            error_message="no release of the promoted slug appeared on this app",
        )

    def wait_for_end(self, app_id: str, services: Services) -> TargetState:
        return self.wait_for_release(app_id, services)


# -- rendering ------------------------------------------------------------------------------------


def plan_lines(plan: PromotionPlan) -> list[str]:
    """The plan as log lines, printed before any write so the log shows intent first."""
    source = plan.source
    sha = f" commit {source.commit[:7]}" if source.commit else ""
    lines = [
        f"pipeline: {plan.pipeline.name or plan.pipeline.id} ({plan.pipeline.id})",
        f"source: {source.app.name} ({source.stage}) v{source.version}{sha}",
    ]
    for target in plan.targets:
        action = "promote" if target.change else "already runs this slug, no change"
        lines.append(f"target: {target.app.name} {version(target.current_version)}: {action}")
    return [*lines, *wave_lines(plan.waves, plan.targets)]


def render(
    plan: PromotionPlan,
    outcomes: list[TargetOutcome] | None,
    status: Status,
    requests: int,
    run: RunContext,
) -> Summary:
    source = plan.source
    pipeline = md.text(plan.pipeline.name or plan.pipeline.id)
    blocks = [
        f"**Pipeline:** {pipeline} · **Source:** {heroku_app_link(source.app.name)} "
        f"({md.text(source.stage)}) {version(source.version)}"
        + commit(source.commit, source.commit_description),
        *([DRY_RUN] if outcomes is None else []),
        targets_table(plan.targets, outcomes, f"would get {version(source.version)}"),
        *adopted_notes(outcomes),
        *findings(plan.findings),
        *compare_links(source.commit, plan.targets, run),
        *failures(outcomes),
        "### Pipeline",
        pipeline_map(plan, outcomes),
    ]
    return Summary("Heroku pipeline promotion", status, tuple(blocks), footer(requests, run))


def pipeline_map(plan: PromotionPlan, outcomes: list[TargetOutcome] | None) -> str:
    """Stage -> apps with versions before and after, so reviewers see the whole pipeline."""
    released = {o.plan.app.id: o for o in outcomes or [] if o.release}
    rows = []
    for entry in plan.stages:
        outcome = released.get(entry.app.id)
        after = version(outcome.release.version) if outcome and outcome.release else "unchanged"
        if outcome:
            after += f" {outcome.status.icon}"
        role = " (source)" if entry.app.id == plan.source.app.id else ""
        rows.append(
            [
                md.text(entry.stage),
                heroku_app_link(entry.app.name) + role,
                version(entry.version),
                after,
            ]
        )
    table = md.table(["Stage", "App", "Before", "After"], rows)
    if plan.review_apps:
        table += f"\n\n{plan.review_apps} review app(s) not shown."
    return table
