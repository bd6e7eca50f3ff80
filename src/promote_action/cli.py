"""Entrypoint for the runner (`INPUT_*` variables) and for people (flags): one code path.

Only what a process owns happens here: argv and the environment become inputs, secrets are
masked before anything is printed, signals become a cancel token, the report is published and
its exit code returned. Everything else is `runner.action`, which tests call in-process.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from types import FrameType
from typing import TextIO

from promote_action import __version__, runner
from promote_action.context import RunContext
from promote_action.errors import EXIT_CANCELLED, PromoteError
from promote_action.github_delivery import GitHubDelivery
from promote_action.http import tls_context
from promote_action.inputs import SECRET_INPUTS, Inputs, load_inputs, variables_of
from promote_action.operations.base import Services
from promote_action.report.model import Report
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
    """The process: signals cancel the run, the environment and stdout are the runner's."""
    cancel = CancelToken()
    _install_signal_handlers(cancel)
    return run(list(sys.argv[1:] if argv is None else argv), os.environ, cancel)


def run(
    args: Sequence[str],
    environ: Mapping[str, str],
    cancel: CancelToken,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """One run from arguments and an environment mapping; returns the exit code."""
    options = build_parser().parse_args(args)
    overrides = {name: getattr(options, name) for name in Inputs.model_fields}
    reporter = Reporter(environ, stdout=stdout, stderr=stderr, json_mode=options.json)
    install_logging(reporter, debug=options.debug or environ.get("RUNNER_DEBUG") == "1")
    _mask_secret_inputs(reporter, overrides, environ)
    try:
        inputs = load_inputs(overrides, environ)
        run_context = RunContext.from_env(environ)
        services = Services(
            reporter=reporter,
            deadline=Deadline(inputs.timeout),
            cancel=cancel,
            run=run_context,
            mode=inputs.mode,
            tls=tls_context(environ),
            ca_file=environ.get("SSL_CERT_FILE") or None,
        )
        github = GitHubDelivery.create(inputs, environ, run_context)
    except PromoteError as exc:
        report = runner.error_report(exc)
    except Exception as exc:
        log.debug("unexpected error", exc_info=True)
        report = runner.error_report(exc)
    else:
        report = runner.action(inputs, services, github)
    _publish(reporter, report)
    reporter.finish()
    return report.exit_code


def _publish(reporter: Reporter, report: Report) -> None:
    reporter.set_outputs(report.outputs)
    reporter.write_summary(report.markdown)
    if report.failure:
        log.error("%s", report.failure)


def _mask_secret_inputs(
    reporter: Reporter, overrides: Mapping[str, str], environ: Mapping[str, str]
) -> None:
    """Before anything else is printed: the raw values, whatever their validity, from every
    place a secret input can come from (flag, INPUT_* variable, fallback such as
    HEROKU_API_KEY or KINTONE_PASSWORD)."""
    upper = {key.upper(): value for key, value in environ.items()}
    for name in SECRET_INPUTS:
        field = name.replace("-", "_")
        reporter.mask(overrides.get(field))
        for variable in variables_of(field):
            reporter.mask(upper.get(variable.upper()))


def _install_signal_handlers(cancel: CancelToken) -> None:
    """Python as PID 1 in a container ignores SIGTERM without a handler. The first signal
    stops the waits and lets the run report what it changed; a second one exits at once."""

    def handle(signum: int, frame: FrameType | None) -> None:
        if cancel.cancelled:
            os._exit(EXIT_CANCELLED)
        cancel.cancel(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
