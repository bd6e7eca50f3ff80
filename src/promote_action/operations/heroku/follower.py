"""Following new releases on many targets at once until they are live and verified.

slug-copy creates the releases itself, pipeline-promote gets them from a promotion; from the
moment a target has a release, both follow it the same way: stream the release-phase log,
poll until the release is finished, then prove the app runs it. A health check and a rollback
of a target that failed after being changed come after, when asked for.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from promote_action.errors import (
    Cancelled,
    CancelledWrite,
    PromoteError,
    RemoteError,
    VerificationError,
    WaitTimeout,
)
from promote_action.health import HealthCheckFailed, probe, soak
from promote_action.heroku.client import HerokuClient
from promote_action.heroku.models import Release
from promote_action.http import interruptible
from promote_action.inputs import Inputs
from promote_action.operations.base import Services, write_once
from promote_action.operations.heroku.targets import AppRef, TargetOutcome
from promote_action.status import Status
from promote_action.waiting import CancelToken, Deadline, wait_for

log = logging.getLogger("promote_action.heroku")

OUTPUT_TAIL = 20
"""Release-phase lines kept per target for the summary of a failure."""


@dataclass(frozen=True)
class Finished:
    """A finished release and the app's current release, read in the same response."""

    release: Release
    current: Release | None


class ReleaseFollower:
    """Follows one release per target to a verified end state, then (when asked) checks the
    app's health and rolls back a target that failed after being changed."""

    def __init__(
        self,
        heroku: HerokuClient,
        services: Services,
        inputs: Inputs,
        *,
        latest: LatestReleases | None = None,
    ) -> None:
        self.heroku = heroku
        self.services = services
        self.inputs = inputs
        self.latest = latest
        """Targets in one pipeline: one read per poll round tells every worker its status."""

    def finish(self, outcome: TargetOutcome) -> None:
        """After `settle`: health check a live target, roll back a failed one."""
        self.check_health(outcome)
        failed = outcome.status == Status.FAILED or outcome.health == "timed out"
        if failed and self.inputs.rollback_on_failure and outcome.release:
            outcome.rollback = self.roll_back(outcome)

    def check_health(self, outcome: TargetOutcome) -> None:
        """Health check a live target when asked for; a failed check fails the target (waves
        roll back themselves, so this never rolls back)."""
        if outcome.status == Status.SUCCEEDED and self.inputs.health_check:
            # Not green until proven healthy: a worker abandoned at the deadline or on a cancel
            # during the check must not leave the target reported as succeeded.
            outcome.status = Status.PENDING
            try:
                outcome.health = self._health(outcome)
                outcome.status = Status.SUCCEEDED
            except HealthCheckFailed as exc:
                outcome.status, outcome.error, outcome.health = Status.FAILED, str(exc), "failed"
            except WaitTimeout as exc:
                outcome.status, outcome.error = Status.TIMED_OUT, str(exc)
                outcome.health = "timed out"

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
        if self.inputs.health_check_soak:
            result += "; " + soak(
                url,
                expected_status=self.inputs.health_check_status,
                text=self.inputs.health_check_text,
                period=self.inputs.health_check_soak,
                deadline=self.services.deadline,
                cancel=self.services.cancel,
            )
            log.info("%s: %s", app.name, result)
        return result

    def roll_back(self, outcome: TargetOutcome) -> str:
        """Back to the release the target ran before, only if it now runs ours: an app whose
        new release failed its release phase still runs the old one, an app where someone
        else's release went live since is theirs, and an app we did not change is never
        touched. Never raises: the text says what happened, for the report."""
        try:
            return self._roll_back(outcome)
        except PromoteError as exc:
            return f"rollback of {outcome.plan.app.name} failed: {exc}"

    def _roll_back(self, outcome: TargetOutcome) -> str:  # noqa: PLR0911 - one reason each
        plan = outcome.plan
        app = plan.app
        if plan.current_release_id is None or plan.current_slug_id is None:
            return "no previous release to roll back to"
        if self.services.cancel.cancelled:
            # The job is being stopped: a rollback sent now would land after the report.
            return "not rolled back: the job was cancelled before a rollback could be sent"
        current = self.heroku.current_release(app.id)
        if current is not None and current.id == plan.current_release_id:
            return f"not needed: {app.name} still runs v{plan.current_version}"
        ours = outcome.release
        if current is not None and ours is not None and current.slug_id != ours.slug_id:
            return (
                f"not rolled back: {app.name} runs v{current.version}, not ours (v{ours.version}); "
                "someone else deployed since"
            )
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
        except PromoteError as exc:
            return f"rollback to v{plan.current_version} failed: {exc}"
        log.warning(
            "%s: rolling back to v%s (release v%s)", app.name, plan.current_version, release.version
        )
        try:
            final = self.follow(outcome, release)
        except PromoteError as exc:
            # Sent, but not seen to the end (the deadline): say so rather than "failed".
            return f"rollback release v{release.version} created, not confirmed: {exc}"
        if final.release.status != "succeeded":
            return f"rollback release v{final.release.version} {final.release.status}"
        outcome.rollback_release = final.release
        return f"rolled back to v{plan.current_version} (release v{final.release.version})"

    def settle(self, outcome: TargetOutcome, release: Release, slug_id: str) -> None:
        """Wait for `release`, then require that the target runs it; sets the outcome."""
        outcome.release = release
        outcome.status = Status.PENDING
        final = self.follow(outcome, release)
        outcome.release = final.release
        if final.release.status != "succeeded":
            outcome.status = Status.FAILED
            outcome.error = failure_text(final.release, outcome.output_tail)
            return
        self.verify(outcome.plan.app, slug_id, seen_current=final.current)
        outcome.status = Status.SUCCEEDED

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
                if stream.read(
                    lambda line: self._output_line(outcome, line),
                    cancel=services.cancel,
                    deadline=services.deadline,
                ):
                    return True
                return finished()

            first = wait_for(
                stream_or_finished,
                what=what,
                deadline=services.deadline,
                cancel=services.cancel,
                settle_first=True,
                state=lambda: "release phase running",
            )
            if isinstance(first, Finished):
                return first
        return wait_for(
            finished,
            what=what,
            deadline=services.deadline,
            cancel=services.cancel,
            settle_first=not release.output_stream_url,
            state=lambda: "pending",  # until finished, a release is pending by definition
            announce=not release.output_stream_url,  # else the log's wait said it already
        )

    def _finished(self, app_id: str, release_id: str) -> Finished | None:
        """One request answers both questions: is our release finished, and what does the app
        run now (the newest releases carry `status` and `current`). In a pipeline the request
        is shared by every target, as long as our release is its app's newest."""
        if self.latest is not None:
            newest = self.latest.newest(app_id)
            if newest is not None and newest.id == release_id:
                if not newest.finished:
                    return None
                return Finished(newest, newest if newest.current else None)
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


class LatestReleases:
    """The newest release of every app of a pipeline (`GET /pipelines/{id}/latest-releases`),
    read at most once per `max_age` seconds however many targets' workers ask: one request per
    poll round for all targets. A server without the list is not asked again; callers read per
    app whatever the list does not answer."""

    def __init__(self, heroku: HerokuClient, pipeline_id: str, *, max_age: float) -> None:
        self.heroku = heroku
        self.pipeline_id = pipeline_id
        self.max_age = max_age
        self._lock = threading.Lock()
        self._read_at = float("-inf")
        self._newest: dict[str, Release] = {}
        self._available = True

    def newest(self, app_id: str) -> Release | None:
        """`app_id`'s newest release, from a read at most `max_age` old (None: not listed)."""
        with self._lock:
            if time.monotonic() - self._read_at >= self.max_age:
                self._read()
            return self._newest.get(app_id)

    def refresh(self) -> None:
        """Read now: new releases have just appeared."""
        with self._lock:
            self._read()

    def _read(self) -> None:
        if not self._available:
            return
        try:
            releases = self.heroku.pipeline_latest_releases(self.pipeline_id)
        except RemoteError as exc:
            log.debug("the pipeline's latest releases are not available (%s)", exc.code)
            self._available, self._newest = False, {}
            return
        self._newest = {r.app.id: r for r in releases if r.app and r.app.id}
        self._read_at = time.monotonic()


class ReleaseStream:
    """The release-phase log, resumable: after a dropped connection it continues from the last
    byte received (`Range: bytes=N-`), so no line is shown twice or lost."""

    def __init__(self, heroku: HerokuClient, url: str) -> None:
        self.heroku = heroku
        self.url = url
        self.offset = 0
        self._partial = b""
        self._event_stream = False

    def read(
        self, on_line: Callable[[str], None], *, cancel: CancelToken, deadline: Deadline
    ) -> bool:
        """True once the log has ended; False if it is not available yet, broke off or the
        deadline passed. A release phase can last an hour: the read is abandoned on a cancel
        (Cancelled) or at the deadline, and the reader stops at its next chunk."""

        def stopped() -> bool:
            return cancel.cancelled or deadline.expired()

        def consume() -> bool:
            with self.heroku.output_stream(self.url, offset=self.offset) as response:
                if response.status_code not in (200, 206):
                    return False
                self._event_stream = "event-stream" in response.headers.get("Content-Type", "")
                for chunk in response.iter_bytes():
                    if stopped():
                        return False
                    self.offset += len(chunk)
                    *lines, self._partial = (self._partial + chunk).split(b"\n")
                    for raw in lines:
                        self._emit(raw, on_line)
            return True

        try:
            ended = interruptible(consume, cancel, "the release-phase log", deadline=deadline)
        except (httpx.TransportError, WaitTimeout):
            return False
        if not ended:
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
    """The release and the last line of its release phase, saying "release command failed"
    once even when that line says it too (Heroku's own last line often does)."""
    what = f"release v{release.version} {release.status}"
    if release.status == "expired":
        return f"release v{release.version} expired"
    last = next((line.strip() for line in reversed(tail) if line.strip()), None)
    if last is None:
        return f"{what} (release command failed)"
    if "release command failed" in last.lower():
        return f"{what}: {last}"
    return f"{what} (release command failed): {last}"


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
        except Cancelled as exc:
            outcome.status = Status.CANCELLED
            if isinstance(exc, CancelledWrite):
                outcome.error = str(exc)
        except WaitTimeout as exc:
            outcome.status = Status.TIMED_OUT
            outcome.error = str(exc)
        except PromoteError as exc:
            outcome.status = Status.FAILED
            outcome.error = str(exc)
        except Exception as exc:
            # Only the type: a message could quote a response body (and a capability URL).
            outcome.status = Status.FAILED
            outcome.error = f"unexpected {type(exc).__name__} (run with RUNNER_DEBUG=1)"
            log.debug("%s: unexpected error", outcome.plan.app.name, exc_info=True)
        finally:
            outcome.finished = time.monotonic()

    workers: dict[int, threading.Thread] = {}
    for index, outcome in enumerate(outcomes):
        if not outcome.plan.change:
            outcome.status = Status.UNCHANGED
            continue
        worker = threading.Thread(
            target=guarded, args=(outcome,), name=f"target-{outcome.plan.app.name}", daemon=True
        )
        worker.start()
        workers[index] = worker
    grace_until: float | None = None
    for worker in workers.values():
        while worker.is_alive():
            worker.join(0.05)
            if services.cancel.cancelled or services.deadline.expired():
                grace_until = grace_until or time.monotonic() + 1.0
                if time.monotonic() > grace_until:
                    break
        if grace_until is not None and time.monotonic() > grace_until:
            break
    stopped = Status.CANCELLED if services.cancel.cancelled else Status.TIMED_OUT
    for index, worker in workers.items():
        if worker.is_alive():
            outcomes[index] = _abandoned(outcomes[index], stopped)
    for outcome in outcomes:
        services.reporter.remote.finish(outcome.log_title)
        if outcome.status in (Status.PENDING, Status.NOT_STARTED):
            outcome.status = stopped


def _abandoned(outcome: TargetOutcome, stopped: Status) -> TargetOutcome:
    """What the report keeps of a target whose worker is still busy after the grace period: a
    frozen copy (the worker may go on writing to the original), unfinished whatever it last
    said, and, without a release known yet, the warning that its POST may still take effect."""
    frozen = dataclasses.replace(outcome, status=stopped, finished=time.monotonic())
    if frozen.release is None:
        frozen.error = (
            f"{frozen.error or stopped} before its release was confirmed: a release may "
            "still appear on it"
        )
    return frozen
