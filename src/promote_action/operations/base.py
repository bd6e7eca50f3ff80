"""What every operation shares: the run's services and the shape of its final report."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from promote_action.context import RunContext
from promote_action.errors import EXIT_CANCELLED, EXIT_FAILURE, EXIT_OK, AmbiguousWriteError
from promote_action.report.workflow import Reporter
from promote_action.waiting import CancelToken, Deadline

PlanT = TypeVar("PlanT")
OutcomeT = TypeVar("OutcomeT")
T = TypeVar("T")
R = TypeVar("R")

PARALLEL_READS = 16

log = logging.getLogger("promote_action")


@dataclass
class Services:
    """Handed to an operation instead of globals, so tests and the CLI wire it the same way."""

    reporter: Reporter
    deadline: Deadline
    cancel: CancelToken
    run: RunContext = field(default_factory=RunContext)
    mode: str = "run"
    """`run`, `plan` or `apply` (the `mode` input)."""

    @property
    def unapplied_status(self) -> str:
        """The status of a run that only planned: `planned` in mode plan, else a dry run."""
        return "planned" if self.mode == "plan" else "dry-run"


@dataclass(frozen=True)
class Report:
    """An operation's end state as the CLI publishes it: outputs, summary, exit code."""

    status: str
    outputs: dict[str, str]
    summary: str
    failure: str | None = None
    """One line naming what failed and what was changed anyway; None on success."""
    exit_code: int = EXIT_OK
    environment_url: str | None = None
    """Where the deployed thing can be seen (an app's web URL): GitHub's environment URL."""


SETTLED_OK = frozenset({"succeeded", "unchanged", "created"})
"""End states of a run that applied its plan without a failure (created: wait false)."""


def finished_report(
    *,
    status: str,
    outputs: dict[str, str],
    summary: str,
    failure: str | None,
    environment_url: str | None = None,
) -> Report:
    """The report of an applied (or only planned) operation, its exit code from its status."""
    exit_code = EXIT_FAILURE if failure else EXIT_OK
    return Report(
        status,
        outputs,
        summary,
        failure,
        EXIT_CANCELLED if status == "cancelled" else exit_code,
        environment_url,
    )


def failure_of(status: str, error: str | None) -> str | None:
    """The one-line failure of an operation with a single outcome, None when it went well."""
    return None if status in SETTLED_OK or status in ("dry-run", "planned") else error or status


class Operation(Protocol[PlanT, OutcomeT]):
    """Plan with read-only calls, then apply the plan; both feed one report.

    The plan is the single description of the change: the dry run reports it, apply executes
    exactly it, and the summary shows it next to what happened. `plan` logs what it found.
    """

    name: str

    def plan(self) -> PlanT: ...

    def drift(self, planned: PlanT, fresh: PlanT) -> list[str]:
        """What changed since `planned` was made, judged against a fresh plan (mode apply):
        each entry one readable line; empty means the plan may be applied as it is."""
        ...

    def apply(self, plan: PlanT) -> OutcomeT: ...

    def report(self, plan: PlanT, outcome: OutcomeT | None) -> Report: ...

    def close(self) -> None: ...


def read_all(read: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """Independent reads for a plan, a few at a time: a plan over 20 apps should not take 40
    round trips in a row. The first failure propagates."""
    if len(items) <= 1:
        return [read(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(PARALLEL_READS, len(items))) as pool:
        return list(pool.map(read, items))


def write_once(
    send: Callable[[], R],
    took_effect: Callable[[], R | None],
    *,
    attempts: int = 3,
) -> R:
    """Send a write whose repetition would do harm (a second release, a second promotion).

    When its outcome is unknown (lost response, 5xx after sending), look at the platform's
    state first: if the write took effect, use what it made; only if it did not is it sent
    again, at most `attempts` times in all.
    """
    for attempt in range(1, attempts + 1):
        try:
            return send()
        except AmbiguousWriteError as exc:
            log.warning("%s; checking whether it took effect", exc)
            found = took_effect()
            if found is not None:
                log.info("it had taken effect")
                return found
            if attempt == attempts:
                raise
            log.info("it had not taken effect; sending it again")
    raise AssertionError("unreachable")
