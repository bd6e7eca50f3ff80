"""Run the action as the GitHub runner does, and read its file commands by the runner's rules.

The runner passes every input declared in action.yml as `INPUT_<NAME>` (hyphens kept), set to
its default or to "", appends outputs to GITHUB_OUTPUT and the summary to GITHUB_STEP_SUMMARY.

`run_action` runs the entrypoint in this process with that environment (integration tests: fast,
and what they see is exactly what the runner would); `start_action` starts it as a child
process the way the runner starts the container (end-to-end tests: signals, start-up).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from promote_action import cli
from promote_action.waiting import CancelToken
from promote_sandbox import Sandbox

ROOT = Path(__file__).resolve().parent.parent
ACTION = yaml.safe_load((ROOT / "action.yml").read_text())


def runner_env(inputs: dict[str, str]) -> dict[str, str]:
    """INPUT_* exactly as the runner sets them for a Docker action."""
    env = {}
    for name, spec in ACTION["inputs"].items():
        value = inputs.get(name, str(spec.get("default", "")))
        env["INPUT_" + name.upper().replace(" ", "_")] = value
    unknown = set(inputs) - set(ACTION["inputs"])
    assert not unknown, f"not declared in action.yml: {unknown}"
    return env


def parse_github_output(text: str) -> dict[str, str]:
    """The runner's parser for GITHUB_OUTPUT: `name=value` lines or `name<<DELIM` heredocs."""
    outputs: dict[str, str] = {}
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line:
            continue
        heredoc = line.find("<<")
        equals = line.find("=")
        if heredoc > 0 and (equals < 0 or heredoc < equals):
            name, delimiter = line[:heredoc], line[heredoc + 2 :]
            value_lines = []
            while lines[index] != delimiter:
                value_lines.append(lines[index])
                index += 1
            index += 1
            outputs[name] = "\n".join(value_lines)
        else:
            assert equals > 0, f"invalid GITHUB_OUTPUT line: {line!r}"
            outputs[line[:equals]] = line[equals + 1 :]
    return outputs


@dataclass
class ActionRun:
    exit_code: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    summary: str

    @property
    def everything(self) -> str:
        """All text a user or the runner could see, for leak scans."""
        return "\n".join([self.stdout, self.stderr, str(self.outputs), self.summary])

    def error_lines(self) -> list[str]:
        return [line for line in self.stdout.splitlines() if line.startswith("::error")]


def base_env(tmp: Path) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp),
        "GITHUB_ACTIONS": "true",
        "GITHUB_OUTPUT": str(tmp / "output"),
        "GITHUB_STEP_SUMMARY": str(tmp / "summary"),
        "GITHUB_REPOSITORY": "acme/shop",
        "GITHUB_RUN_ID": "4242",
        "GITHUB_SERVER_URL": "https://github.com",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    (tmp / "output").write_text("")
    (tmp / "summary").write_text("")
    return env


def start_action(inputs: dict[str, str], tmp: Path, **extra_env: str) -> subprocess.Popen[str]:
    env = base_env(tmp) | runner_env(inputs) | extra_env
    return subprocess.Popen(
        [sys.executable, "-m", "promote_action"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str], tmp: Path, timeout: float = 60) -> ActionRun:
    stdout, stderr = process.communicate(timeout=timeout)
    return ActionRun(
        exit_code=process.returncode,
        stdout=stdout,
        stderr=stderr,
        outputs=parse_github_output((tmp / "output").read_text()),
        summary=(tmp / "summary").read_text(),
    )


def run_action(
    inputs: dict[str, str], *, cancel: CancelToken | None = None, **extra_env: Any
) -> ActionRun:
    """The entrypoint in-process, with the runner's environment; nothing of this process's
    environment is read by the action (its inputs come from the mapping handed in). A test
    that cancels the run at a known moment hands in the token its signal handler would set."""
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        env = base_env(tmp) | runner_env(inputs) | extra_env
        stdout, stderr = io.StringIO(), io.StringIO()
        token = cancel or CancelToken()
        exit_code = cli.run([], env, token, stdout=stdout, stderr=stderr)
        return ActionRun(
            exit_code=exit_code,
            stdout=stdout.getvalue(),
            stderr=stderr.getvalue(),
            outputs=parse_github_output((tmp / "output").read_text()),
            summary=(tmp / "summary").read_text(),
        )


def run_action_process(inputs: dict[str, str], timeout: float = 60, **extra_env: Any) -> ActionRun:
    """The entrypoint as a child process, exactly as the runner starts the container."""
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        return finish(start_action(inputs, tmp, **extra_env), tmp, timeout)


@contextmanager
def cancel_when(
    sandbox: Sandbox, seen: Callable[[str], bool], method: str = "GET"
) -> Iterator[CancelToken]:
    """A token cancelled ("SIGTERM") as soon as the sandbox sees a request whose path `seen`
    accepts (held in flight or answered)."""
    cancel, stop = CancelToken(), threading.Event()

    def watch() -> None:
        while not stop.wait(0.01):
            arrived = [*sandbox.requests_in_flight(), *sandbox.requests]
            if any(r.method == method and seen(r.path) for r in arrived):
                cancel.cancel("SIGTERM")
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield cancel
    finally:
        stop.set()
        watcher.join()
