"""Progressive delivery for slug-copy and pipeline-promote: a canary first, then waves.

Planning turns `canary-apps` and `waves` into numbered waves of targets, kept in the plan so
that mode apply follows exactly those. Applying releases one wave at a time: its targets are
released together, followed until live and health checked (soaked with `health-check-soak`);
only then does the next wave start. The first wave that does not end well (a failed release or
health check, the deadline, a cancellation) halts the run: no further wave starts, and with
`rollback-on-failure` every app this run released is rolled back once, to the release it ran
before. The operation only says how one wave is released (a POST per target, or one promotion).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Any

from pydantic import BaseModel, Field

from promote_action.errors import UsageError
from promote_action.inputs import Inputs, WaveSpec
from promote_action.inputs.plan_fields import Id
from promote_action.inputs.validators import MAX_TARGETS
from promote_action.operations.base import Services
from promote_action.operations.heroku.follower import ReleaseFollower
from promote_action.operations.heroku.results import failure_line, overall_status
from promote_action.operations.heroku.targets import TargetOutcome, TargetPlan
from promote_action.report import markdown as md
from promote_action.report.common import status_cell
from promote_action.status import SETTLED_OK, Status

log = logging.getLogger("promote_action.waves")

WhenLive = Callable[[TargetOutcome], None]
ReleaseWave = Callable[[list[TargetOutcome], WhenLive], str | None]
"""Releases one wave's targets and returns when each is settled, calling `WhenLive` from a
target's worker once its release is verified live; returns the wave's promotion id, if any."""


class Wave(BaseModel):
    """A planned wave: its targets (app ids) and whether it is the canary."""

    number: Annotated[int, Field(ge=1, le=MAX_TARGETS)]
    app_ids: Annotated[list[Id], Field(min_length=1, max_length=MAX_TARGETS)]
    canary: bool = False


# -- planning -------------------------------------------------------------------------------------


def check_wave_inputs(inputs: Inputs) -> None:
    """Combinations that cannot work, refused before any request (exit 2)."""
    if (inputs.canary_apps or inputs.waves is not None) and not inputs.wait:
        name = "waves" if inputs.waves is not None else "canary-apps"
        raise UsageError(name, "needs wait: true (a wave starts once the previous one is live)")
    if inputs.health_check_soak and not inputs.health_check:
        raise UsageError("health-check-soak", "needs health-check: true")


def plan_waves(inputs: Inputs, targets: list[TargetPlan]) -> list[Wave]:
    """The waves `canary-apps` and `waves` ask for; none (all targets at once) without them.

    Sizes are cumulative over the targets with the canary apps first (`25%` rounds up, so a
    wave is never empty); a size that adds no target is skipped, and targets beyond the last
    size form a final wave. App lists must place every target in exactly one wave.
    """
    spec = inputs.waves
    if not inputs.canary_apps and spec is None:
        return []
    canary = _resolve("canary-apps", inputs.canary_apps, targets)
    if len(canary) == len(targets) and spec is None:
        raise UsageError("canary-apps", "names every target; leave some for after the canary")
    groups = [canary] if canary else []
    rest = [t for t in targets if t not in canary]
    if spec is None:
        groups.append(rest)
    elif spec.groups:
        groups += [_resolve("waves", group, targets) for group in spec.groups]
        _check_partition(groups, targets)
    else:
        groups += _sized(spec, canary, rest)
    return [
        Wave(number=index, app_ids=[t.app.id for t in group], canary=bool(canary) and index == 1)
        for index, group in enumerate((g for g in groups if g), start=1)
    ]


def pinned_waves(waves: list[Wave]) -> dict[str, Any]:
    """Inputs that plan exactly these waves again (mode apply): app lists by id."""
    if not waves:
        return {"canary_apps": [], "waves": None}
    return {"canary_apps": [], "waves": WaveSpec(groups=[wave.app_ids for wave in waves])}


def _resolve(input_name: str, names: list[str], targets: list[TargetPlan]) -> list[TargetPlan]:
    by_key = {key: t for t in targets for key in (t.app.id, t.app.name)}
    found = []
    for name in names:
        target = by_key.get(name)
        if target is None:
            listed = ", ".join(t.app.name for t in targets)
            raise UsageError(input_name, f"'{name}' is not a target of this run ({listed})")
        found.append(target)
    return found


def _check_partition(groups: list[list[TargetPlan]], targets: list[TargetPlan]) -> None:
    placed: set[str] = set()
    for group in groups:
        for target in group:
            if target.app.id in placed:
                raise UsageError("waves", f"{target.app.name} is in two waves (or the canary)")
            placed.add(target.app.id)
    missing = [t.app.name for t in targets if t.app.id not in placed]
    if missing:
        raise UsageError(
            "waves", f"every target must be in a wave; not in any: {', '.join(missing)}"
        )


def _sized(
    spec: WaveSpec, canary: list[TargetPlan], rest: list[TargetPlan]
) -> list[list[TargetPlan]]:
    ordered = [*canary, *rest]
    done = len(canary)
    previous = 0
    groups = []
    for size in spec.sizes:
        count = math.ceil(size.value * len(ordered) / 100) if size.percent else size.value
        count = min(count, len(ordered))
        if count < previous:
            raise UsageError("waves", "sizes are cumulative and must not shrink (1, 25%, 100%)")
        previous = count
        if count > done:
            groups.append(ordered[done:count])
            done = count
    return [*groups, ordered[done:]]


# -- applying -------------------------------------------------------------------------------------


@dataclass
class WaveOutcome:
    """How one wave went; written by the wave runner and its targets' workers."""

    wave: Wave
    targets: list[TargetOutcome]
    status: Status = Status.NOT_STARTED
    started_at: datetime | None = None
    live_at: datetime | None = None
    """When the wave's last release was verified live (before health checks)."""
    promotion_id: str | None = None
    rolled_back: bool = False


@dataclass
class WaveRun:
    waves: list[WaveOutcome]
    halted: str | None = None
    """Why no further wave started, when one did not."""
    status: Status = Status.SUCCEEDED
    """The run's status: that of the wave that halted it (cancelled between waves)."""
    notes: list[str] = field(default_factory=list)

    def failure(self, outcomes: list[TargetOutcome]) -> str | None:
        """The run's one-line failure: the halt, then what failed and what was released."""
        if not self.halted:
            return None
        started = {id(o) for w in self.waves if w.started_at for o in w.targets}
        details = failure_line([o for o in outcomes if id(o) in started])
        return ". ".join([halt_line(self), *self.notes, *([details] if details else [])])


class WaveRunner:
    """Runs planned waves one after the other; halts and rolls back on the first bad one."""

    def __init__(
        self,
        services: Services,
        inputs: Inputs,
        follower: ReleaseFollower,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.services = services
        self.inputs = inputs
        self.follower = follower
        self.clock = clock
        self._lock = threading.Lock()

    def run(
        self, waves: list[Wave], outcomes: list[TargetOutcome], release_wave: ReleaseWave
    ) -> WaveRun:
        by_id = {o.plan.app.id: o for o in outcomes}
        run = WaveRun([WaveOutcome(w, [by_id[i] for i in w.app_ids]) for w in waves])
        total = len(waves)
        for wave in run.waves:
            label = wave_label(wave.wave, total)
            if self.services.cancel.cancelled:
                run.halted, run.status = f"cancelled before {label}", Status.CANCELLED
                break
            names = ", ".join(o.plan.app.name for o in wave.targets)
            log.info("%s: %s", label, names)
            self.services.on_progress(f"{label}: {names}")
            wave.started_at = self.clock()
            wave.promotion_id = release_wave(wave.targets, partial(self._when_live, wave))
            wave.status = overall_status(wave.targets)
            if wave.live_at is None and wave.status in SETTLED_OK:
                wave.live_at = wave.started_at
            if wave.status not in SETTLED_OK:
                run.halted, run.status = f"{label} {wave.status}", wave.status
                break
        if run.halted:
            log.warning("halted: %s; no further wave starts", run.halted)
            if self.inputs.rollback_on_failure:
                self._roll_back(run)
        return run

    def _when_live(self, wave: WaveOutcome, outcome: TargetOutcome) -> None:
        """Called when a target's release settled: only a succeeded one makes the wave live."""
        if outcome.status == Status.SUCCEEDED:
            with self._lock:
                wave.live_at = self.clock()
        self.follower.check_health(outcome)

    def _roll_back(self, run: WaveRun) -> None:
        """Every app released in this run, once, concurrently; an app still on its previous
        release (a failed release phase) needs none, and the follower says so."""
        released = [o for wave in run.waves for o in wave.targets if o.release is not None]
        if not released:
            return
        if self.services.cancel.cancelled:
            for outcome in released:
                outcome.rollback = "not rolled back: the job was cancelled"
            run.notes.append(
                "Not rolled back, the job was cancelled: "
                + ", ".join(o.plan.app.name for o in released)
            )
            return
        with ThreadPoolExecutor(max_workers=len(released)) as pool:
            texts = list(pool.map(self.follower.roll_back, released))
        for outcome, text in zip(released, texts, strict=True):
            outcome.rollback = text
            if outcome.rolled_back and outcome.status in SETTLED_OK:
                outcome.status = Status.ROLLED_BACK
                outcome.error = f"live, then rolled back: {run.halted}"
        for wave in run.waves:
            wave.rolled_back = any(o.rolled_back for o in wave.targets)
            if wave.rolled_back and wave.status in SETTLED_OK:
                wave.status = Status.ROLLED_BACK


def wave_lines(waves: list[Wave], targets: list[TargetPlan]) -> list[str]:
    """The planned waves as log lines, after the targets."""
    names = {t.app.id: t.app.name for t in targets}
    return [
        f"{wave_label(wave, len(waves))}: {', '.join(names[i] for i in wave.app_ids)}"
        for wave in waves
    ]


def wave_label(wave: Wave, total: int) -> str:
    return f"wave {wave.number} of {total}" + (" (canary)" if wave.canary else "")


# -- reporting ------------------------------------------------------------------------------------


def waves_output(
    waves: list[Wave], targets: list[TargetPlan], run: WaveRun | None, unapplied: Status
) -> list[dict[str, object]]:
    """The `waves` output: planned waves, and how each went once applied."""
    names = {t.app.id: t.app.name for t in targets}
    outcomes = {w.wave.number: w for w in run.waves} if run else {}
    entries: list[dict[str, object]] = []
    for wave in waves:
        done = outcomes.get(wave.number)
        entries.append(
            {
                "wave": wave.number,
                "canary": wave.canary,
                "apps": [names[i] for i in wave.app_ids],
                "status": done.status if done else unapplied,
                "started_at": _iso(done.started_at) if done else None,
                "live_at": _iso(done.live_at) if done else None,
                "health": {o.plan.app.name: o.health for o in done.targets if o.health}
                if done
                else {},
                "promotion_id": done.promotion_id if done else None,
                "rolled_back": done.rolled_back if done else False,
            }
        )
    return entries


def waves_section(
    waves: list[Wave], targets: list[TargetPlan], run: WaveRun | None, health_check: bool
) -> list[str]:
    """The summary's timeline: one row per wave (apps, start, live, health, result), then why
    the run halted and what was rolled back."""
    if not waves:
        return []
    by_id = {t.app.id: t for t in targets}
    outcomes = {w.wave.number: w for w in run.waves} if run else {}
    rows = []
    for wave in waves:
        done = outcomes.get(wave.number)
        apps = ", ".join(
            md.text(by_id[i].app.name) + ("" if by_id[i].change else " (already runs it)")
            for i in wave.app_ids
        )
        result = status_cell(done.status if done else Status.PLANNED)
        if done and done.rolled_back and done.status != Status.ROLLED_BACK:
            result += ", ↩️ rolled back"
        rows.append(
            [
                md.text(wave_label(wave, len(waves))),
                apps,
                _clock(done.started_at if done else None),
                _clock(done.live_at if done else None),
                _health(done, health_check),
                result,
            ]
        )
    header = ["Wave", "Apps", "Start (UTC)", "Live (UTC)", "Health", "Result"]
    blocks = ["### Waves", md.table(header, rows)]
    if run and run.halted:
        blocks.append(f"**Halted:** {md.text(halt_line(run))}")
    blocks += [md.text(note) for note in run.notes] if run else []
    return blocks


def halt_line(run: WaveRun) -> str:
    """Which waves shipped, which were rolled back, which never started, and why."""
    shipped = [w for w in run.waves if w.status in SETTLED_OK or w.status == Status.ROLLED_BACK]
    rolled = [w for w in run.waves if w.rolled_back]
    skipped = [w for w in run.waves if w.started_at is None]
    parts = [f"{run.halted}; no further wave started"]
    parts.append("shipped: " + (_numbers(shipped) if shipped else "none"))
    if rolled:
        parts.append("rolled back: " + _numbers(rolled))
    if skipped:
        parts.append("not started: " + _numbers(skipped))
    return "; ".join(parts)


def _numbers(waves: list[WaveOutcome]) -> str:
    return ", ".join(f"wave {w.wave.number}" for w in waves)


def _health(done: WaveOutcome | None, health_check: bool) -> str:
    if done is None or not health_check or done.started_at is None:
        return "—"
    failed = [o.plan.app.name for o in done.targets if o.health == "failed"]
    if failed:
        return "❌ " + md.text(", ".join(failed))
    checked = [o for o in done.targets if o.health]
    return f"✅ {len(checked)} healthy" if checked else "—"


def _clock(moment: datetime | None) -> str:
    return moment.strftime("%H:%M:%S") if moment else "—"


def _iso(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None
