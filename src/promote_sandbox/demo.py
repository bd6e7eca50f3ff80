"""`make demo`: a slug copy to two apps against the embedded sandbox, no accounts needed.

The action runs in a child process exactly as the runner starts it (every input as an
`INPUT_*` variable, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files), so the demo exercises the
same entrypoint a workflow does.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from promote_action.inputs import Inputs, env_names
from promote_sandbox import Sandbox, demo_fixture


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


def main() -> int:
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
        print(f"sandbox: {sandbox.url}; running the action as the runner would\n", flush=True)
        started = time.monotonic()
        exit_code = subprocess.call([sys.executable, "-m", "promote_action"], env=env)
        elapsed = time.monotonic() - started
        print("\n--- job summary (GITHUB_STEP_SUMMARY) ---")
        print((workdir / "summary").read_text())
        print("--- step outputs (GITHUB_OUTPUT, runner format) ---")
        print((workdir / "output").read_text())
        print(f"exit code {exit_code} after {elapsed:.1f}s; {len(sandbox.requests)} API requests")
        return exit_code


if __name__ == "__main__":
    sys.exit(main())
