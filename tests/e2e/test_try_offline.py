"""README's "Try it offline" commands, run verbatim: the sandbox command, its exported
variables, and one promote-action command per operation with no URL or credential flag."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def try_it_offline_commands() -> str:
    """The section's last `sh` block: the one a reader pastes after `make install`."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Try it offline\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, re.S)[-1]


def test_the_readme_commands_run_every_operation_against_the_sandbox(tmp_path: Path) -> None:
    commands = try_it_offline_commands()
    assert commands.startswith("promote-sandbox > sandbox.env &\n")
    operations = set(re.findall(r"--operation ([a-z-]+)", commands))
    assert operations == {
        "slug-copy", "pipeline-promote", "kintone-deploy", "kintone-export", "kintone-promote",
        "connect-check", "connect-promote", "connect-export", "connect-reload",
        "connect-recover", "connect-pause", "connect-resume",
    }  # fmt: skip
    script = tmp_path / "try.sh"
    # Stop at the first failing command, and never leave the sandbox running.
    script.write_text("set -e\ntrap 'kill %1 2>/dev/null || true' EXIT\n" + commands)
    env = {
        "PATH": f"{ROOT / '.venv/bin'}:{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
    }
    # Its own session: on a timeout the sandbox and any hung command go with the script.
    with subprocess.Popen(
        ["bash", str(script)], cwd=tmp_path, env=env, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as process:  # fmt: skip
        try:
            # 15 s alone; minutes on a machine busy with other test runs.
            stdout, stderr = process.communicate(timeout=600)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
            pytest.fail(f"the commands did not finish:\n{stdout[-3000:]}\n{stderr[-3000:]}")
    done = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    statuses = re.findall(r"^status: (.*)$", done.stdout, re.M)
    # slug-copy dry run and run; pipeline-promote apply (the plan run printed only its plan);
    # kintone-deploy, kintone-export, kintone-promote (app 1's settings onto app 2, deployed
    # just before); connect-check; connect-promote dry run and run; connect-export,
    # connect-reload, connect-recover (a healthy connection is left alone), connect-pause.
    assert statuses == [
        "dry-run", "succeeded", "succeeded", "succeeded", "succeeded", "succeeded",
        "succeeded", "dry-run", "succeeded", "succeeded", "succeeded", "unchanged", "succeeded",
    ], done.stdout  # fmt: skip
    assert (tmp_path / "kintone-snapshot" / "fields.json").is_file()
    exported = json.loads((tmp_path / "production-mappings.json").read_text())
    assert {m["object_name"] for m in exported["mappings"]} == {"Account", "Contact"}
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert plan["operation"] == "pipeline-promote"
    resumed = json.loads(done.stdout[done.stdout.rindex("\n{\n") :])
    assert resumed["status"] == "succeeded"
    assert resumed["result"]["operation"] == "connect-resume", "--json nests JSON outputs"
    assert "sandbox listening on http://127.0.0.1:" in done.stderr
    assert "::" not in done.stdout + done.stderr, "no workflow commands outside Actions"
