"""The run, top to bottom: plan -> gate (mode, strict, drift) -> apply -> report.

`action` drives an operation from the registry with the services the entrypoint (or a test)
hands it, and composes the run's report from the operation's result: the plan output, refusals,
GitHub's deployment outputs and errors all join here, as data, before anything is rendered.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from pydantic import ValidationError

from promote_action import plans
from promote_action.errors import (
    EXIT_CANCELLED,
    EXIT_FAILURE,
    EXIT_OK,
    Cancelled,
    PromoteError,
    UsageError,
)
from promote_action.github_delivery import GitHubDelivery
from promote_action.inputs import Inputs
from promote_action.inputs.parsers import printable
from promote_action.inputs.plan_fields import PLAN_CONTEXT
from promote_action.operations.base import Operation, Services
from promote_action.registry import OPERATIONS, unread_input
from promote_action.report import markdown as md
from promote_action.report.model import Report, Result, Summary
from promote_action.status import SETTLED_OK, UNAPPLIED, Status

log = logging.getLogger("promote_action")


def action(inputs: Inputs, services: Services, github: GitHubDelivery | None = None) -> Report:
    """Run the operation `inputs` name; every failure becomes the report's one-line reason.
    With a GitHub deployment, the operation's progress lines become its statuses."""
    if github is not None:
        services = replace(services, on_progress=github.progress)
    try:
        return _plan_gate_apply(inputs, services, github)
    except PromoteError as exc:
        return error_report(exc)
    except Exception as exc:
        log.debug("unexpected error", exc_info=True)
        return error_report(exc)


def _plan_gate_apply(inputs: Inputs, services: Services, github: GitHubDelivery | None) -> Report:
    """Plan with read-only calls; then, by mode: report the plan, or apply it (after checking
    that a plan handed in by an earlier job still matches the world). A GitHub deployment is
    opened just before the first change and closed with the result."""
    planned, inputs = _checked_inputs(inputs)
    spec = OPERATIONS[str(inputs.operation)]
    operation: Operation[Any, Any] = spec.load()(inputs, services, **spec.options)
    try:
        with services.reporter.group("Plan"):
            plan = operation.plan()
            for finding in plan.findings:
                log.warning("pre-flight: %s", finding)
        if inputs.mode == "plan" or inputs.dry_run:
            report = compose(operation.result(plan, None))
            if inputs.mode == "plan":
                key = plans.signing_key(inputs, operation.name)
                encoded = plans.encode(operation.name, plan, key)
                report = replace(report, outputs={**report.outputs, "plan": encoded})
            return _strict(report, inputs, plan.findings)
        if inputs.strict and plan.findings:
            return _strict(compose(operation.result(plan, None)), inputs, plan.findings)
        if planned is not None:
            drifts = operation.drift(planned, plan) or plans.differences(
                planned.model_dump(mode="json"),
                plan.model_dump(mode="json"),
                getattr(operation, "drift_exempt", frozenset()),
            )
            if drifts:
                return refuse(
                    compose(operation.result(planned, None)),
                    Status.DRIFTED,
                    "refusing to apply the plan: the state changed since it was made: "
                    + "; ".join(drifts),
                )
            plan = planned
        if github is not None:
            github.start(operation.name)
        try:
            report = compose(operation.result(plan, operation.apply(plan)))
        except Exception as exc:
            log.debug("unexpected error while applying", exc_info=True)
            report = error_report(exc, applying=True)
        if github is not None:
            report = replace(report, outputs={**report.outputs, **github.finish(report)})
        return report
    finally:
        operation.close()


def _checked_inputs(inputs: Inputs) -> tuple[Any, Inputs]:
    """Usage checks before any request: the operation (named, or the plan's), the approved plan
    in mode apply, and no given input that this operation and mode would ignore."""
    planned = None
    if inputs.mode == "apply":
        if inputs.dry_run:
            raise UsageError(
                "dry-run",
                "is not read in mode apply (an approved plan is applied as it is; mode plan "
                "shows a plan without changing anything)",
            )
        planned, inputs = _approved_plan(inputs)
    if inputs.operation is None:
        raise UsageError("operation", f"is required; accepted: {', '.join(OPERATIONS)}")
    unread = unread_input(
        str(inputs.operation),
        inputs.mode,
        inputs.given(),
        wait=inputs.wait,
        health_check=inputs.health_check,
    )
    if unread is not None:
        raise UsageError(*unread)
    return planned, inputs


def _approved_plan(inputs: Inputs) -> tuple[Any, Inputs]:
    """The plan from the `plan` input, and the inputs that reproduce its resolution."""
    envelope = plans.decode(inputs.plan)
    if inputs.operation and inputs.operation != envelope.operation:
        raise UsageError(
            "operation", f"is {inputs.operation} but the plan is for {envelope.operation}"
        )
    spec = OPERATIONS.get(envelope.operation)
    if spec is None:
        raise UsageError("plan", f"names an unknown operation {envelope.operation!r}")
    plans.authenticate(envelope, plans.signing_key(inputs, envelope.operation))
    cls = spec.load()
    try:
        planned = cls.plan_type.model_validate(envelope.plan, context=PLAN_CONTEXT)
    except ValidationError as exc:
        raise UsageError(
            "plan", f"is not a valid {envelope.operation} plan: {_first(exc)}"
        ) from None
    pinned = {"operation": envelope.operation, **cls.pinned_inputs(planned)}
    return planned, inputs.model_copy(update=pinned)


def _first(exc: ValidationError) -> str:
    """The first problem of an invalid plan, by field path and the rule it breaks (no value)."""
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    ctx = error.get("ctx") or {}
    reason = str(ctx["error"]) if "error" in ctx else str(error["msg"])
    return f"{where}: {printable(reason, 200)}"


def compose(result: Result) -> Report:
    """The report of an applied (or only planned) operation, its exit code from its status:
    a status that is not a settled success fails the step even without a failure line."""
    settled = result.status in SETTLED_OK or result.status in UNAPPLIED
    exit_code = EXIT_FAILURE if result.failure or not settled else EXIT_OK
    outputs = dict(result.outputs)
    if result.environment_url:
        outputs["environment-url"] = result.environment_url
    return Report(
        status=result.status,
        outputs=outputs,
        summary=result.summary,
        failure=result.failure,
        exit_code=EXIT_CANCELLED if result.status == Status.CANCELLED else exit_code,
        environment_url=result.environment_url,
    )


def _strict(report: Report, inputs: Inputs, findings: list[str]) -> Report:
    if not (inputs.strict and findings):
        return report
    return refuse(report, Status.FAILED, "strict: pre-flight findings: " + "; ".join(findings))


def refuse(report: Report, status: Status, failure: str) -> Report:
    """A plan that must not be applied: nothing was changed, and the summary says why."""
    summary = replace(report.summary, status=status).add(
        f"**❌ {md.text(failure)}**", "Nothing was changed."
    )
    return replace(
        report,
        status=status,
        outputs={**report.outputs, "status": status},
        summary=summary,
        failure=f"{failure} (nothing was changed)",
        exit_code=EXIT_FAILURE,
    )


def error_report(exc: Exception, *, applying: bool = False) -> Report:
    """A run that stopped on an error. Before applying, nothing was changed; an unexpected
    error while applying may have left changes, and the report must not claim otherwise."""
    status = Status.CANCELLED if isinstance(exc, Cancelled) else Status.FAILED
    heading = "input error" if isinstance(exc, UsageError) else "failed"
    # Only the type of an unexpected error: its message could quote a response body (and a
    # capability URL); RUNNER_DEBUG=1 logs the traceback.
    reason = (
        str(exc)
        if isinstance(exc, PromoteError)
        else f"unexpected {type(exc).__name__} (run with RUNNER_DEBUG=1)"
    )
    changed = (
        "Changes may have been made before the error: check the log and the platform."
        if applying
        else "Nothing was changed."
    )
    return Report(
        status=status,
        outputs={"status": status},
        summary=Summary("promote-action", status, (md.text(reason), changed), label=heading),
        failure=f"{reason} ({changed[0].lower()}{changed[1:-1]})",
        exit_code=exc.exit_code if isinstance(exc, PromoteError) else EXIT_FAILURE,
    )
