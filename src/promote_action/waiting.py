"""The one waiting primitive: a deadline, an adaptive poll schedule and cancellation.

Every operation waits through `wait_for`, so the job-wide `timeout` input, the SIGTERM handler
and the request budget behave the same everywhere instead of one `while True: sleep(1)` per
command.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from promote_action.errors import Cancelled, WaitTimeout

T = TypeVar("T")

log = logging.getLogger("promote_action.waiting")

PROGRESS_EVERY = 20.0
"""Seconds between "still waiting" lines: a silent log for minutes looks hung, a line per poll
buries the rest."""


SIGNAL_CHECK_SECONDS = 0.5
"""The longest a sleep goes without returning to the interpreter (see CancelToken.sleep)."""


class CancelToken:
    """Shared by every thread of a run; the signal handler sets it, sleepers wake at once."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""

    def cancel(self, reason: str) -> None:
        self.reason = reason
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled(f"cancelled ({self.reason})")

    def sleep(self, seconds: float) -> None:
        """Sleep that a cancellation interrupts: a cancelled job must exit within 2 s.

        Slept in short slices: a signal the kernel delivers to another thread runs its Python
        handler (which cancels this token) only once the main thread is back in the
        interpreter, so one long wait could hold a cancellation for up to 30 s."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            if self._event.wait(min(left, SIGNAL_CHECK_SECONDS)):
                break
        self.raise_if_cancelled()


class Deadline:
    """The end of the whole run's patience (`timeout` input), shared by every wait in it."""

    def __init__(self, seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._end = clock() + seconds

    def remaining(self) -> float:
        return max(0.0, self._end - self._clock())

    def expired(self) -> bool:
        return self._clock() >= self._end


@dataclass(frozen=True)
class PollSchedule:
    """When to poll, as times since the start of the wait: anchored on the clock, so the time
    a probe takes never shifts the polls after it.

    Dense first: every `first_delay` seconds for the first `dense_for` seconds, because most
    waits are short (a Heroku release without a release phase settles within a second or two)
    and a poll every quarter second notices them at once. Then each poll comes a `fraction` of
    the time already waited after the previous one (at least `min_interval`, at most
    `max_interval`): a long wait costs few requests (15 in the first minute by default, then
    two a minute), and completion is noticed within `fraction` of the wait. `first_delay` 0
    means no dense phase.
    """

    first_delay: float = 0.25
    dense_for: float = 2.0
    fraction: float = 0.6
    min_interval: float = 1.0
    max_interval: float = 30.0

    def __post_init__(self) -> None:
        if self.min_interval <= 0 or self.max_interval < self.min_interval:
            raise ValueError("a poll schedule needs 0 < min_interval <= max_interval")

    def next_poll(self, after: float) -> float:
        """The time of the first poll due strictly after `after` seconds of waiting."""
        dense_end = 0.0
        if self.first_delay > 0:
            slots = math.floor(self.dense_for / self.first_delay + 1e-9)
            dense_end = slots * self.first_delay
            if after < dense_end:
                return (math.floor(after / self.first_delay + 1e-9) + 1) * self.first_delay
        due = dense_end
        while due <= after:
            due += min(self.max_interval, max(self.min_interval, due * self.fraction))
        return due


HEROKU_SCHEDULE = PollSchedule()


def wait_for(
    probe: Callable[[], T | None],
    *,
    what: str,
    deadline: Deadline,
    cancel: CancelToken,
    schedule: PollSchedule = HEROKU_SCHEDULE,
    settle_first: bool = False,
    clock: Callable[[], float] = time.monotonic,
    state: Callable[[], str] | None = None,
    progress_every: float | None = None,
    announce: bool = True,
) -> T:
    """Call `probe` until it returns a value; raise WaitTimeout or Cancelled otherwise.

    `settle_first` skips the immediate probe when the caller has just started the change and
    knows it cannot be finished yet (saves a request per wait). Each probe runs at the next
    time of `schedule` after the previous one returned; a probe slower than an interval skips
    the polls it overran instead of pushing the rest later. The probe runs once more at the
    deadline, so a state reached just before it is not reported as a timeout.

    It says what it waits for when it starts (unless `announce` is off: a wait that continues
    one already announced), and every `progress_every` seconds after that "still waiting for
    ..." with `state()` (the last state the probe saw) and the time waited, in the job log and
    in a terminal alike. `progress_every` defaults to PROGRESS_EVERY, read at each call.
    """
    started = clock()
    every = PROGRESS_EVERY if progress_every is None else progress_every
    next_progress = every  # seconds of waiting
    if announce:
        log.info("waiting for %s", what)
    if settle_first:
        cancel.sleep(min(schedule.next_poll(0.0), deadline.remaining()))
    while True:
        cancel.raise_if_cancelled()
        result = probe()
        if result is not None:
            return result
        if deadline.expired():
            raise WaitTimeout(
                f"timed out after {format_duration(deadline.seconds)} waiting for {what}"
            )
        waited = clock() - started
        if waited >= next_progress:
            current = state() if state else ""
            elapsed = format_duration(waited)
            log.info(
                "still waiting for %s (%s)", what, f"{current}, {elapsed}" if current else elapsed
            )
            next_progress = waited + every
        cancel.sleep(min(schedule.next_poll(waited) - waited, deadline.remaining()))


def format_duration(seconds: float) -> str:
    """Human form used in messages and summaries (`1m 30s`, `4.2s`)."""
    if seconds < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{seconds:.0f}s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    return f"{minutes}m {secs}s" if secs else f"{minutes}m"
