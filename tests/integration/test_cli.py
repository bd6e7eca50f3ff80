"""The entrypoint as a person runs it in a terminal (no GITHUB_OUTPUT): flags, help, the
plain-text summary, --json and --output, and the variables it falls back to."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

from conftest import HerokuWorld
from kintone_world import KintoneWorld, kintone_world_fixture  # noqa: F401 - fixture
from promote_action import cli
from promote_action.waiting import CancelToken
from runner import run_action


@dataclass
class Console:
    exit_code: int
    stdout: str
    stderr: str


def console(*args: str, **environ: str) -> Console:
    stdout, stderr = io.StringIO(), io.StringIO()
    code = cli.run(list(args), environ, CancelToken(), stdout=stdout, stderr=stderr)
    return Console(code, stdout.getvalue(), stderr.getvalue())


def heroku_env(world: HerokuWorld) -> dict[str, str]:
    return {"HEROKU_API_URL": world.sandbox.url, "HEROKU_API_KEY": world.token}


def test_no_arguments_prints_help_with_operations_sandbox_and_exit_codes() -> None:
    shown = console()
    assert shown.exit_code == 0
    assert shown.stdout.startswith("usage: promote-action")
    for text in (
        "slug-copy",
        "connect-check",
        "promote-sandbox",
        "exit codes:",
        "130",
        "--no-wait",
    ):
        assert text in shown.stdout, text


def test_booleans_are_flags_and_still_take_a_value(heroku: HerokuWorld) -> None:
    env = heroku_env(heroku)
    args = ("--operation", "slug-copy", "--source-app", "shop-staging")
    as_flag = console(*args, "--target-apps", "shop-prod-eu", "--dry-run", **env)
    with_value = console(*args, "--target-apps", "shop-prod-eu", "--dry-run", "true", **env)
    assert "status: dry-run" in as_flag.stdout, as_flag.stderr
    assert "status: dry-run" in with_value.stdout, with_value.stderr
    assert heroku.sandbox.writes() == []
    no_wait = console(*args, "--target-apps", "shop-prod-eu", "--no-wait", **env)
    assert no_wait.exit_code == 0, no_wait.stderr
    assert "status: created" in no_wait.stdout, no_wait.stdout


def test_the_terminal_summary_is_plain_text_and_an_error_is_printed_once(
    heroku: HerokuWorld,
) -> None:
    ok = console(
        "--operation", "slug-copy", "--source-app", "shop-staging", "--target-apps", "shop-prod-eu",
        **heroku_env(heroku),
    )  # fmt: skip
    assert ok.exit_code == 0, ok.stderr
    assert "✅ Heroku slug copy: succeeded" in ok.stdout
    assert "\\(" not in ok.stdout
    assert "**" not in ok.stdout
    assert "|---" not in ok.stdout
    assert "shop-prod-eu  v1" in ok.stdout, "the table is laid out in columns"

    failed = console(
        "--operation", "slug-copy", "--source-app", "no-such-app", "--target-apps", "shop-prod-eu",
        **heroku_env(heroku),
    )  # fmt: skip
    assert failed.exit_code == 2
    everything = failed.stdout + failed.stderr
    assert everything.count("Couldn't find that app.") == 1, everything
    assert "\\_" not in everything


def test_json_is_one_flat_object_and_output_prints_one_value(heroku: HerokuWorld) -> None:
    env = heroku_env(heroku)
    args = ("--operation", "slug-copy", "--source-app", "shop-staging")
    ran = console(*args, "--target-apps", "shop-prod-eu,shop-prod-us", "--json", **env)
    assert ran.exit_code == 0, ran.stderr
    outputs = json.loads(ran.stdout)
    assert outputs["status"] == "succeeded"
    assert isinstance(outputs["result"], dict), "JSON outputs nest, not as strings"
    current = heroku.sandbox.heroku.current_release("shop-prod-eu")
    assert outputs["release-id"]["shop-prod-eu"] == current.id
    plan = console(
        *args, "--target-apps", "shop-prod-eu", "--mode", "plan", "--output", "plan", **env
    )
    assert plan.exit_code == 0, plan.stderr
    assert json.loads(plan.stdout)["operation"] == "slug-copy"
    assert plan.stdout.count("\n") == 1, "only the value"


def test_github_token_falls_back_outside_actions_only(heroku: HerokuWorld) -> None:
    heroku.sandbox.github.add_repo("acme/shop", "ghs_" + "t" * 36)
    heroku.sandbox.github.add_ref("acme/shop", "main", "a" * 40)
    github = {
        "GITHUB_TOKEN": "ghs_" + "t" * 36,
        "GITHUB_API_URL": f"{heroku.sandbox.url}/github",
        "GITHUB_REPOSITORY": "acme/shop",
        "GITHUB_SHA": "a" * 40,
    }
    args = ("--operation", "slug-copy", "--source-app", "shop-staging")
    outside = console(
        *args, "--target-apps", "shop-prod-eu", "--json", **heroku_env(heroku), **github
    )
    assert outside.exit_code == 0, outside.stderr
    assert heroku.sandbox.github.deployments("acme/shop"), "the CLI used GITHUB_TOKEN"

    inside = run_action(heroku.inputs(target_apps="shop-prod-us"), **github)
    assert inside.exit_code == 0, inside.stdout
    assert len(heroku.sandbox.github.deployments("acme/shop")) == 1, "a job's env is not input"
    assert inside.outputs.get("deployment-id", "") == ""


def test_the_kintone_username_is_not_masked_but_the_password_is(kintone: KintoneWorld) -> None:
    run = run_action(kintone.inputs())
    assert run.exit_code == 0, run.stdout
    assert "::add-mask::s3cret pass" in run.stdout
    assert "::add-mask::deployer" not in run.stdout
