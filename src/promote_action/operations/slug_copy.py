"""slug-copy: release the slug of a source app's release on other apps, without a rebuild.

Plan (read-only): resolve the source release (newest succeeded one with a slug, or the pinned
release or slug) and each target's current release. Apply: one `POST /apps/{target}/releases`
per target that does not already run the slug, then follow each new release through its
release phase and verify that the target's current release carries the slug.
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
    AmbiguousWriteError,
    Cancelled,
    PromoteError,
    RemoteError,
    UsageError,
    VerificationError,
    WaitTimeout,
)
from promote_action.heroku.client import HerokuClient
from promote_action.heroku.models import App, Release
from promote_action.inputs import Inputs
from promote_action.operations.base import Report, Services, exit_code_for
from promote_action.report import summary
from promote_action.waiting import wait_for

log = logging.getLogger("promote_action.slug_copy")

OUTPUT_TAIL = 20
"""Release-phase lines kept per target for the summary of a failure."""


class AppRef(BaseModel):
    id: str
    name: str
    web_url: str | None = None

    @classmethod
    def of(cls, app: App) -> AppRef:
        return cls(id=app.id, name=app.name, web_url=app.web_url)


class SourcePlan(BaseModel):
    app: AppRef
    release_id: str | None
    version: int | None
    slug_id: str
    commit: str | None
    commit_description: str | None
    stack: str | None


class TargetPlan(BaseModel):
    app: AppRef
    current_release_id: str | None
    current_version: int | None
    current_slug_id: str | None
    stack: str | None
    change: bool
    """False when the target already runs the slug: nothing to release (idempotent re-runs)."""


class SlugCopyPlan(BaseModel):
    """Everything the run will do, resolved before any write; dry run and summary use it."""

    source: SourcePlan
    targets: list[TargetPlan]
    description: str
    warnings: list[str]


@dataclass
class TargetOutcome:
    """Mutable progress of one target; written by its worker thread, read by the reporter."""

    plan: TargetPlan
    status: str = "not-started"
    release: Release | None = None
    error: str | None = None
    output_tail: list[str] = field(default_factory=list)
    started: float | None = None
    finished: float | None = None

    @property
    def duration(self) -> float | None:
        if self.started is None:
            return None
        return (self.finished or time.monotonic()) - self.started


class SlugCopy:
    name = "slug-copy"

    def __init__(self, inputs: Inputs, services: Services, heroku: HerokuClient) -> None:
        inputs.require("heroku-api-key", "source-app", "target-apps")
        if inputs.release and inputs.slug:
            raise UsageError("slug", "give either 'release' or 'slug', not both")
        if inputs.source_app in inputs.target_apps:
            raise UsageError("target-apps", f"'{inputs.source_app}' is also the source app")
        self.inputs = inputs
        self.services = services
        self.heroku = heroku

    # -- plan -------------------------------------------------------------------------------------

    def plan(self) -> SlugCopyPlan:
        source_name = str(self.inputs.source_app)
        source_app = self._app("source-app", source_name)
        source = self._source(source_app)
        targets = [self._target(name, source) for name in self.inputs.target_apps]
        seen: dict[str, str] = {}
        for target, name in zip(targets, self.inputs.target_apps, strict=True):
            if target.app.id == source_app.id:
                raise UsageError("target-apps", f"'{name}' is the source app {source_app.name}")
            if target.app.id in seen:
                raise UsageError("target-apps", f"'{name}' and '{seen[target.app.id]}' are one app")
            seen[target.app.id] = name
        warnings = [
            f"{t.app.name} runs stack {t.stack} but the slug was built for {source.stack}"
            for t in targets
            if t.stack and source.stack and t.stack != source.stack
        ]
        return SlugCopyPlan(
            source=source,
            targets=targets,
            description=self.inputs.description or self._default_description(source),
            warnings=warnings,
        )

    def _app(self, input_name: str, name: str) -> App:
        """A 404 here means the input names an app that does not exist: a usage error."""
        try:
            app = self.heroku.app(name)
        except RemoteError as exc:
            if exc.code == "not_found":
                raise UsageError(input_name, f"app '{name}' not found ({exc})") from None
            raise
        if app.is_fir:
            raise UsageError(
                input_name, f"app '{app.name}' is a Fir app: it runs OCI images, not slugs"
            )
        return app

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

    def _source_release(self, app: App) -> Release:
        pinned = self.inputs.release
        if pinned:
            try:
                release = self.heroku.release(app.id, pinned)
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
                    "only a succeeded release can be copied",
                )
            if not release.slug_id:
                raise UsageError("release", _no_slug(app, release))
            return release
        newest_without_slug = None
        for release in self.heroku.newest_releases(app.id):
            if release.status != "succeeded":
                continue
            if release.slug_id:
                return release
            newest_without_slug = newest_without_slug or release
        if newest_without_slug:
            raise UsageError("source-app", _no_slug(app, newest_without_slug))
        raise UsageError(
            "source-app",
            f"{app.name} has no succeeded release with a slug; push code to {app.name} first",
        )

    def _target(self, name: str, source: SourcePlan) -> TargetPlan:
        app = self._app("target-apps", name)
        current = self.heroku.current_release(app.id)
        return TargetPlan(
            app=AppRef.of(app),
            current_release_id=current.id if current else None,
            current_version=current.version if current else None,
            current_slug_id=current.slug_id if current else None,
            stack=app.stack.name if app.stack else None,
            change=not (current and current.slug_id == source.slug_id),
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
        workers = []
        for outcome in outcomes:
            if not outcome.plan.change:
                outcome.status = "unchanged"
                continue
            worker = threading.Thread(
                target=self._release_target,
                args=(plan, outcome),
                name=f"target-{outcome.plan.app.name}",
                daemon=True,
            )
            worker.start()
            workers.append(worker)
        self._join(workers)
        for outcome in outcomes:
            self.services.reporter.remote.finish(_log_title(outcome))
            if outcome.status in ("pending", "not-started"):
                outcome.status = "cancelled" if self.services.cancel.cancelled else "timed-out"
        return outcomes

    def _join(self, workers: list[threading.Thread]) -> None:
        """The main thread stays free for the signal handler; a worker stuck in a slow
        request is abandoned once the deadline (plus a grace second) has passed."""
        grace_until: float | None = None
        for worker in workers:
            while worker.is_alive():
                worker.join(0.05)
                if self.services.cancel.cancelled or self.services.deadline.expired():
                    grace_until = grace_until or time.monotonic() + 1.0
                    if time.monotonic() > grace_until:
                        return

    def _release_target(self, plan: SlugCopyPlan, outcome: TargetOutcome) -> None:
        app = outcome.plan.app
        outcome.started = time.monotonic()
        try:
            release = self._create(plan, outcome.plan)
            outcome.release = release
            outcome.status = "pending"
            log.info("%s: created release v%s", app.name, release.version)
            if not self.inputs.wait:
                outcome.status = "created"
                return
            final = self._follow(outcome, release)
            outcome.release = final
            if final.status != "succeeded":
                outcome.status = "failed"
                outcome.error = _failure_text(final, outcome.output_tail)
                return
            self._verify(app, plan.source.slug_id)
            outcome.status = "succeeded"
        except Cancelled:
            outcome.status = "cancelled"
        except WaitTimeout as exc:
            outcome.status = "timed-out"
            outcome.error = str(exc)
        except PromoteError as exc:
            outcome.status = "failed"
            outcome.error = str(exc)
        finally:
            outcome.finished = time.monotonic()

    def _create(self, plan: SlugCopyPlan, target: TargetPlan) -> Release:
        """POST the release once. If the response is lost, look before sending it again: a
        release of this slug newer than the planned current one means the POST took effect."""
        app = target.app
        try:
            return self.heroku.create_release(
                app.id, slug_id=plan.source.slug_id, description=plan.description
            )
        except AmbiguousWriteError as exc:
            log.warning("%s: %s; checking whether the release was created", app.name, exc)
        for release in self.heroku.newest_releases(app.id):
            if target.current_version is not None and release.version <= target.current_version:
                break
            if release.slug_id == plan.source.slug_id:
                log.info("%s: the release was created (v%s)", app.name, release.version)
                return release
        log.info("%s: the release was not created; sending it again", app.name)
        return self.heroku.create_release(
            app.id, slug_id=plan.source.slug_id, description=plan.description
        )

    def _follow(self, outcome: TargetOutcome, release: Release) -> Release:
        """Read the release-phase log while it runs (one long request instead of many polls),
        then poll the release until it is finished, with a fresh fast schedule because the
        end is near once the log has closed."""
        app = outcome.plan.app
        services = self.services
        what = f"release v{release.version} on {app.name}"
        if release.output_stream_url:
            services.reporter.mask(release.output_stream_url)
            stream = ReleaseStream(self.heroku, release.output_stream_url)

            def stream_or_finished() -> Release | bool | None:
                if stream.read(lambda line: self._output_line(outcome, line)):
                    return True
                latest = self.heroku.release(app.id, release.id)
                return latest if latest.finished else None

            first = wait_for(
                stream_or_finished,
                what=what,
                deadline=services.deadline,
                cancel=services.cancel,
                settle_first=True,
            )
            if isinstance(first, Release):
                return first

        def finished() -> Release | None:
            latest = self.heroku.release(app.id, release.id)
            return latest if latest.finished else None

        return wait_for(
            finished,
            what=what,
            deadline=services.deadline,
            cancel=services.cancel,
            settle_first=not release.output_stream_url,
        )

    def _output_line(self, outcome: TargetOutcome, line: str) -> None:
        outcome.output_tail = [*outcome.output_tail[-(OUTPUT_TAIL - 1) :], line]
        self.services.reporter.remote.line(_log_title(outcome), line)

    def _verify(self, app: AppRef, slug_id: str) -> None:
        """`succeeded` is the platform's word; the current release carrying our slug is proof."""
        current = self.heroku.current_release(app.id)
        if current is None or current.slug_id != slug_id:
            running = f"v{current.version} with slug {current.slug_id}" if current else "nothing"
            raise VerificationError(
                f"{app.name}: the release succeeded but the app runs {running}, not slug {slug_id}"
            )

    # -- report -----------------------------------------------------------------------------------

    def report(self, plan: SlugCopyPlan, outcomes: list[TargetOutcome] | None) -> Report:
        requests = self.heroku.http.requests_sent
        if outcomes is None:
            status = "dry-run"
            failure = None
        else:
            status = _overall(outcomes)
            failure = (
                _failure_line(outcomes)
                if status not in ("succeeded", "unchanged", "created")
                else None
            )
        outputs = {
            "status": status,
            "slug-id": plan.source.slug_id,
            "source-release-version": str(plan.source.version or ""),
            "result": summary.compact_json(_result(plan, outcomes, status)),
        }
        outputs.update(_per_target_outputs(outcomes or []))
        markdown = summary.slug_copy(plan, outcomes, status, requests, self.services.run)
        return Report(
            status=status,
            outputs=outputs,
            summary=markdown,
            failure=failure,
            exit_code=exit_code_for(status, failure),
        )


class ReleaseStream:
    """The release-phase log, resumable: after a dropped connection it continues from the last
    byte received (`Range: bytes=N-`), so no line is shown twice or lost."""

    def __init__(self, heroku: HerokuClient, url: str) -> None:
        self.heroku = heroku
        self.url = url
        self.offset = 0
        self._partial = b""

    def read(self, on_line: Callable[[str], None]) -> bool:
        """True once the log has ended; False if it is not available yet or broke off."""
        try:
            with self.heroku.output_stream(self.url, offset=self.offset) as response:
                if response.status_code not in (200, 206):
                    return False
                event_stream = "event-stream" in response.headers.get("Content-Type", "")
                for chunk in response.iter_bytes():
                    self.offset += len(chunk)
                    *lines, self._partial = (self._partial + chunk).split(b"\n")
                    for raw in lines:
                        self._emit(raw, event_stream, on_line)
        except httpx.TransportError:
            return False
        if self._partial:
            self._emit(self._partial, False, on_line)
            self._partial = b""
        return True

    @staticmethod
    def _emit(raw: bytes, event_stream: bool, on_line: Callable[[str], None]) -> None:
        text = raw.decode("utf-8", errors="replace").rstrip("\r")
        if event_stream:
            if not text.startswith("data:"):
                return
            text = text[5:].removeprefix(" ")
        on_line(text)


def _no_slug(app: App, release: Release) -> str:
    return (
        f"release v{release.version} of {app.name} has no slug (a container or Fir release); "
        "slug copy needs an app built with buildpacks"
    )


def _log_title(outcome: TargetOutcome) -> str:
    version = f" v{outcome.release.version}" if outcome.release else ""
    return f"Release phase: {outcome.plan.app.name}{version}"


def _failure_text(release: Release, tail: list[str]) -> str:
    if release.status == "expired":
        return f"release v{release.version} expired"
    last = next((line for line in reversed(tail) if line.strip()), None)
    detail = f": {last.strip()}" if last else ""
    return f"release v{release.version} {release.status} (release command failed){detail}"


def _overall(outcomes: list[TargetOutcome]) -> str:
    statuses = {o.status for o in outcomes}
    for status in ("cancelled", "failed", "timed-out"):
        if status in statuses:
            return status
    if statuses == {"unchanged"}:
        return "unchanged"
    if "created" in statuses:
        return "created"
    return "succeeded"


def _failure_line(outcomes: list[TargetOutcome]) -> str:
    """One line: what failed, and what was changed anyway (nothing partial left silently)."""
    bad = [o for o in outcomes if o.status not in ("succeeded", "unchanged", "created")]
    changed = [
        f"{o.plan.app.name} v{o.release.version} ({o.status})" for o in outcomes if o.release
    ]
    reasons = "; ".join(f"{o.plan.app.name}: {o.error or o.status}" for o in bad)
    return f"{reasons}. Releases created: {', '.join(changed) or 'none'}"


def _result(plan: SlugCopyPlan, outcomes: list[TargetOutcome] | None, status: str) -> object:
    by_app = {o.plan.app.id: o for o in outcomes or []}
    targets = []
    for target in plan.targets:
        outcome = by_app.get(target.app.id)
        release = outcome.release if outcome else None
        duration = outcome.duration if outcome else None
        targets.append(
            {
                "app": target.app.name,
                "app_id": target.app.id,
                "status": outcome.status
                if outcome
                else ("planned" if target.change else "unchanged"),
                "release_id": release.id if release else None,
                "release_version": release.version if release else None,
                "previous_version": target.current_version,
                "error": outcome.error if outcome else None,
                "duration_seconds": round(duration, 3) if duration is not None else None,
            }
        )
    return {
        "operation": "slug-copy",
        "status": status,
        "source": {
            "app": plan.source.app.name,
            "release_id": plan.source.release_id,
            "release_version": plan.source.version,
            "slug_id": plan.source.slug_id,
            "commit": plan.source.commit,
        },
        "targets": targets,
    }


def _per_target_outputs(outcomes: list[TargetOutcome]) -> dict[str, str]:
    """Scalars for the common single-target case; a JSON object by app name otherwise."""
    released = [o for o in outcomes if o.release]
    if not released:
        return {"release-id": "", "release-version": ""}
    if len(outcomes) == 1:
        release = released[0].release
        assert release is not None
        return {"release-id": release.id, "release-version": str(release.version)}
    ids = {o.plan.app.name: o.release.id for o in released if o.release}
    versions = {o.plan.app.name: o.release.version for o in released if o.release}
    return {
        "release-id": summary.compact_json(ids),
        "release-version": summary.compact_json(versions),
    }
