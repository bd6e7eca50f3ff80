"""A run is green only from green parts: target states, exit codes, writes of unknown outcome."""

from __future__ import annotations

import pytest

from promote_action.errors import AmbiguousWriteError, TransportError
from promote_action.operations.base import write_once
from promote_action.operations.heroku.results import overall_status
from promote_action.operations.heroku.targets import AppRef, TargetOutcome, TargetPlan
from promote_action.report.model import Result, Summary
from promote_action.runner import compose
from promote_action.status import Status


def outcome(status: Status) -> TargetOutcome:
    plan = TargetPlan(
        app=AppRef(id="app-id", name="app"),
        current_release_id=None,
        current_version=None,
        current_slug_id=None,
        stack=None,
    )
    return TargetOutcome(plan=plan, status=status)


@pytest.mark.parametrize(
    ("statuses", "overall"),
    [
        ([Status.SUCCEEDED, Status.UNCHANGED], Status.SUCCEEDED),
        ([Status.UNCHANGED, Status.UNCHANGED], Status.UNCHANGED),
        ([Status.CREATED, Status.UNCHANGED], Status.CREATED),
        ([Status.SUCCEEDED, Status.TIMED_OUT], Status.TIMED_OUT),
        ([Status.FAILED, Status.CANCELLED], Status.CANCELLED),
        # States that are no success must never add up to one.
        ([Status.SUCCEEDED, Status.PENDING], Status.FAILED),
        ([Status.SUCCEEDED, Status.NOT_STARTED], Status.FAILED),
        ([Status.SUCCEEDED, Status.ROLLED_BACK], Status.FAILED),
    ],
)
def test_overall_status(statuses, overall):
    assert overall_status([outcome(s) for s in statuses]) == overall


def test_a_status_that_is_no_success_fails_the_step_even_without_a_failure_line():

    summary = Summary("t", Status.FAILED)
    assert compose(Result(Status.FAILED, {}, summary)).exit_code == 1
    assert compose(Result(Status.SUCCEEDED, {}, summary)).exit_code == 0
    assert compose(Result(Status.DRY_RUN, {}, summary)).exit_code == 0
    assert compose(Result(Status.CANCELLED, {}, summary)).exit_code == 130


def test_a_write_whose_check_fails_stays_of_unknown_outcome():

    def send() -> str:
        raise AmbiguousWriteError("POST /apps/a/releases", "connection reset after sending")

    def took_effect() -> str | None:
        raise TransportError("GET /apps/a/releases failed: connection refused")

    with pytest.raises(AmbiguousWriteError) as caught:
        write_once(send, took_effect)
    assert "outcome of POST /apps/a/releases is unknown: connection reset after sending" in str(
        caught.value
    )
    assert "checking whether it took effect failed" in str(caught.value)
