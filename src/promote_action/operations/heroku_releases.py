"""What the Heroku operations share: resolving apps and releases for a plan, and following new
releases on many targets at once until they are live and verified.

slug-copy creates the releases itself, pipeline-promote gets them from a promotion; from the
moment a target has a release, both follow it the same way: stream the release-phase log,
poll until the release is finished, then prove the app runs it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from pydantic import BaseModel

from promote_action.errors import (
    Cancelled,
    PromoteError,
    RemoteError,
    UsageError,
    VerificationError,
    WaitTimeout,
)
from promote_action.health import HealthCheckFailed, probe
from promote_action.heroku.client import HerokuClient
from promote_action.heroku.models import App, Release
from promote_action.inputs import Inputs, reveal
from promote_action.operations.base import SETTLED_OK, Services, read_all, write_once
from promote_action.report.summary import compact_json
from promote_action.waiting import wait_for

log = logging.getLogger("promote_action.heroku")

OUTPUT_TAIL = 20
"""Release-phase lines kept per target for the summary of a failure."""


class AppRef(BaseModel):
    id: str
    name: str
    web_url: str | None = None

    @classmethod
    def of(cls, app: App) -> AppRef:
        return cls(id=app.id, name=app.name, web_url=app.web_url)


class TargetPlan(BaseModel):
    """A target as found before any write: what it runs now."""

    app: AppRef
    current_release_id: str | None
    current_version: int | None
    current_slug_id: str | None
    current_commit: str | None = None
    stack: str | None
    pending_version: int | None = None
    """A release still in its release phase on the target when the plan was made."""
    newest_version: int | None = None
    """The target's newest release (any status) at plan time: anything newer is ours."""
    change: bool = True
    """False when the target already runs what would be deployed: nothing to do."""


@dataclass
class TargetOutcome:
    """Progress of one target; written by its worker thread, read by the reporter."""

    plan: TargetPlan
    status: str = "not-started"
    release: Release | None = None
    error: str | None = None
    output_tail: list[str] = field(default_factory=list)
    started: float | None = None
    finished: float | None = None
    health: str | None = None
    """What the health check saw, when one ran."""
    rollback: str | None = None
    """What the rollback did, when one was needed."""

    @property
    def duration(self) -> float | None:
        if self.started is None:
            return None
        return (self.finished or time.monotonic()) - self.started

    @property
    def log_title(self) -> str:
        version = f" v{self.release.version}" if self.release else ""
        return f"Release phase: {self.plan.app.name}{version}"


def connect(inputs: Inputs, services: Services) -> HerokuClient:
    return HerokuClient.connect(
        inputs.heroku_api_url,
        reveal(inputs.heroku_api_key),
        deadline=services.deadline,
        cancel=services.cancel,
    )


# -- planning ------------------------------------------------------------------------------------


def resolve_app(heroku: HerokuClient, input_name: str, name: str, *, slugs: bool = True) -> App:
    """A 404 means the input names an app that does not exist: a usage error (exit 2)."""
    try:
        app = heroku.app(name)
    except RemoteError as exc:
        if exc.code == "not_found":
            raise UsageError(input_name, f"app '{name}' not found ({exc})") from None
        raise
    if slugs and app.is_fir:
        raise UsageError(
            input_name, f"app '{app.name}' is a Fir app: it runs OCI images, not slugs"
        )
    return app


def pinned_release(heroku: HerokuClient, app: App, pinned: str) -> Release:
    """The release the user pinned (`release` input) must exist, have succeeded, have a slug."""
    try:
        release = heroku.release(app.id, pinned)
    except RemoteError as exc:
        if exc.code == "not_found":
            raise UsageError(
                "release", f"release {pinned} not found on {app.name} ({exc})"
            ) from None
        raise
    if release.status != "succeeded":
        raise UsageError(
            "release",
            f"release v{release.version} of {app.name} is {release.status}, "
            "only a succeeded release can be deployed",
        )
    if not release.slug_id:
        raise UsageError("release", no_slug(app, release))
    return release


def no_slug(app: App, release: Release) -> str:
    return (
        f"release v{release.version} of {app.name} has no slug (a container or Fir release); "
        "only apps built with buildpacks can be promoted this way"
    )


def target_plan(heroku: HerokuClient, app: App, *, deploys_slug: str | None) -> TargetPlan:
    """What the target runs now (and its commit, for the summary), and whether a release is
    still pending there, from the newest releases page."""
    recent = heroku.recent_releases(app.id)
    current = next((r for r in recent if r.current), None) or heroku.current_release(app.id)
    pending = next((r for r in recent if r.status == "pending"), None)
    commit = heroku.slug(app.id, current.slug_id).commit if current and current.slug_id else None
    return TargetPlan(
        app=AppRef.of(app),
        current_release_id=current.id if current else None,
        current_version=current.version if current else None,
        current_slug_id=current.slug_id if current else None,
        current_commit=commit,
        stack=app.stack.name if app.stack else None,
        pending_version=pending.version if pending else None,
        newest_version=max((r.version for r in recent), default=None),
        change=not (current and deploys_slug and current.slug_id == deploys_slug),
    )


def preflight(
    heroku: HerokuClient,
    source: App,
    source_stack: str | None,
    targets: list[TargetPlan],
) -> list[str]:
    """Findings a reviewer should see before approving: config var names the targets lack
    (never values), a stack the slug was not built for, a release still pending."""
    findings = []
    source_keys = heroku.config_var_keys(source.id)
    target_keys = read_all(lambda t: heroku.config_var_keys(t.app.id), targets)
    for target, keys in zip(targets, target_keys, strict=True):
        if missing := sorted(source_keys - keys):
            findings.append(
                f"{target.app.name} lacks config vars set on {source.name}: {', '.join(missing)}"
            )
        if target.stack and source_stack and target.stack != source_stack:
            findings.append(
                f"{target.app.name} runs stack {target.stack} but the slug was built for "
                f"{source_stack}"
            )
        if target.pending_version is not None:
            findings.append(
                f"{target.app.name} has release v{target.pending_version} still pending"
            )
    return findings


def target_drift(planned: list[TargetPlan], fresh: list[TargetPlan]) -> list[str]:
    """Targets that changed release since the plan (someone deployed meanwhile)."""
    now = {t.app.id: t for t in fresh}
    drifts = []
    for target in planned:
        current = now.get(target.app.id)
        if current is None:
            drifts.append(f"{target.app.name} is no longer a target")
        elif current.current_release_id != target.current_release_id:
            drifts.append(
                f"{target.app.name} now runs v{current.current_version} "
                f"(the plan was made when it ran v{target.current_version})"
            )
    return drifts


# -- following releases --------------------------------------------------------------------------


@dataclass(frozen=True)
class Finished:
    """A finished release and the app's current release, read in the same response."""

    release: Release
    current: Release | None


class ReleaseFollower:
    """Follows one release per target to a verified end state, then (when asked) checks the
    app's health and rolls back a target that failed after being changed."""

    def __init__(self, heroku: HerokuClient, services: Services, inputs: Inputs) -> None:
        self.heroku = heroku
        self.services = services
        self.inputs = inputs

    def finish(self, outcome: TargetOutcome) -> None:
        """After `settle`: health check a live target, roll back a failed one."""
        if outcome.status == "succeeded" and self.inputs.health_check:
            try:
                outcome.health = self._health(outcome)
            except HealthCheckFailed as exc:
                outcome.status, outcome.error, outcome.health = "failed", str(exc), "failed"
        if outcome.status == "failed" and self.inputs.rollback_on_failure and outcome.release:
            outcome.rollback = self._roll_back(outcome)

    def _health(self, outcome: TargetOutcome) -> str:
        app = outcome.plan.app
        url = (self.inputs.health_check_url or "").replace("{app}", app.name) or app.web_url
        if not url:
            raise HealthCheckFailed(
                f"health check: {app.name} has no web URL; set health-check-url"
            )
        result = probe(
            url,
            expected_status=self.inputs.health_check_status,
            text=self.inputs.health_check_text,
            timeout=self.inputs.health_check_timeout,
            deadline=self.services.deadline,
            cancel=self.services.cancel,
        )
        log.info("%s: healthy (%s)", app.name, result)
        return result

    def _roll_back(self, outcome: TargetOutcome) -> str:
        """Back to the release the target ran before, only if it no longer runs it: an app
        whose new release failed its release phase still runs the old one, and an app we did
        not change is never touched."""
        plan = outcome.plan
        app = plan.app
        if plan.current_release_id is None or plan.current_slug_id is None:
            return "no previous release to roll back to"
        current = self.heroku.current_release(app.id)
        if current is not None and current.id == plan.current_release_id:
            return f"not needed: {app.name} still runs v{plan.current_version}"
        previous = str(plan.current_release_id)

        def send() -> Release:
            return self.heroku.rollback(app.id, previous)

        def created() -> Release | None:
            newer = [
                r
                for r in self.heroku.recent_releases(app.id)
                if outcome.release and r.version > outcome.release.version
            ]
            return next((r for r in newer if r.slug_id == plan.current_slug_id), None)

        try:
            release = write_once(send, created)
            log.warning(
                "%s: rolling back to v%s (release v%s)",
                app.name,
                plan.current_version,
                release.version,
            )
            final = self.follow(outcome, release)
        except PromoteError as exc:
            return f"rollback to v{plan.current_version} failed: {exc}"
        if final.release.status != "succeeded":
            return f"rollback release v{final.release.version} {final.release.status}"
        return f"rolled back to v{plan.current_version} (release v{final.release.version})"

    def settle(self, outcome: TargetOutcome, release: Release, slug_id: str) -> None:
        """Wait for `release`, then require that the target runs it; sets the outcome."""
        outcome.release = release
        outcome.status = "pending"
        final = self.follow(outcome, release)
        outcome.release = final.release
        if final.release.status != "succeeded":
            outcome.status = "failed"
            outcome.error = failure_text(final.release, outcome.output_tail)
            return
        self.verify(outcome.plan.app, slug_id, seen_current=final.current)
        outcome.status = "succeeded"

    def follow(self, outcome: TargetOutcome, release: Release) -> Finished:
        """Read the release-phase log while it runs (one long request instead of many polls),
        then poll the release until it is finished, with a fresh fast schedule because the
        end is near once the log has closed."""
        app = outcome.plan.app
        services = self.services
        what = f"release v{release.version} on {app.name}"

        def finished() -> Finished | None:
            return self._finished(app.id, release.id)

        if release.output_stream_url:
            services.reporter.mask(release.output_stream_url)
            stream = ReleaseStream(self.heroku, release.output_stream_url)

            def stream_or_finished() -> Finished | bool | None:
                if stream.read(lambda line: self._output_line(outcome, line)):
                    return True
                return finished()

            first = wait_for(
                stream_or_finished,
                what=what,
                deadline=services.deadline,
                cancel=services.cancel,
                settle_first=True,
            )
            if isinstance(first, Finished):
                return first
        return wait_for(
            finished,
            what=what,
            deadline=services.deadline,
            cancel=services.cancel,
            settle_first=not release.output_stream_url,
        )

    def _finished(self, app_id: str, release_id: str) -> Finished | None:
        """One request answers both questions: is our release finished, and what does the app
        run now (the newest releases carry `status` and `current`)."""
        recent = self.heroku.recent_releases(app_id)
        ours = next((r for r in recent if r.id == release_id), None)
        if ours is None:
            ours = self.heroku.release(app_id, release_id)
        if not ours.finished:
            return None
        return Finished(ours, next((r for r in recent if r.current), None))

    def verify(self, app: AppRef, slug_id: str, *, seen_current: Release | None = None) -> None:
        """`succeeded` is the platform's word; the current release carrying our slug is proof.
        A current release seen with the final status counts; otherwise it is read afresh."""
        if seen_current is not None and seen_current.slug_id == slug_id:
            return
        current = self.heroku.current_release(app.id)
        if current is None or current.slug_id != slug_id:
            running = f"v{current.version} with slug {current.slug_id}" if current else "nothing"
            raise VerificationError(
                f"{app.name}: the release succeeded but the app runs {running}, not slug {slug_id}"
            )

    def _output_line(self, outcome: TargetOutcome, line: str) -> None:
        outcome.output_tail = [*outcome.output_tail[-(OUTPUT_TAIL - 1) :], line]
        self.services.reporter.remote.line(outcome.log_title, line)


class ReleaseStream:
    """The release-phase log, resumable: after a dropped connection it continues from the last
    byte received (`Range: bytes=N-`), so no line is shown twice or lost."""

    def __init__(self, heroku: HerokuClient, url: str) -> None:
        self.heroku = heroku
        self.url = url
        self.offset = 0
        self._partial = b""
        self._event_stream = False

    def read(self, on_line: Callable[[str], None]) -> bool:
        """True once the log has ended; False if it is not available yet or broke off."""
        try:
            with self.heroku.output_stream(self.url, offset=self.offset) as response:
                if response.status_code not in (200, 206):
                    return False
                self._event_stream = "event-stream" in response.headers.get("Content-Type", "")
                for chunk in response.iter_bytes():
                    self.offset += len(chunk)
                    *lines, self._partial = (self._partial + chunk).split(b"\n")
                    for raw in lines:
                        self._emit(raw, on_line)
        except httpx.TransportError:
            return False
        if self._partial:
            self._emit(self._partial, on_line)
            self._partial = b""
        return True

    def _emit(self, raw: bytes, on_line: Callable[[str], None]) -> None:
        text = raw.decode("utf-8", errors="replace").rstrip("\r")
        if self._event_stream:
            if not text.startswith("data:"):
                return
            text = text[5:].removeprefix(" ")
        on_line(text)


def failure_text(release: Release, tail: list[str]) -> str:
    if release.status == "expired":
        return f"release v{release.version} expired"
    last = next((line for line in reversed(tail) if line.strip()), None)
    detail = f": {last.strip()}" if last else ""
    return f"release v{release.version} {release.status} (release command failed){detail}"


def run_per_target(
    services: Services,
    outcomes: list[TargetOutcome],
    work: Callable[[TargetOutcome], None],
) -> None:
    """Run `work` for every changing target in its own thread and wait for all of them.

    Failures are recorded on the outcome, never raised. The main thread stays free for the
    signal handler; after a cancellation or the deadline, workers get a grace second and are
    then abandoned, their targets marked cancelled or timed-out, so the run can report.
    """

    def guarded(outcome: TargetOutcome) -> None:
        outcome.started = time.monotonic()
        try:
            work(outcome)
        except Cancelled:
            outcome.status = "cancelled"
        except WaitTimeout as exc:
            outcome.status = "timed-out"
            outcome.error = str(exc)
        except PromoteError as exc:
            outcome.status = "failed"
            outcome.error = str(exc)
        except Exception as exc:
            # Only the type: a message could quote a response body (and a capability URL).
            outcome.status = "failed"
            outcome.error = f"unexpected {type(exc).__name__} (run with RUNNER_DEBUG=1)"
            log.debug("%s: unexpected error", outcome.plan.app.name, exc_info=True)
        finally:
            outcome.finished = time.monotonic()

    workers = []
    for outcome in outcomes:
        if not outcome.plan.change:
            outcome.status = "unchanged"
            continue
        worker = threading.Thread(
            target=guarded, args=(outcome,), name=f"target-{outcome.plan.app.name}", daemon=True
        )
        worker.start()
        workers.append(worker)
    grace_until: float | None = None
    for worker in workers:
        while worker.is_alive():
            worker.join(0.05)
            if services.cancel.cancelled or services.deadline.expired():
                grace_until = grace_until or time.monotonic() + 1.0
                if time.monotonic() > grace_until:
                    break
    for outcome in outcomes:
        services.reporter.remote.finish(outcome.log_title)
        if outcome.status in ("pending", "not-started"):
            outcome.status = "cancelled" if services.cancel.cancelled else "timed-out"


# -- reporting -----------------------------------------------------------------------------------


def overall_status(outcomes: list[TargetOutcome]) -> str:
    statuses = {o.status for o in outcomes}
    for status in ("cancelled", "failed", "timed-out"):
        if status in statuses:
            return status
    if statuses == {"unchanged"}:
        return "unchanged"
    if "created" in statuses:
        return "created"
    return "succeeded"


def failure_line(outcomes: list[TargetOutcome]) -> str | None:
    """One line: what failed, and what was changed anyway (nothing partial left silently)."""
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
    return f"{reasons}. Releases created: {', '.join(changed) or 'none'}"


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
        planned = "planned" if target.change else "unchanged"
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
            }
        )
    return results


def per_target_outputs(outcomes: list[TargetOutcome]) -> dict[str, str]:
    """Scalars for the common single-target case; a JSON object by app name otherwise."""
    released = [(o.plan.app.name, o.release) for o in outcomes if o.release]
    if not released:
        return {"release-id": "", "release-version": ""}
    if len(outcomes) == 1:
        release = released[0][1]
        return {"release-id": release.id, "release-version": str(release.version)}
    return {
        "release-id": compact_json({name: r.id for name, r in released}),
        "release-version": compact_json({name: r.version for name, r in released}),
    }


def environment_url(targets: list[TargetPlan], outcomes: list[TargetOutcome] | None) -> str | None:
    """The web URL of the first target that is live, else of the first target."""
    live = [o.plan.app.web_url for o in outcomes or [] if o.status == "succeeded"]
    return next((url for url in [*live, *(t.app.web_url for t in targets)] if url), None)
