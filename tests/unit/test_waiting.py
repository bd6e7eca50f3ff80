"""The waiting primitive: deadline, adaptive schedule, cancellation."""

from __future__ import annotations

import threading
import time

import pytest

from promote_action.errors import Cancelled, WaitTimeout
from promote_action.operations.connect import CONNECT_DIAGNOSIS_SCHEDULE, CONNECT_SCHEDULE
from promote_action.waiting import CancelToken, Deadline, PollSchedule, format_duration, wait_for


def simulated_polls(schedule: PollSchedule, wait: float) -> tuple[int, float]:
    """Polls spent until a state reached at `wait` seconds is seen, and how late it is seen."""
    now, polls = schedule.next_poll(0.0), 1
    while now < wait:
        now, polls = schedule.next_poll(now), polls + 1
    return polls, now - wait


class SimulatedTime(CancelToken):
    """A clock that moves only when the wait sleeps or a probe takes time: no real sleeping."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


def test_schedule_polls_every_quarter_second_for_the_first_two_seconds():
    schedule = PollSchedule()
    times = [schedule.next_poll(0.0)]
    while times[-1] < 2.0:
        times.append(schedule.next_poll(times[-1]))
    assert times == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0])
    assert schedule.next_poll(2.0) == pytest.approx(3.2), "then 60 % of the time waited"


@pytest.mark.parametrize("wait", [0.3, 1, 2, 3, 5, 10, 30, 60, 300])
def test_schedule_notices_completion_within_a_quarter_second_or_sixty_percent_of_the_wait(wait):
    _, late = simulated_polls(PollSchedule(), wait)
    assert late <= max(0.25, 0.6 * wait) + 1e-9


def polls_within(schedule: PollSchedule, seconds: float) -> int:
    count, now = 0, schedule.next_poll(0.0)
    while now <= seconds:
        count, now = count + 1, schedule.next_poll(now)
    return count


def test_schedule_spends_at_most_fifteen_polls_in_the_first_minute_then_two_a_minute():
    assert polls_within(PollSchedule(), 60) <= 15
    assert polls_within(PollSchedule(), 660) - polls_within(PollSchedule(), 60) <= 20
    assert PollSchedule().next_poll(3600) - 3600 <= 30.0


def test_wait_for_polls_on_the_clock_whatever_each_probe_takes():
    """Each probe takes 0.1 s; the polls still land at 0.25 s, 0.5 s, 0.75 s of the wait
    instead of drifting by the request time."""
    simulated = SimulatedTime()
    probed_at: list[float] = []

    def probe() -> str | None:
        probed_at.append(simulated.now)
        simulated.now += 0.1
        return "live" if len(probed_at) == 4 else None

    result = wait_for(
        probe,
        what="x",
        deadline=Deadline(60, clock=simulated.clock),
        cancel=simulated,
        settle_first=True,
        clock=simulated.clock,
    )
    assert result == "live"
    assert probed_at == pytest.approx([0.25, 0.5, 0.75, 1.0])


def test_wait_for_skips_the_polls_a_slow_probe_overran():
    simulated = SimulatedTime()
    probed_at: list[float] = []

    def probe() -> str | None:
        probed_at.append(simulated.now)
        simulated.now += 0.6
        return "live" if len(probed_at) == 3 else None

    wait_for(
        probe,
        what="x",
        deadline=Deadline(60, clock=simulated.clock),
        cancel=simulated,
        clock=simulated.clock,
    )
    assert probed_at == pytest.approx([0.0, 0.75, 1.5])


def test_a_schedule_without_a_dense_phase_starts_at_its_minimum_interval():
    schedule = PollSchedule(first_delay=0, min_interval=1.0, fraction=0.2, max_interval=15.0)
    assert [schedule.next_poll(t) for t in (0.0, 1.0, 5.0, 100.0)] == pytest.approx(
        [1.0, 2.0, 6.0, 107.035], abs=1e-3
    )


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


def test_connect_reads_the_import_and_the_diagnosis_every_quarter_second_at_first():
    """Connect's diagnosis was read at +2, +4, +6 s; an import or a diagnosis finished within a
    second or two is now seen within 0.25 s."""
    for schedule, dense_for in ((CONNECT_SCHEDULE, 2.0), (CONNECT_DIAGNOSIS_SCHEDULE, 3.0)):
        assert polls_within(schedule, dense_for) == round(dense_for / 0.25)
    assert polls_within(CONNECT_SCHEDULE, 60) <= 20, "then it backs off: a small API budget"
