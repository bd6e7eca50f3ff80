"""The waiting primitive: deadline, adaptive schedule, cancellation."""

from __future__ import annotations

import threading
import time

import pytest

from promote_action.errors import Cancelled, WaitTimeout
from promote_action.waiting import CancelToken, Deadline, PollSchedule, format_duration, wait_for


def simulated_polls(schedule: PollSchedule, wait: float) -> tuple[int, float]:
    """Polls spent until a state reached at `wait` seconds is seen, and how late it is seen."""
    now, polls = 0.0, 0
    while True:
        polls += 1
        if now >= wait:
            return polls, now - wait
        now += schedule.next_delay(now, polls - 1)


@pytest.mark.parametrize("wait", [0.3, 2, 5, 10, 30, 60, 300])
def test_schedule_notices_completion_within_a_tenth_of_the_wait_or_one_second(wait):
    _, late = simulated_polls(PollSchedule(), wait)
    assert late <= max(1.0, 0.1 * wait) + 1e-9


def test_schedule_spends_few_polls_on_a_long_wait():
    polls_10m, _ = simulated_polls(PollSchedule(), 600)
    polls_1m, _ = simulated_polls(PollSchedule(), 60)
    assert polls_10m - polls_1m < 30, "a long wait must cost few additional requests"
    assert PollSchedule().next_delay(3600, 50) == 30.0


def test_wait_for_returns_the_first_value():
    calls = iter([None, None, "done"])
    result = wait_for(
        lambda: next(calls),
        what="x",
        deadline=Deadline(5),
        cancel=CancelToken(),
        schedule=PollSchedule(first_delay=0.01, min_interval=0.01),
    )
    assert result == "done"


def test_wait_for_times_out_after_a_last_probe_at_the_deadline():
    probes = []
    with pytest.raises(WaitTimeout, match=r"timed out after 1\.0s waiting for the thing"):
        wait_for(
            lambda: probes.append(time.monotonic()),
            what="the thing",
            deadline=Deadline(1),
            cancel=CancelToken(),
            schedule=PollSchedule(first_delay=0.4, min_interval=0.4),
        )
    assert len(probes) >= 3


def test_cancellation_wakes_a_sleeping_wait_at_once():
    cancel = CancelToken()
    probes: list[int] = []

    def probe() -> None:
        probes.append(1)
        # Cancelled from another thread while the wait sleeps for the next 30 s poll.
        threading.Timer(0.05, cancel.cancel, args=("SIGTERM",)).start()

    with pytest.raises(Cancelled, match="SIGTERM"):
        wait_for(
            probe,
            what="x",
            deadline=Deadline(3600),
            cancel=cancel,
            schedule=PollSchedule(first_delay=30, min_interval=30),
        )
    # Woken in its first 30 s sleep (a wait that slept it out would have probed again; the
    # test would take 30 s): the sleep, not a poll, noticed the cancellation.
    assert probes == [1]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(4.25, "4.2s"), (42, "42s"), (90, "1m 30s"), (900, "15m"), (3600, "1h"), (5400, "1h 30m")],
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text
