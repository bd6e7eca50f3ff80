"""What every operation shares: the run's services, the protocol the runner drives, and the
helpers for reads in parallel and writes that must not be repeated."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar

import httpx

from promote_action.context import RunContext
from promote_action.errors import AmbiguousWriteError, PromoteError, UsageError
from promote_action.report.model import Result
from promote_action.report.workflow import Reporter
from promote_action.status import SETTLED_OK, UNAPPLIED, Status
from promote_action.waiting import CancelToken, Deadline

PlanT = TypeVar("PlanT")
OutcomeT = TypeVar("OutcomeT")
T = TypeVar("T")
R = TypeVar("R")

PARALLEL_READS = 16

log = logging.getLogger("promote_action")


@dataclass
class Services:
    """Handed to an operation instead of globals, so tests and the entrypoint wire it the same
    way: tests run operations in-process with these pointed at the fakes."""

    reporter: Reporter
    deadline: Deadline
    cancel: CancelToken
    run: RunContext = field(default_factory=RunContext)
    mode: str = "run"
    """`run`, `plan` or `apply` (the `mode` input)."""
    tls: ssl.SSLContext | bool = True
    """TLS verification for every platform client: one context for the run (building one costs
    tens of milliseconds), from the run's SSL_CERT_FILE when set."""
    ca_file: str | None = None
    """The run's CA bundle (SSL_CERT_FILE), for TLS contexts that also carry a client
    certificate."""
    transport: httpx.BaseTransport | None = None
    """The platform clients' transport: None for the network, or a fake's (httpx.MockTransport)."""
    on_progress: Callable[[str], None] = field(default=lambda description: None)
    """Told a short line at each milestone of a long apply ("wave 2 of 3: ..."); the runner
    points it at the GitHub deployment's status, so operations need not know GitHub."""

    @property
    def unapplied_status(self) -> Status:
        """The status of a run that only planned: `planned` in mode plan, else a dry run."""
        return Status.PLANNED if self.mode == "plan" else Status.DRY_RUN


def failure_of(status: Status, error: str | None) -> str | None:
    """The one-line failure of an operation with a single outcome, None when it went well."""
    return None if status in SETTLED_OK or status in UNAPPLIED else error or status


class Operation(Protocol[PlanT, OutcomeT]):
    """Plan with read-only calls, then apply the plan; both feed one report.

    The plan is the single description of the change: the dry run reports it, apply executes
    exactly it, and the summary shows it next to what happened. `plan` logs what it found.
    Classes also carry `plan_type` (the plan's model) and `pinned_inputs(plan)` (the inputs that
    resolve exactly that plan again, for mode apply).
    """

    name: str

    def plan(self) -> PlanT: ...

    def drift(self, planned: PlanT, fresh: PlanT) -> list[str]:
        """What changed since `planned` was made, judged against a fresh plan (mode apply):
        each entry one readable line; empty means the plan may be applied as it is."""
        ...

    def apply(self, plan: PlanT) -> OutcomeT: ...

    def result(self, plan: PlanT, outcome: OutcomeT | None) -> Result:
        """Status, outputs and summary of the plan and (after apply) its outcome: data the
        runner composes into the run's report."""
        ...

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
            try:
                found = took_effect()
            except PromoteError as check:
                # The outcome stays unknown: say that, not only why the check failed.
                raise AmbiguousWriteError(
                    exc.request, f"{exc.cause}; checking whether it took effect failed: {check}"
                ) from check
            if found is not None:
                log.info("it had taken effect")
                return found
            if attempt == attempts:
                raise
            log.info("it had not taken effect; sending it again")
    raise AssertionError("unreachable")


def workspace_path(services: Services, name: str, value: str) -> Path:
    """A path input, relative to the workspace (GITHUB_WORKSPACE, else the working directory)
    and inside it once resolved: an absolute path, `..` or a symlink leading out of the
    workspace is a usage error naming the input, so a workflow cannot be tricked into reading
    or writing elsewhere on the runner."""
    root = Path(services.run.workspace or ".").resolve()
    path = (root / value).resolve()
    if Path(value).is_absolute() or not path.is_relative_to(root):
        raise UsageError(name, f"must be a path inside the workspace, not {value}")
    return path
