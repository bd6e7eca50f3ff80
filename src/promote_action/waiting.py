"""The one waiting primitive: a deadline, an adaptive poll schedule and cancellation.

Every operation waits through `wait_for`, so the job-wide `timeout` input, the SIGTERM handler
and the request budget behave the same everywhere instead of one `while True: sleep(1)` per
command.
"""

from __future__ import annotations

import logging
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
        """Sleep that a cancellation interrupts: a cancelled job must exit within 2 s."""
        if seconds > 0 and self._event.wait(seconds):
            self.raise_if_cancelled()
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
    """How long to wait before each poll, given how long we have been waiting.

    The first polls come quickly (`first_delay`, doubling up to `min_interval`) because most
    waits are short. After that the interval is a `fraction` of the time already waited, up to
    `max_interval`: completion is always noticed within `fraction` of the wait (or
    `min_interval`), while a long wait costs few requests.
    """

    first_delay: float = 0.25
    min_interval: float = 1.0
    fraction: float = 0.1
    max_interval: float = 30.0

    def next_delay(self, waited: float, polls: int) -> float:
        ramp = min(self.min_interval, self.first_delay * 2.0**polls)
        return min(self.max_interval, max(ramp, waited * self.fraction))


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
    knows it cannot be finished yet (saves a request per wait). The probe runs once more at
    the deadline, so a state reached just before it is not reported as a timeout.

    It says what it waits for when it starts (unless `announce` is off: a wait that continues
    one already announced), and every `progress_every` seconds after that "still waiting for
    ..." with `state()` (the last state the probe saw) and the time waited, in the job log and
    in a terminal alike. `progress_every` defaults to PROGRESS_EVERY, read at each call.
    """
    started = clock()
    polls = 0
    every = PROGRESS_EVERY if progress_every is None else progress_every
    next_progress = started + every
    if announce:
        log.info("waiting for %s", what)
    if settle_first:
        cancel.sleep(min(schedule.first_delay, deadline.remaining()))
        polls = 1
    while True:
        cancel.raise_if_cancelled()
        result = probe()
        if result is not None:
            return result
        if deadline.expired():
            raise WaitTimeout(
                f"timed out after {format_duration(deadline.seconds)} waiting for {what}"
            )
        now = clock()
        if now >= next_progress:
            current = state() if state else ""
            elapsed = format_duration(now - started)
            log.info(
                "still waiting for %s (%s)", what, f"{current}, {elapsed}" if current else elapsed
            )
            next_progress = now + every
        delay = schedule.next_delay(now - started, polls)
        polls += 1
        cancel.sleep(min(delay, deadline.remaining()))


def format_duration(seconds: float) -> str:
    """Human form used in messages and summaries (`1m 30s`, `4.2s`)."""
    if seconds < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{seconds:.0f}s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    return f"{minutes}m {secs}s" if secs else f"{minutes}m"
