"""Workflow commands, step outputs and the job summary, or their readable console equivalents.

This is the only module that prints `::` commands. Operations report through `Reporter`
methods and the standard `logging` module; the formatter here turns warnings and errors into
annotations. Anything that came from a remote service is either escaped onto one line or printed
between `::stop-commands::` markers, so a release log line like `::add-mask::` or
`::set-env` is shown, not executed.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TextIO

from actions_toolkit.command import escape_data
from actions_toolkit.file_command import prepare_key_value_message

from promote_action.errors import REMOTE_TEXT_LIMIT, remote_text
from promote_action.report.plaintext import plain_text

SUMMARY_LIMIT = 1_000_000
"""GitHub refuses step summaries over 1 MiB; stay under it with room for a truncation note."""

RELEASE_LINE_LIMIT = 4 * REMOTE_TEXT_LIMIT
"""A release-phase log line is output the user wants whole, up to a point."""

_LEGACY_COMMAND = re.compile(r"#(?=#\[)")
_WORD_JOINER = "\u2060"
"""Invisible, not whitespace (the runner trims whitespace before looking for `::`)."""


def neutralise(line: str) -> str:
    """One log line that no part of can act as a workflow command: the runner honours `::cmd::`
    at the start of a line and the legacy `##[cmd]` anywhere in it. Control characters go, and
    one line carries at most one capped remote message."""
    line = remote_text(line, limit=REMOTE_TEXT_LIMIT)
    line = _LEGACY_COMMAND.sub("#" + _WORD_JOINER, line)
    if line.lstrip().startswith("::"):
        line = _WORD_JOINER + line
    return line


class Reporter:
    """Where an operation's progress, outputs and summary go.

    In GitHub Actions (GITHUB_OUTPUT set) it speaks workflow commands; elsewhere it prints the
    same information for a person, or JSON with `--json`.
    """

    def __init__(
        self,
        environ: Mapping[str, str],
        *,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
        json_mode: bool = False,
        only_output: str | None = None,
    ) -> None:
        self.output_file = environ.get("GITHUB_OUTPUT") or None
        self.summary_file = environ.get("GITHUB_STEP_SUMMARY") or None
        self.github = bool(self.output_file) or environ.get("GITHUB_ACTIONS") == "true"
        self.results = stdout or sys.stdout
        # The runner reads commands from stdout; a person piping results wants logs apart.
        self.logs = self.results if self.github else (stderr or sys.stderr)
        self.json_mode = json_mode
        self.only_output = only_output
        self._lock = threading.RLock()
        self._masked: set[str] = set()
        self.outputs: dict[str, str] = {}
        self.remote = RemoteOutput(self)

    # -- low level ------------------------------------------------------------------------------

    def write_line(self, line: str, *, result: bool = False) -> None:
        """Every printed line passes here; one lock keeps threads from interleaving lines."""
        stream = self.results if result else self.logs
        with self._lock:
            stream.write(line + "\n")
            stream.flush()

    def command(self, name: str, message: str = "", properties: str = "") -> None:
        if self.github:
            props = f" {properties}" if properties else ""
            self.write_line(f"::{name}{props}::{_break_legacy(escape_data(message))}")

    # -- secrets ----------------------------------------------------------------------------------

    def mask(self, secret: str | None) -> None:
        """Register a secret with the runner before it could be printed; per line, as the
        runner matches masks line by line."""
        if not secret:
            return
        for line in secret.splitlines() or [secret]:
            if line.strip() and line not in self._masked:
                self._masked.add(line)
                self.command("add-mask", line)

    def mask_all(self, secrets: list[str]) -> None:
        for secret in secrets:
            self.mask(secret)

    # -- logs -----------------------------------------------------------------------------------

    @contextmanager
    def group(self, title: str) -> Iterator[None]:
        """A collapsible log section in Actions (groups cannot nest); a heading elsewhere."""
        self.open_group(title)
        try:
            yield
        finally:
            self.close_group()

    def open_group(self, title: str) -> None:
        if self.github:
            self.command("group", title)
        else:
            self.write_line(f"== {one_line(title)}")

    def close_group(self) -> None:
        if self.github:
            self.command("endgroup")

    def untrusted_lines(self, lines: list[str]) -> None:
        """Print remote text verbatim, with workflow commands disabled around it."""
        if not lines:
            return
        with self._lock:
            if not self.github:
                # A terminal obeys escape sequences: remote text loses its control characters.
                for line in lines:
                    self.write_line(remote_text(line, limit=RELEASE_LINE_LIMIT))
                return
            token = uuid.uuid4().hex
            self.write_line(f"::stop-commands::{token}")
            for line in lines:
                # stop-commands covers `::`; the legacy `##[` form is broken up besides.
                self.write_line(_break_legacy(remote_text(line, limit=RELEASE_LINE_LIMIT)))
            self.write_line(f"::{token}::")

    # -- results --------------------------------------------------------------------------------

    def set_outputs(self, outputs: Mapping[str, str]) -> None:
        """Append outputs in the runner's heredoc form with a fresh random delimiter, so no
        value can close it early or smuggle in another output."""
        outputs = {name: remote_text(value, limit=len(value)) for name, value in outputs.items()}
        self.outputs.update(outputs)
        if not self.output_file:
            return
        with open(self.output_file, "a", encoding="utf-8", newline="") as handle:
            for name, value in outputs.items():
                handle.write(prepare_key_value_message(name, value) + os.linesep)

    def write_summary(self, markdown: str) -> None:
        encoded = markdown.encode()
        if len(encoded) > SUMMARY_LIMIT:
            kept = encoded[:SUMMARY_LIMIT].decode(errors="ignore")
            markdown = kept + "\n\n*Summary truncated at 1 MB.*\n"
        if self.summary_file:
            with open(self.summary_file, "a", encoding="utf-8") as handle:
                handle.write(markdown + "\n")
        elif self.prints_summary:
            self.write_line("", result=True)
            self.write_line(plain_text(markdown), result=True)

    @property
    def prints_summary(self) -> bool:
        """A console run shows the summary as plain text (which also states any error)."""
        return not self.summary_file and not self.json_mode and self.only_output is None

    def finish(self) -> None:
        """Console runs end with the outputs, readable or as JSON, on stdout."""
        self.remote.flush_all()
        if self.output_file:
            return
        if self.only_output is not None:
            self.write_line(self.outputs.get(self.only_output, ""), result=True)
            return
        if self.json_mode:
            flat = {name: _json_value(value) for name, value in self.outputs.items()}
            self.write_line(json.dumps(flat, indent=2, sort_keys=True), result=True)
            return
        self.write_line("", result=True)
        for name, value in self.outputs.items():
            self.write_line(f"{name}: {value}", result=True)


class RemoteOutput:
    """Release-phase logs of several targets, each in its own log group.

    Groups cannot nest or interleave, so one target streams live while the others are held
    back and printed whole when the live one finishes.
    """

    def __init__(self, reporter: Reporter) -> None:
        self._reporter = reporter
        self._lock = threading.Lock()
        self._live: str | None = None
        self._held: dict[str, list[str]] = {}
        self._finished: list[str] = []

    def line(self, title: str, text: str) -> None:
        with self._lock:
            if self._live is None:
                self._open(title)
            if self._live == title:
                self._reporter.untrusted_lines([text])
            else:
                self._held.setdefault(title, []).append(text)

    def finish(self, title: str) -> None:
        with self._lock:
            if self._live != title:
                if title in self._held:
                    self._finished.append(title)
                return
            self._close()
            for done in self._finished:
                self._print_whole(done, self._held.pop(done))
            self._finished.clear()
            if self._held:
                waiting, lines = next(iter(self._held.items()))
                del self._held[waiting]
                self._open(waiting)
                self._reporter.untrusted_lines(lines)

    def flush_all(self) -> None:
        """At exit (also after a cancellation) nothing received may stay unprinted."""
        with self._lock:
            if self._live is not None:
                self._close()
            for title, lines in self._held.items():
                self._print_whole(title, lines)
            self._held.clear()
            self._finished.clear()

    def _open(self, title: str) -> None:
        self._live = title
        self._reporter.open_group(title)

    def _close(self) -> None:
        self._live = None
        self._reporter.close_group()

    def _print_whole(self, title: str, lines: list[str]) -> None:
        self._open(title)
        self._reporter.untrusted_lines(lines)
        self._close()


def _json_value(value: str) -> object:
    """Outputs that hold JSON (result, plan, release-id...) nest as JSON, not as strings."""
    if value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            pass
    return value


def one_line(text: str) -> str:
    return " ".join(text.split())


def _break_legacy(text: str) -> str:
    return _LEGACY_COMMAND.sub("#" + _WORD_JOINER, text)


class WorkflowLogFormatter(logging.Formatter):
    """Warnings and errors become annotations in Actions; every record stays on one line."""

    def __init__(self, github: bool) -> None:
        super().__init__()
        self.github = github

    def format(self, record: logging.LogRecord) -> str:
        message = neutralise(record.getMessage())
        if not self.github:
            prefix = "" if record.levelno == logging.INFO else f"{record.levelname.lower()}: "
            return prefix + one_line(message)
        if record.levelno >= logging.ERROR:
            return f"::error title=promote-action::{escape_data(message)}"
        if record.levelno >= logging.WARNING:
            return f"::warning title=promote-action::{escape_data(message)}"
        if record.levelno <= logging.DEBUG:
            return f"::debug::{escape_data(message)}"
        return neutralise(one_line(message))


class ReporterHandler(logging.Handler):
    """Routes log records through the reporter's lock so they never split a line."""

    def __init__(self, reporter: Reporter) -> None:
        super().__init__()
        self.reporter = reporter
        self.setFormatter(WorkflowLogFormatter(reporter.github))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.reporter.write_line(self.format(record))
        except Exception:
            self.handleError(record)


def install_logging(reporter: Reporter, *, debug: bool) -> None:
    """Our logger goes through the reporter; httpx/httpcore stay quiet because they log full
    URLs (query strings included) at INFO."""
    root = logging.getLogger("promote_action")
    root.handlers[:] = [ReporterHandler(reporter)]
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    root.propagate = False
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
