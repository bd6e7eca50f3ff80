"""Remote text in every field the action shows cannot act as a workflow command, rewrite a
terminal, or flood the log: both command forms are neutralised, control characters removed,
one remote message capped (issue 11, point 8)."""

from __future__ import annotations

import re

from conftest import HerokuWorld
from promote_sandbox import Fault
from runner import run_action

PAYLOAD = "::set-output name=status::succeeded ##[add-mask]hide ##[set-env name=X]y \x1b[2J\x07"
OURS = (
    "add-mask::",
    "warning title=",
    "error title=",
    "debug::",
    "stop-commands::",
    "group::",
    "endgroup::",
)


def our_commands_only(stdout: str) -> list[str]:
    """Lines the runner would act on that the action did not mean as commands."""
    foreign = []
    stopped_until = None
    for line in stdout.splitlines():
        if re.search(r"##\[", line):
            foreign.append(line)
        command = line.strip()
        if stopped_until is not None:
            stopped_until = None if command == f"::{stopped_until}::" else stopped_until
            continue
        if command.startswith("::stop-commands::"):
            stopped_until = command.removeprefix("::stop-commands::")
        elif command.startswith("::") and not command[2:].startswith(OURS):
            foreign.append(line)
    return foreign


def test_payloads_in_every_heroku_text_field_are_shown_not_executed(heroku: HerokuWorld):
    h = heroku.sandbox.heroku
    h.add_app("evil-source", owner_token=heroku.token)
    slug = h.add_slug("evil-source", commit="a" * 40, commit_description=PAYLOAD)
    h.add_release("evil-source", slug_id=slug, status="succeeded", description=PAYLOAD)
    h.set_config_vars("evil-source", {"PAYLOAD_##[add-mask]": "v"})
    h.set_release_behaviour(
        "shop-prod-eu", pending_seconds=0.1, release_phase_lines=[PAYLOAD, "done"]
    )
    heroku.sandbox.add_fault(
        Fault(
            match=r"^POST /apps/[^/]+/releases$",
            status=422,
            error_id="invalid_params" + PAYLOAD,
            message=PAYLOAD + "e" * 300_000,
            every=2,
        )
    )
    run = run_action(heroku.inputs(source_app="evil-source", description=""))
    assert run.exit_code == 1, run.stdout
    assert our_commands_only(run.stdout) == []
    for shown in (run.stdout, run.summary, *run.outputs.values()):
        assert "\x1b" not in shown
        assert "\x07" not in shown
    assert max(len(line) for line in run.stdout.splitlines()) < 2 * 2048 + 500
    assert "(truncated)" in run.stdout
    assert len(run.summary) < 20_000
    assert run.outputs["status"] == "failed"


def test_payloads_in_kintone_app_names_and_errors_are_shown_not_executed(sandbox):
    k = sandbox.kintone
    k.add_user("deployer", "s3cret pass")
    app = k.add_app(name=PAYLOAD, managers=["deployer"], preview_revision=6, live_revision=5).id
    k.set_deploy_behaviour(processing_seconds=0.2)
    sandbox.add_fault(
        Fault(
            match=r"^POST /k/v1/preview/app/deploy.json",
            status=400,
            error_id="CB_VA01" + PAYLOAD,
            message=PAYLOAD + "e" * 300_000,
        )
    )
    run = run_action(
        {
            "operation": "kintone-deploy",
            "kintone-base-url": sandbox.url,
            "kintone-apps": app,
            "kintone-username": "deployer",
            "kintone-password": "s3cret pass",
            "timeout": "30s",
        }
    )
    assert run.exit_code == 1, run.stdout
    assert our_commands_only(run.stdout) == []
    for shown in (run.stdout, run.summary, *run.outputs.values()):
        assert "\x1b" not in shown
        assert "\x07" not in shown
    assert max(len(line) for line in run.stdout.splitlines()) < 2 * 2048 + 500
