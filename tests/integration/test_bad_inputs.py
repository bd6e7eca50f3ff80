"""Bad input: one line naming the input and what is accepted, exit 2, and no write request."""

from __future__ import annotations

import pytest

from conftest import HerokuWorld
from kintone_world import (
    KintoneWorld,
    kintone_world_fixture,  # noqa: F401 - the `kintone` fixture
)
from runner import run_action

NAME_RULE = "is not a Heroku app name"

CASES = [
    # (id, inputs, expected message fragment)
    ("operation missing", {"operation": ""}, "input 'operation': is required; accepted: slug-copy"),
    (
        "operation unknown",
        {"operation": "deploy-everything"},
        "input 'operation': expected one of: slug-copy",
    ),
    ("api key missing", {"heroku-api-key": ""}, "input 'heroku-api-key': is required"),
    (
        "api key with spaces",
        {"heroku-api-key": "HRKU-abc def"},
        "input 'heroku-api-key': expected an API key",
    ),
    ("source app missing", {"source-app": ""}, "input 'source-app': is required"),
    (
        "source app uppercase",
        {"source-app": "Shop_Staging"},
        f"input 'source-app': 'Shop_Staging' {NAME_RULE}",
    ),
    (
        "source app injection",
        {"source-app": "shop\n::set-output name=status::succeeded"},
        "input 'source-app': 'shop?::set-output",
    ),
    ("target apps missing", {"target-apps": ""}, "input 'target-apps': is required"),
    ("target apps only separators", {"target-apps": " , \n ,"}, "input 'target-apps': is required"),
    (
        "target with space",
        {"target-apps": "shop-prod-eu, shop prod"},
        f"input 'target-apps': 'shop prod' {NAME_RULE}",
    ),
    ("target too long", {"target-apps": "a" * 31}, f"{NAME_RULE}"),
    (
        "target is the source",
        {"target-apps": "shop-prod-eu,shop-staging"},
        "input 'target-apps': 'shop-staging' is also the source app",
    ),
    (
        "too many targets",
        {"target-apps": ",".join(f"app-{i:03d}" for i in range(101))},
        "input 'target-apps': expected at most 100 apps, got 101",
    ),
    (
        "release garbage",
        {"release": "latest"},
        "input 'release': 'latest' is not a release version",
    ),
    ("release zero", {"release": "0"}, "input 'release': '0' is not a release version"),
    ("release negative", {"release": "-1"}, "input 'release': '-1' is not a release version"),
    ("slug not uuid", {"slug": "abc"}, "input 'slug': 'abc' is not a slug id"),
    (
        "release and slug",
        {"release": "2", "slug": "01234567-89ab-cdef-0123-456789abcdef"},
        "input 'slug': give either 'release' or 'slug', not both",
    ),
    ("wait yes", {"wait": "yes"}, "input 'wait': expected true or false"),
    ("dry run 1", {"dry-run": "1"}, "input 'dry-run': expected true or false"),
    (
        "timeout words",
        {"timeout": "forever"},
        "input 'timeout': expected a duration such as 90s, 15m or 1h30m",
    ),
    ("timeout zero", {"timeout": "0s"}, "input 'timeout': expected a duration between 1s and 6h"),
    (
        "timeout too long",
        {"timeout": "7h"},
        "input 'timeout': expected a duration between 1s and 6h",
    ),
    ("timeout negative", {"timeout": "-5m"}, "input 'timeout': expected a duration such as"),
    (
        "api url ftp",
        {"heroku-api-url": "ftp://api.heroku.com"},
        "input 'heroku-api-url': expected an https:// URL",
    ),
    (
        "api url plain http",
        {"heroku-api-url": "http://api.heroku.com"},
        "plain http is allowed only for localhost",
    ),
    (
        "api url credentials",
        {"heroku-api-url": "https://user:pw@api.heroku.com"},
        "input 'heroku-api-url': expected a URL without credentials",
    ),
    (
        "description newline",
        {"description": "ok\n::error::pwned"},
        "input 'description': expected a single line without control characters",
    ),
    (
        "description too long",
        {"description": "x" * 501},
        "input 'description': expected at most 500 characters",
    ),
    (
        "unknown source app",
        {"source-app": "no-such-app"},
        "input 'source-app': app 'no-such-app' not found (Heroku not_found",
    ),
    (
        "unknown target app",
        {"target-apps": "shop-prod-eu,ghost-app"},
        "input 'target-apps': app 'ghost-app' not found",
    ),
    (
        "pinned release missing",
        {"release": "99"},
        "input 'release': release 99 not found on shop-staging",
    ),
    (
        "pinned release failed",
        {"release": "3"},
        "input 'release': release v3 of shop-staging is failed",
    ),
    (
        "pinned slug missing",
        {"slug": "01234567-89ab-cdef-0123-456789abcdef"},
        "input 'slug': slug 01234567-89ab-cdef-0123-456789abcdef not found",
    ),
]

UNREAD = [
    # Inputs the chosen operation and mode would silently ignore (issue 11, point 2).
    ("plan in mode run", {"plan": "{}"}, "input 'plan': is only read in mode apply (mode is run)"),
    (
        "plan in mode plan",
        {"plan": "{}", "mode": "plan"},
        "input 'plan': is only read in mode apply (mode is plan)",
    ),
    ("plan key in mode run", {"plan-key": "k3y"}, "input 'plan-key': is only read in mode plan"),
    (
        "dry run in mode apply",
        {"mode": "apply", "plan": "{}", "dry-run": "true"},
        "input 'dry-run': is not read in mode apply",
    ),
    (
        "health check without waiting",
        {"wait": "false", "health-check": "true"},
        "input 'health-check': needs wait: true",
    ),
    (
        "rollback without waiting",
        {"wait": "false", "rollback-on-failure": "true"},
        "input 'rollback-on-failure': needs wait: true",
    ),
    (
        "health check URL without the health check",
        {"health-check-url": "https://shop.example.com/health"},
        "input 'health-check-url': is a setting of the health check: set health-check: true",
    ),
    (
        "target stage on slug-copy",
        {"target-stage": "production"},
        "input 'target-stage': is not read by operation slug-copy",
    ),
    (
        "kintone input on slug-copy",
        {"kintone-apps": "1"},
        "input 'kintone-apps': is not read by operation slug-copy",
    ),
]


@pytest.mark.parametrize(("inputs", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_exits_2_with_one_line_and_no_write(heroku: HerokuWorld, inputs, message):
    run = run_action(heroku.inputs(**{k.replace("-", "_"): v for k, v in inputs.items()}))
    assert run.exit_code == 2, run.stdout + run.stderr
    errors = run.error_lines()
    assert len(errors) == 1, run.stdout
    assert message in errors[0].replace("%0A", "\n"), errors[0]
    assert run.outputs["status"] == "failed"
    assert "Nothing was changed" in run.summary
    assert heroku.sandbox.writes() == []
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize(("inputs", "message"), [c[1:] for c in UNREAD], ids=[c[0] for c in UNREAD])
def test_input_the_operation_does_not_read_is_refused_before_any_request(
    heroku: HerokuWorld, inputs, message
):
    run = run_action(heroku.inputs(**inputs))
    assert run.exit_code == 2, run.stdout + run.stderr
    errors = run.error_lines()
    assert len(errors) == 1, run.stdout
    assert message in errors[0], errors[0]
    assert heroku.sandbox.requests == []


def test_rollback_on_kintone_deploy_is_refused(kintone: KintoneWorld):
    run = run_action(kintone.inputs(rollback_on_failure="true"))
    assert run.exit_code == 2
    assert (
        "input 'rollback-on-failure': is not read by operation kintone-deploy"
        in run.error_lines()[0]
    )
    assert kintone.sandbox.requests == []


def test_defaults_and_fallback_variables_are_not_unread_inputs(kintone: KintoneWorld):
    """The runner passes every input (defaults included); HEROKU_API_KEY in the job's env is a
    fallback, not an input given to kintone-deploy."""
    run = run_action(kintone.inputs(), HEROKU_API_KEY="HRKU-unrelated")
    assert run.exit_code == 0, run.stdout


def test_same_app_twice_by_name_and_id_is_refused(heroku: HerokuWorld):
    app_id = heroku.sandbox.heroku.app("shop-prod-eu").id
    run = run_action(heroku.inputs(target_apps=f"shop-prod-eu,{app_id}"))
    assert run.exit_code == 2
    assert f"input 'target-apps': '{app_id}' and 'shop-prod-eu' are one app" in run.error_lines()[0]


def test_source_given_by_id_among_targets_is_refused(heroku: HerokuWorld):
    app_id = heroku.sandbox.heroku.app("shop-staging").id
    run = run_action(heroku.inputs(target_apps=f"shop-prod-eu,{app_id}"))
    assert run.exit_code == 2
    assert "is the source app shop-staging" in run.error_lines()[0]
    assert heroku.sandbox.writes() == []


def test_source_without_any_slug_is_refused(heroku: HerokuWorld):
    h = heroku.sandbox.heroku
    h.add_app("container-app", owner_token=heroku.token)
    h.add_release("container-app", slug_id=None, status="succeeded")
    run = run_action(heroku.inputs(source_app="container-app"))
    assert run.exit_code == 2
    assert "release v1 of container-app has no slug" in run.error_lines()[0]
