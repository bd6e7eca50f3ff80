"""What every operation shares: the run's services and the shape of its final report."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from promote_action.context import RunContext
from promote_action.errors import EXIT_CANCELLED, EXIT_FAILURE, EXIT_OK
from promote_action.report.workflow import Reporter
from promote_action.waiting import CancelToken, Deadline

PlanT = TypeVar("PlanT")
OutcomeT = TypeVar("OutcomeT")
T = TypeVar("T")
R = TypeVar("R")

PARALLEL_READS = 16


@dataclass
class Services:
    """Handed to an operation instead of globals, so tests and the CLI wire it the same way."""

    reporter: Reporter
    deadline: Deadline
    cancel: CancelToken
    run: RunContext = field(default_factory=RunContext)
    started: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class Report:
    """An operation's end state as the CLI publishes it: outputs, summary, exit code."""

    status: str
    outputs: dict[str, str]
    summary: str
    failure: str | None = None
    """One line naming what failed and what was changed anyway; None on success."""
    exit_code: int = EXIT_OK


def exit_code_for(status: str, failure: str | None) -> int:
    if status == "cancelled":
        return EXIT_CANCELLED
    return EXIT_FAILURE if failure else EXIT_OK


class Operation(Protocol[PlanT, OutcomeT]):
    """Plan with read-only calls, then apply the plan; both feed one report.

    The plan is the single description of the change: the dry run reports it, apply executes
    exactly it, and the summary shows it next to what happened. `plan` logs what it found.
    """

    name: str

    def plan(self) -> PlanT: ...

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
