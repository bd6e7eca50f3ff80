"""Entrypoint for the runner (`INPUT_*` variables) and for people (flags): one code path.

`main` gathers settings, masks secrets, builds the platform client and hands everything to the
operation; errors of any kind become one line, a summary and an exit code here and nowhere else.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import replace
from types import FrameType
from typing import Any

from pydantic import AliasChoices, ValidationError

from promote_action import __version__, operations, plans
from promote_action.context import RunContext
from promote_action.errors import (
    EXIT_CANCELLED,
    EXIT_FAILURE,
    Cancelled,
    PromoteError,
    UsageError,
)
from promote_action.github_delivery import GitHubDelivery
from promote_action.inputs import OPERATIONS, SECRET_INPUTS, Inputs, load_inputs
from promote_action.operations.base import Report, Services
from promote_action.report import markdown as md
from promote_action.report import summary
from promote_action.report.workflow import Reporter, install_logging
from promote_action.waiting import CancelToken, Deadline

log = logging.getLogger("promote_action")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="promote-action",
        description="Promote tested software to production and prove it is live. Every input "
        "of action.yml is a flag here; unset flags fall back to INPUT_* variables.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument("--json", action="store_true", help="print outputs as JSON")
    parser.add_argument("--debug", action="store_true", help="log every request (no secrets)")
    for name, info in Inputs.model_fields.items():
        flag = "--" + name.replace("_", "-")
        parser.add_argument(flag, dest=name, default="", metavar="VALUE", help=info.description)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    options = build_parser().parse_args(args)
    overrides = {name: getattr(options, name) for name in Inputs.model_fields}
    reporter = Reporter(os.environ, json_mode=options.json)
    install_logging(reporter, debug=options.debug or os.environ.get("RUNNER_DEBUG") == "1")
    _mask_secret_inputs(reporter, overrides)
    cancel = CancelToken()
    _install_signal_handlers(cancel)
    try:
        inputs = load_inputs(overrides)
        if inputs.operation is None:
            raise UsageError("operation", f"is required; accepted: {', '.join(OPERATIONS)}")
        services = Services(
            reporter=reporter,
            deadline=Deadline(inputs.timeout),
            cancel=cancel,
            run=RunContext.from_env(os.environ),
            mode=inputs.mode,
        )
        report = run(inputs, services, GitHubDelivery.create(inputs, os.environ, services.run))
    except PromoteError as exc:
        report = _error_report(exc)
    except Exception as exc:
        log.debug("unexpected error", exc_info=True)
        report = _error_report(exc)
    _publish(reporter, report)
    reporter.finish()
    return report.exit_code


def run(inputs: Inputs, services: Services, github: GitHubDelivery | None = None) -> Report:
    """Plan with read-only calls; then, by mode: report the plan, or apply it (after checking
    that a plan handed in by an earlier job still matches the world). A GitHub deployment is
    opened just before the first change and closed with the result."""
    planned = None
    if inputs.mode == "apply":
        planned, inputs = _approved_plan(inputs)
    operation = operations.create(inputs, services)
    try:
        with services.reporter.group("Plan"):
            plan = operation.plan()
            for finding in plan.findings:
                log.warning("pre-flight: %s", finding)
        if inputs.mode == "plan" or inputs.dry_run:
            report = operation.report(plan, None)
            if inputs.mode == "plan":
                encoded = plans.encode(operation.name, plan)
                report = replace(report, outputs={**report.outputs, "plan": encoded})
            return _strict(report, inputs, plan.findings)
        if inputs.strict and plan.findings:
            return _strict(operation.report(plan, None), inputs, plan.findings)
        if planned is not None:
            drifts = operation.drift(planned, plan)
            if drifts:
                return _refuse(
                    operation.report(planned, None),
                    "drifted",
                    "refusing to apply the plan: the state changed since it was made: "
                    + "; ".join(drifts),
                )
            plan = planned
        if github is not None:
            github.start(operation.name)
        try:
            report = operation.report(plan, operation.apply(plan))
        except Exception as exc:
            log.debug("unexpected error while applying", exc_info=True)
            report = _error_report(exc, applying=True)
        if github is not None:
            report = replace(report, outputs={**report.outputs, **github.finish(report)})
        return report
    finally:
        operation.close()


def _approved_plan(inputs: Inputs) -> tuple[Any, Inputs]:
    """The plan from the `plan` input, and the inputs that reproduce its resolution."""
    envelope = plans.decode(inputs.plan)
    if inputs.operation and inputs.operation != envelope.operation:
        raise UsageError(
            "operation", f"is {inputs.operation} but the plan is for {envelope.operation}"
        )
    cls = operations.operation_class(envelope.operation)
    try:
        planned = cls.plan_type.model_validate(envelope.plan)
    except ValidationError:
        raise UsageError("plan", f"is not a valid {envelope.operation} plan") from None
    pinned = {"operation": envelope.operation, **cls.pinned_inputs(planned)}
    return planned, inputs.model_copy(update=pinned)


def _strict(report: Report, inputs: Inputs, findings: list[str]) -> Report:
    if not (inputs.strict and findings):
        return report
    return _refuse(report, "failed", "strict: pre-flight findings: " + "; ".join(findings))


def _refuse(report: Report, status: str, failure: str) -> Report:
    """A plan that must not be applied: nothing was changed, and the summary says why."""
    return replace(
        report,
        status=status,
        outputs={**report.outputs, "status": status},
        summary=f"{report.summary}\n\n**❌ {md.text(failure)}**\n\nNothing was changed.",
        failure=f"{failure} (nothing was changed)",
        exit_code=EXIT_FAILURE,
    )


def _publish(reporter: Reporter, report: Report) -> None:
    outputs = dict(report.outputs)
    if report.environment_url:
        outputs["environment-url"] = report.environment_url
    reporter.set_outputs(outputs)
    reporter.write_summary(report.summary)
    if report.failure:
        log.error("%s", report.failure)


def _error_report(exc: Exception, *, applying: bool = False) -> Report:
    """A run that stopped on an error. Before applying, nothing was changed; an unexpected
    error while applying may have left changes, and the report must not claim otherwise."""
    status = "cancelled" if isinstance(exc, Cancelled) else "failed"
    heading = "Input error" if isinstance(exc, UsageError) else "Failed"
    reason = (
        str(exc) if isinstance(exc, PromoteError) else f"unexpected {type(exc).__name__}: {exc}"
    )
    changed = (
        "Changes may have been made before the error: check the log and the platform."
        if applying
        else "Nothing was changed."
    )
    markdown = (
        f"## {summary.STATUS_ICONS[status]} promote-action: {heading.lower()}\n\n"
        f"{md.text(reason)}\n\n{changed}"
    )
    return Report(
        status=status,
        outputs={"status": status},
        summary=markdown,
        failure=f"{reason} ({changed[0].lower()}{changed[1:-1]})",
        exit_code=exc.exit_code if isinstance(exc, PromoteError) else EXIT_FAILURE,
    )


def _mask_secret_inputs(reporter: Reporter, overrides: dict[str, str]) -> None:
    """Before anything else is printed: the raw values, whatever their validity, from every
    place a secret input can come from (flag, INPUT_* variable, fallback such as
    HEROKU_API_KEY or KINTONE_PASSWORD)."""
    for name in SECRET_INPUTS:
        field = name.replace("-", "_")
        reporter.mask(overrides.get(field))
        aliases = Inputs.model_fields[field].validation_alias
        for variable in aliases.choices if isinstance(aliases, AliasChoices) else []:
            reporter.mask(os.environ.get(str(variable)))


def _install_signal_handlers(cancel: CancelToken) -> None:
    """Python as PID 1 in a container ignores SIGTERM without a handler. The first signal
    stops the waits and lets the run report what it changed; a second one exits at once."""

    def handle(signum: int, frame: FrameType | None) -> None:
        if cancel.cancelled:
            os._exit(EXIT_CANCELLED)
        cancel.cancel(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
