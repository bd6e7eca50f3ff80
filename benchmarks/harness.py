"""Run the action once as the runner does (a child process, every input as `INPUT_*`) and time
it against the clock the sandbox stamps its requests with."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from promote_sandbox.demo import runner_environment


def run_timed(inputs: dict[str, str]) -> tuple[float, float]:
    """Monotonic times of the action's start and exit; a failed run stops the benchmark."""
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for name in ("output", "summary"):
            (workdir / name).write_text("")
        env = runner_environment({"timeout": "5m", **inputs}, workdir)
        if "PYTHONPATH" in os.environ:
            # Measure another checkout (`PYTHONPATH=/path/to/src`), e.g. for before/after numbers.
            env["PYTHONPATH"] = os.environ["PYTHONPATH"]
        started = time.monotonic()
        code = subprocess.call(
            [sys.executable, "-m", "promote_action"], env=env, stdout=subprocess.DEVNULL
        )
        exited = time.monotonic()
    if code != 0:
        raise SystemExit(f"{inputs['operation']}: the action failed with exit code {code}")
    return started, exited
