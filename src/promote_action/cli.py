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
import typing
from collections.abc import Mapping, Sequence
from types import FrameType
from typing import TextIO

from promote_action import __version__, runner
from promote_action.context import RunContext
from promote_action.errors import (
    EXIT_CANCELLED,
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    PromoteError,
)
from promote_action.github_delivery import GitHubDelivery
from promote_action.http import tls_context
from promote_action.inputs import SECRET_INPUTS, Inputs, load_inputs, variables_of
from promote_action.operations.base import Services
from promote_action.registry import REGISTRY
from promote_action.report.model import Report
from promote_action.report.workflow import Reporter, install_logging
from promote_action.waiting import CancelToken, Deadline

log = logging.getLogger("promote_action")


EXIT_CODES = (
    (EXIT_OK, "succeeded (or nothing to do, or a plan was written)"),
    (EXIT_FAILURE, "a remote failure, a failed verification or a timeout"),
    (EXIT_USAGE, "bad input: nothing was changed"),
    (EXIT_CANCELLED, "cancelled by SIGINT/SIGTERM, after reporting what changed"),
)


def _epilog() -> str:
    operations = "\n".join(f"  {spec.name:<22}{spec.summary}" for spec in REGISTRY)
    codes = "\n".join(f"  {code:<4}{meaning}" for code, meaning in EXIT_CODES)
    return (
        f"operations:\n{operations}\n\n"
        "try it offline: `promote-sandbox` serves fakes of Heroku, Connect, kintone and GitHub\n"
        "seeded for every operation and prints the variables to export (README: Try it offline).\n"
        "Credentials and URLs fall back to HEROKU_API_KEY, HEROKU_API_URL, KINTONE_BASE_URL,\n"
        "KINTONE_USERNAME, KINTONE_PASSWORD, CONNECT_API_URL and, outside GitHub Actions,\n"
        "GITHUB_TOKEN (with GITHUB_API_URL, GITHUB_REPOSITORY).\n\n"
        f"exit codes:\n{codes}"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="promote-action",
        description="Promote tested software to production and prove it is live. Every input "
        "of action.yml is a flag here (yes/no inputs are flags: --dry-run, --no-wait); unset "
        "flags fall back to INPUT_* variables.",
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument(
        "--json", action="store_true", help="print the outputs as one JSON object, no summary"
    )
    parser.add_argument(
        "--output", metavar="NAME", help="print only the output NAME's value (e.g. plan), raw"
    )
    parser.add_argument("--debug", action="store_true", help="log every request (no secrets)")
    for name, info in Inputs.model_fields.items():
        flag = "--" + name.replace("_", "-")
        text = (info.description or "").replace("%", "%%")  # argparse formats help with %
        if _is_yes_no(info.annotation):
            # `--dry-run` alone means true; `--dry-run false` still works, as in a workflow.
            parser.add_argument(
                flag, dest=name, default="", nargs="?", const="true", metavar="BOOL", help=text,
            )  # fmt: skip
            parser.add_argument(
                "--no-" + flag[2:], dest=name, action="store_const", const="false",
                help=argparse.SUPPRESS,
            )  # fmt: skip
        else:
            parser.add_argument(flag, dest=name, default="", metavar="VALUE", help=text)
    return parser


def _is_yes_no(annotation: object) -> bool:
    """bool and `bool | None` fields (possibly Annotated with their validator)."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation is bool or set(typing.get_args(annotation)) == {bool, type(None)}


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
    parser = build_parser()
    if not args and not any(key.upper().startswith("INPUT_") for key in environ):
        # A person typing the bare command wants to know what it does, not an input error.
        parser.print_help(stdout or sys.stdout)
        return EXIT_OK
    options = parser.parse_args(args)
    overrides = {name: getattr(options, name) for name in Inputs.model_fields}
    reporter = Reporter(
        environ, stdout=stdout, stderr=stderr, json_mode=options.json, only_output=options.output
    )
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
    if report.failure and not reporter.prints_summary:
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
