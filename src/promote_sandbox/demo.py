"""`make demo`: a slug copy to two apps against the embedded sandbox, no accounts needed.

The action runs in a child process exactly as the runner starts it (every input as an
`INPUT_*` variable, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files), so the demo exercises the
same entrypoint a workflow does. What it prints is what a person sees in the GitHub UI: log
groups as headings, masks applied and workflow commands gone, annotations as Error/Warning
lines, the job summary rendered and the step outputs. `--raw` prints the runner's stream as it
is instead.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from promote_action.inputs import Inputs, env_names
from promote_action.report.plaintext import plain_text
from promote_sandbox import Sandbox, demo_fixture

_COMMAND = re.compile(r"^::([a-z-]+)(?: ([^:]*))?::(.*)$")
_ANNOTATIONS = {"error": "Error", "warning": "Warning", "notice": "Notice"}


def runner_environment(inputs: dict[str, str], workdir: Path) -> dict[str, str]:
    """Every declared input present, empty when unset, as the runner does."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "GITHUB_ACTIONS": "true",
        "GITHUB_OUTPUT": str(workdir / "output"),
        "GITHUB_STEP_SUMMARY": str(workdir / "summary"),
    }
    for field in Inputs.model_fields:
        name = field.replace("_", "-")
        env[env_names(name)[0]] = inputs.get(name, "")
    return env


def as_shown(lines: Iterable[str]) -> Iterator[str]:
    """The runner's stream as the GitHub UI shows it: commands interpreted, not printed."""
    masks: list[str] = []
    stopped_until: str | None = None
    for raw in lines:
        line = raw.rstrip("\n")
        for secret in masks:
            line = line.replace(secret, "***")
        if stopped_until is not None:
            if line == f"::{stopped_until}::":
                stopped_until = None
            else:
                yield line
            continue
        command = _COMMAND.match(line)
        if command is None:
            yield line
            continue
        name, _, value = command.groups()
        value = _unescape(value)
        if name == "add-mask":
            masks.append(value)
        elif name == "stop-commands":
            stopped_until = value
        elif name == "group":
            yield f"\n▸ {value}"
        elif name in _ANNOTATIONS:
            yield f"{_ANNOTATIONS[name]}: {value}"
        # endgroup, debug and anything else show nothing in the UI's log.


def _unescape(value: str) -> str:
    return value.replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%")


def read_outputs(text: str) -> dict[str, str]:
    """GITHUB_OUTPUT's heredoc form: name<<DELIMITER, value lines, DELIMITER."""
    outputs: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        name, _, delimiter = line.partition("<<")
        value: list[str] = []
        for inner in lines:
            if inner == delimiter:
                break
            value.append(inner)
        outputs[name] = "\n".join(value)
    return outputs


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--raw", action="store_true", help="print the runner's raw stream")
    raw = parser.parse_args(argv).raw
    with Sandbox() as sandbox, tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        fixture = demo_fixture(sandbox)
        for name in ("output", "summary"):
            (workdir / name).write_text("")
        env = runner_environment(
            {
                "operation": "slug-copy",
                "heroku-api-key": fixture["token"],
                "heroku-api-url": sandbox.url,
                "source-app": fixture["source_app"],
                "target-apps": fixture["targets"],
                "timeout": "2m",
            },
            workdir,
        )
        print(f"sandbox: {sandbox.url}; running the action as the runner would", flush=True)
        started = time.monotonic()
        with subprocess.Popen(
            [sys.executable, "-m", "promote_action"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        ) as child:
            assert child.stdout is not None
            for line in child.stdout if raw else as_shown(child.stdout):
                print(line.rstrip("\n"), flush=True)
        exit_code = child.returncode
        elapsed = time.monotonic() - started
        summary = (workdir / "summary").read_text()
        print("\n--- job summary (GITHUB_STEP_SUMMARY) ---")
        print(summary if raw else plain_text(summary))
        print("--- step outputs (GITHUB_OUTPUT) ---")
        output = (workdir / "output").read_text()
        if raw:
            print(output)
        else:
            for name, value in read_outputs(output).items():
                print(f"{name}: {value}")
        print(f"\nexit code {exit_code} after {elapsed:.1f}s; {len(sandbox.requests)} API requests")
        return exit_code


if __name__ == "__main__":
    sys.exit(main())
