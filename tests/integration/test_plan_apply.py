"""Plan, approve, apply: what was reviewed is exactly what ships, and drift is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import COMMIT, HerokuWorld
from connect_world import (
    ConnectWorld,
    connect_world_fixture,  # noqa: F401 - the `world` fixture
)
from promote_action import plans
from promote_sandbox import Sandbox
from runner import run_action


def plan_of(run) -> dict:
    assert "\n" not in run.outputs["plan"], "compact, one line"
    return json.loads(run.outputs["plan"])


def signed(envelope: dict, source: str, secret: str) -> str:
    """A plan edited by someone who holds the secret: a valid signature over the edit."""
    parsed = plans.PlanEnvelope.model_validate(envelope)
    parsed.signature = plans.sign(parsed, plans.derive_key(source, secret))
    return parsed.model_dump_json()


def heroku_posts(sandbox: Sandbox) -> list:
    return [r for r in sandbox.requests if r.method == "POST"]


# -- Heroku slug copy --------------------------------------------------------------------------------


def test_plan_is_read_only_and_describes_the_change(heroku: HerokuWorld):
    h = heroku.sandbox.heroku
    h.set_config_vars(
        "shop-staging", {"DATABASE_URL": "postgres://u:hunter2@db/x", "NEW_FLAG": "on"}
    )
    h.set_config_vars("shop-prod-eu", {"DATABASE_URL": "postgres://u:other@db/y"})
    h.set_config_vars("shop-prod-us", {"DATABASE_URL": "x", "NEW_FLAG": "off"})
    run = run_action(heroku.inputs(mode="plan"))
    assert run.exit_code == 0, run.stdout
    assert run.outputs["status"] == "planned"
    assert heroku.sandbox.writes() == []
    envelope = plan_of(run)
    assert envelope["operation"] == "slug-copy"
    assert envelope["version"] == 1
    plan = envelope["plan"]
    assert plan["source"]["release_id"] == h.releases("shop-staging")[1].id
    assert [t["current_version"] for t in plan["targets"]] == [1, 1]
    assert plan["findings"] == ["shop-prod-eu lacks config vars set on shop-staging: NEW_FLAG"]
    assert "NEW\\_FLAG" in run.summary
    assert f"https://github.com/acme/shop/compare/{'0' * 40}...{COMMIT}" in run.summary
    for secret in ("hunter2", "other", heroku.token):
        assert secret not in run.outputs["plan"]
        assert secret not in run.summary


def test_apply_of_an_unchanged_plan_ships_exactly_it(heroku: HerokuWorld):
    planned = run_action(heroku.inputs(mode="plan"))
    heroku.sandbox.clear_requests()
    applied = run_action(
        heroku.inputs(mode="apply", plan=planned.outputs["plan"], source_app="", target_apps="")
    )
    assert applied.exit_code == 0, applied.stdout
    assert applied.outputs["status"] == "succeeded"
    assert len(heroku_posts(heroku.sandbox)) == 2
    for target in heroku.targets:
        assert heroku.sandbox.heroku.current_release(target).slug_id == heroku.slug_id


def test_a_newer_source_release_is_refused_with_zero_writes(heroku: HerokuWorld):
    planned = run_action(heroku.inputs(mode="plan"))
    newer = heroku.sandbox.heroku.add_slug("shop-staging", commit="9" * 40)
    heroku.sandbox.heroku.add_release("shop-staging", slug_id=newer)
    heroku.sandbox.clear_requests()
    applied = run_action(heroku.inputs(mode="apply", plan=planned.outputs["plan"]))
    assert applied.exit_code == 1
    assert applied.outputs["status"] == "drifted"
    line = applied.error_lines()[0]
    assert "refusing to apply the plan" in line
    assert "shop-staging: the newest succeeded release is now v4 (the plan ships v2)" in line
    assert heroku.sandbox.writes() == []
    assert "Nothing was changed" in applied.summary


def test_a_pinned_plan_ships_its_release_even_if_a_newer_one_exists(heroku: HerokuWorld):
    planned = run_action(heroku.inputs(mode="plan", release="2"))
    newer = heroku.sandbox.heroku.add_slug("shop-staging", commit="9" * 40)
    heroku.sandbox.heroku.add_release("shop-staging", slug_id=newer)
    applied = run_action(heroku.inputs(mode="apply", plan=planned.outputs["plan"]))
    assert applied.exit_code == 0, applied.stdout
    assert heroku.sandbox.heroku.current_release("shop-prod-eu").slug_id == heroku.slug_id


def test_a_target_that_changed_release_is_refused(heroku: HerokuWorld):
    planned = run_action(heroku.inputs(mode="plan"))
    heroku.sandbox.heroku.add_release("shop-prod-us", slug_id=heroku.old_slug_id)
    heroku.sandbox.clear_requests()
    applied = run_action(heroku.inputs(mode="apply", plan=planned.outputs["plan"]))
    assert applied.exit_code == 1
    assert "shop-prod-us now runs v2 (the plan was made when it ran v1)" in applied.error_lines()[0]
    assert heroku.sandbox.writes() == []


def test_strict_turns_findings_into_failures_before_any_write(heroku: HerokuWorld):
    heroku.sandbox.heroku.set_config_vars("shop-staging", {"NEW_FLAG": "on"})
    planned = run_action(heroku.inputs(mode="plan", strict="true"))
    assert planned.exit_code == 1
    assert "strict: pre-flight findings" in planned.error_lines()[0]
    ran = run_action(heroku.inputs(strict="true"))
    assert ran.exit_code == 1
    assert heroku.sandbox.writes() == []
    warned = run_action(heroku.inputs())
    assert warned.exit_code == 0
    assert (
        "::warning title=promote-action::pre-flight: shop-prod-eu lacks config vars"
        in warned.stdout
    )


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        ("", "input 'plan': is required with mode apply"),
        ("{not json", "input 'plan': is not a plan written by mode plan"),
        (
            '{"version":1,"operation":"slug-copy","created_at":"x","plan":{"nope":1}}',
            "input 'plan': has no valid signature",
        ),
        (
            '{"version":9,"operation":"slug-copy","created_at":"x","plan":{}}',
            "input 'plan': was written in plan format 9",
        ),
    ],
)
def test_bad_plans_are_usage_errors(heroku: HerokuWorld, plan, message):
    run = run_action(heroku.inputs(mode="apply", plan=plan))
    assert run.exit_code == 2
    assert message in run.error_lines()[0]
    assert heroku.sandbox.writes() == []


def test_a_plan_for_another_operation_is_refused(heroku: HerokuWorld):
    planned = run_action(heroku.inputs(mode="plan"))
    run = run_action(
        heroku.inputs(mode="apply", operation="kintone-deploy", plan=planned.outputs["plan"])
    )
    assert run.exit_code == 2
    assert (
        "input 'operation': is kintone-deploy but the plan is for slug-copy" in run.error_lines()[0]
    )


def test_twenty_target_plan_is_compact(heroku: HerokuWorld):
    h = heroku.sandbox.heroku
    names = [f"shop-region-{i:02d}" for i in range(20)]
    for name in names:
        h.add_app(name, owner_token=heroku.token)
        h.add_release(name, slug_id=heroku.old_slug_id)
    run = run_action(heroku.inputs(mode="plan", target_apps=",".join(names)))
    assert run.exit_code == 0, run.stdout
    assert len(plan_of(run)["plan"]["targets"]) == 20
    assert len(run.outputs["plan"]) < 20_000


# -- pipeline promotion --------------------------------------------------------------------------------


def test_pipeline_plan_then_apply_and_drift(sandbox: Sandbox):
    h = sandbox.heroku
    token = h.add_user("ops@example.com")
    pipeline = h.add_pipeline("shop", owner_token=token)
    h.add_app("shop-staging", owner_token=token)
    slug = h.add_slug("shop-staging", commit=COMMIT)
    h.add_release("shop-staging", slug_id=slug)
    h.couple("shop-staging", pipeline.id, "staging")
    for name in ("shop-prod-eu", "shop-prod-us"):
        h.add_app(name, owner_token=token)
        h.couple(name, pipeline.id, "production")
    inputs = {
        "operation": "pipeline-promote",
        "heroku-api-key": token,
        "heroku-api-url": sandbox.url,
        "source-app": "shop-staging",
        "timeout": "30s",
    }
    planned = run_action({**inputs, "mode": "plan"})
    assert planned.exit_code == 0, planned.stdout
    assert sandbox.writes() == []
    applied = run_action({**inputs, "mode": "apply", "plan": planned.outputs["plan"]})
    assert applied.exit_code == 0, applied.stdout
    assert h.current_release("shop-prod-eu").slug_id == slug
    # a second plan, then staging moves on: refused
    again = run_action({**inputs, "mode": "plan", "target-apps": "shop-prod-eu"})
    h.add_release("shop-staging", slug_id=h.add_slug("shop-staging", commit="8" * 40))
    sandbox.clear_requests()
    refused = run_action({**inputs, "mode": "apply", "plan": again.outputs["plan"]})
    assert refused.exit_code == 1
    assert "shop-staging now runs v2 (the plan promotes v1)" in refused.error_lines()[0]
    assert sandbox.writes() == []


def test_a_pipeline_plan_survives_changes_around_its_targets(sandbox: Sandbox):
    """A review app opened or a development deploy between plan and apply changes the map the
    reviewer saw, not what the plan ships: apply goes ahead."""
    h = sandbox.heroku
    token = h.add_user("ops@example.com")
    pipeline = h.add_pipeline("shop", owner_token=token)
    for name, stage in (("shop-dev", "development"), ("shop-staging", "staging")):
        h.add_app(name, owner_token=token)
        h.couple(name, pipeline.id, stage)
    slug = h.add_slug("shop-staging", commit=COMMIT)
    h.add_release("shop-staging", slug_id=slug)
    h.add_app("shop-prod", owner_token=token)
    h.couple("shop-prod", pipeline.id, "production")
    inputs = {
        "operation": "pipeline-promote",
        "heroku-api-key": token,
        "heroku-api-url": sandbox.url,
        "source-app": "shop-staging",
        "timeout": "30s",
    }
    planned = run_action({**inputs, "mode": "plan"})
    assert planned.exit_code == 0, planned.stdout
    h.add_release("shop-dev", slug_id=h.add_slug("shop-dev", commit="7" * 40))
    h.add_app("shop-pr-7", owner_token=token)
    h.couple("shop-pr-7", pipeline.id, "review")
    applied = run_action({**inputs, "mode": "apply", "plan": planned.outputs["plan"]})
    assert applied.exit_code == 0, applied.stdout
    assert h.current_release("shop-prod").slug_id == slug


# -- kintone ---------------------------------------------------------------------------------------------


def kintone_inputs(sandbox: Sandbox, apps: list[str], **extra: str) -> dict[str, str]:
    return {
        "operation": "kintone-deploy",
        "kintone-base-url": sandbox.url,
        "kintone-apps": ",".join(apps),
        "kintone-username": "deployer",
        "kintone-password": "s3cret pass",
        "timeout": "30s",
        **extra,
    }


def test_kintone_plan_lists_what_changes_and_apply_refuses_a_moved_preview(sandbox: Sandbox):
    k = sandbox.kintone
    k.add_user("deployer", "s3cret pass")
    app = k.add_app(managers=["deployer"]).id
    k.change_preview(app, fields={"Price": {"type": "NUMBER", "code": "Price", "label": "Price"}})
    k.change_preview(
        app, views={"Open orders": {"type": "LIST", "name": "Open orders", "index": "1"}}
    )
    planned = run_action(kintone_inputs(sandbox, [app], mode="plan"))
    assert planned.exit_code == 0, planned.stdout
    assert sandbox.writes() == []
    assert "form fields: +Price" in planned.summary.replace("\\+", "+")
    assert "views: +Open orders" in planned.summary.replace("\\+", "+")
    assert plan_of(planned)["plan"]["apps"][0]["preview_revision"] == 7
    k.change_preview(app, name="Edited after review")
    sandbox.clear_requests()
    refused = run_action(kintone_inputs(sandbox, [app], mode="apply", plan=planned.outputs["plan"]))
    assert refused.exit_code == 1
    assert (
        f"app {app}: preview settings are now at revision 8 (the plan deploys 7)"
        in refused.error_lines()[0]
    )
    assert sandbox.writes() == []


def test_kintone_apply_of_an_unchanged_plan(sandbox: Sandbox):
    k = sandbox.kintone
    k.add_user("deployer", "s3cret pass")
    app = k.add_app(managers=["deployer"], preview_revision=4, live_revision=3).id
    k.set_deploy_behaviour(processing_seconds=0.3)
    planned = run_action(kintone_inputs(sandbox, [app], mode="plan"))
    applied = run_action(kintone_inputs(sandbox, [], mode="apply", plan=planned.outputs["plan"]))
    assert applied.exit_code == 0, applied.stdout
    assert k.app(app).live_revision == 4


def test_three_hundred_app_plan_stays_within_output_limits(sandbox: Sandbox):
    k = sandbox.kintone
    k.add_user("deployer", "s3cret pass")
    apps = [
        k.add_app(managers=["deployer"], preview_revision=2, live_revision=1).id for _ in range(300)
    ]
    run = run_action(kintone_inputs(sandbox, apps, mode="plan", timeout="2m"))
    assert run.exit_code == 0, run.stdout
    assert len(plan_of(run)["plan"]["apps"]) == 300
    assert len(run.outputs["plan"].encode()) < 200_000
    assert "s3cret" not in run.outputs["plan"]


# -- Heroku Connect ---------------------------------------------------------------------------------------


def test_connect_plan_then_drift_of_the_source_file(sandbox: Sandbox, tmp_path: Path):
    token = sandbox.heroku.add_user("ops@example.com")
    c = sandbox.connect
    c.set_timing(lag_seconds=0.2, import_seconds=0.2, mapping_sync_seconds=0.2)
    c.add_connection(
        "shop-prod",
        owner_token=token,
        mappings=[
            {"object_name": "Account", "config": {"access": "read_only", "fields": {"Id": {}}}}
        ],
    )
    config = {
        "version": 1,
        "connection": {},
        "mappings": [
            {
                "object_name": "Contact",
                "config": {"access": "read_only", "fields": {"Id": {}, "Email": {}}},
            }
        ],
    }
    path = tmp_path / "connect.json"
    path.write_text(json.dumps(config))
    inputs = {
        "operation": "connect-promote",
        "heroku-api-key": token,
        "connect-api-url": f"{sandbox.url}/connect",
        "connect-config-file": "connect.json",
        "target-apps": "shop-prod",
        "timeout": "60s",
    }
    workspace = {"GITHUB_WORKSPACE": str(tmp_path)}
    planned = run_action({**inputs, "mode": "plan"}, **workspace)
    assert planned.exit_code == 0, planned.stdout
    assert [c["object_name"] for c in plan_of(planned)["plan"]["changes"]] == ["Contact"]
    config["mappings"][0]["config"]["fields"]["Phone"] = {}
    path.write_text(json.dumps(config))
    refused = run_action({**inputs, "mode": "apply", "plan": planned.outputs["plan"]}, **workspace)
    assert refused.exit_code == 1
    assert "the source configuration" in refused.error_lines()[0]
    assert not [r for r in sandbox.writes() if r.path.endswith("/actions/import")]


def test_kintone_plan_is_never_applied_to_another_domain(sandbox: Sandbox):
    k = sandbox.kintone
    k.add_user("deployer", "s3cret pass")
    app = k.add_app(managers=["deployer"], preview_revision=4, live_revision=3).id
    planned = run_action(kintone_inputs(sandbox, [app], mode="plan"))
    forged = json.loads(planned.outputs["plan"])
    forged["plan"]["base_url"] = "https://attacker.example"
    plan = signed(forged, "kintone-password", "s3cret pass")
    refused = run_action(kintone_inputs(sandbox, [], mode="apply", plan=plan))
    assert refused.exit_code == 1
    assert "the plan was made for https://attacker.example" in refused.error_lines()[0]
    assert sandbox.writes() == []


# -- plans edited between the jobs (issue 11, point 1) --------------------------------------------


def edited(run, edit) -> dict:
    envelope = plan_of(run)
    edit(envelope["plan"])
    return envelope


def test_a_plan_edited_without_the_secret_is_refused_before_any_request(heroku: HerokuWorld):
    planned = run_action(heroku.inputs(mode="plan"))
    forged = edited(planned, lambda p: p["source"].update(slug_id=heroku.old_slug_id))
    heroku.sandbox.clear_requests()
    run = run_action(heroku.inputs(mode="apply", plan=json.dumps(forged)))
    assert run.exit_code == 2
    assert "input 'plan': has no valid signature" in run.error_lines()[0]
    assert heroku.sandbox.requests == []


def test_an_unsigned_plan_is_refused(heroku: HerokuWorld):
    envelope = plan_of(run_action(heroku.inputs(mode="plan")))
    del envelope["signature"]
    run = run_action(heroku.inputs(mode="apply", plan=json.dumps(envelope)))
    assert run.exit_code == 2
    assert "has no valid signature" in run.error_lines()[0]


def test_plan_key_signs_and_must_match(heroku: HerokuWorld):
    planned = run_action(heroku.inputs(mode="plan", plan_key="k3y-one"))
    assert "k3y-one" not in planned.everything.replace("::add-mask::k3y-one", "")
    other = run_action(heroku.inputs(mode="apply", plan=planned.outputs["plan"], plan_key="k3y-2"))
    assert other.exit_code == 2
    assert "has no valid signature" in other.error_lines()[0]
    without = run_action(heroku.inputs(mode="apply", plan=planned.outputs["plan"]))
    assert without.exit_code == 2, "the API key alone does not stand in for the plan-key"
    same = run_action(heroku.inputs(mode="apply", plan=planned.outputs["plan"], plan_key="k3y-one"))
    assert same.exit_code == 0, same.stdout


SIGNED_BAD_FIELDS = [
    ("slug not a UUID", lambda p: p["source"].update(slug_id="slug-1"), "source.slug_id"),
    ("app name", lambda p: p["targets"][0]["app"].update(name="Shop Prod"), "targets.0.app.name"),
    (
        "description control characters",
        lambda p: p.update(description="ok\n::set-output name=x::y"),
        "description: expected a single line",
    ),
    ("version zero", lambda p: p["targets"][0].update(current_version=0), "current_version"),
    ("no targets", lambda p: p.update(targets=[]), "targets"),
]


@pytest.mark.parametrize(
    ("edit", "field"), [c[1:] for c in SIGNED_BAD_FIELDS], ids=[c[0] for c in SIGNED_BAD_FIELDS]
)
def test_plan_fields_are_validated_like_inputs(heroku: HerokuWorld, edit, field):
    """Even signed by a holder of the key, a malformed plan is a usage error, not a crash."""
    planned = run_action(heroku.inputs(mode="plan"))
    plan = signed(edited(planned, edit), "heroku-api-key", heroku.token)
    heroku.sandbox.clear_requests()
    run = run_action(heroku.inputs(mode="apply", plan=plan))
    assert run.exit_code == 2, run.stdout
    line = run.error_lines()[0]
    assert "input 'plan': is not a valid slug-copy plan" in line
    assert field in line
    assert heroku.sandbox.requests == []
    assert "Traceback" not in run.stderr


SIGNED_DRIFTS = [
    ("another slug", lambda w, p: p["source"].update(slug_id=w.old_slug_id), "source.slug_id"),
    (
        "another target name",
        lambda w, p: p["targets"][0]["app"].update(name="shop-prod-xx"),
        "targets[0].app.name",
    ),
    ("target marked unchanged", lambda w, p: p["targets"][1].update(change=False), "change"),
    ("findings removed", lambda w, p: p.update(findings=["all good"]), "findings"),
]


@pytest.mark.parametrize(
    ("edit", "field"), [c[1:] for c in SIGNED_DRIFTS], ids=[c[0] for c in SIGNED_DRIFTS]
)
def test_apply_compares_the_whole_plan_with_a_fresh_one(heroku: HerokuWorld, edit, field):
    planned = run_action(heroku.inputs(mode="plan"))
    plan = signed(edited(planned, lambda p: edit(heroku, p)), "heroku-api-key", heroku.token)
    heroku.sandbox.clear_requests()
    run = run_action(heroku.inputs(mode="apply", plan=plan))
    assert run.exit_code == 1, run.stdout
    assert run.outputs["status"] == "drifted"
    assert field in run.error_lines()[0]
    assert heroku.sandbox.writes() == []


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda p: p["apps"][0].update(app="12a"), "apps.0.app: expected a kintone app id"),
        (lambda p: p.update(apps=[{**p["apps"][0], "app": str(i)} for i in range(1, 302)]), "apps"),
        (lambda p: p["apps"][0].update(preview_revision=-5), "preview_revision"),
    ],
    ids=["app id not a number", "301 apps", "negative revision"],
)
def test_kintone_plan_fields_are_validated(sandbox: Sandbox, edit, field):
    k = sandbox.kintone
    k.add_user("deployer", "s3cret pass")
    app = k.add_app(managers=["deployer"], preview_revision=4, live_revision=3).id
    planned = run_action(kintone_inputs(sandbox, [app], mode="plan"))
    plan = signed(edited(planned, edit), "kintone-password", "s3cret pass")
    sandbox.clear_requests()
    run = run_action(kintone_inputs(sandbox, [], mode="apply", plan=plan))
    assert run.exit_code == 2, run.stdout
    assert field in run.error_lines()[0]
    assert sandbox.requests == []


def test_kintone_plan_with_edited_revision_is_drift(sandbox: Sandbox):
    k = sandbox.kintone
    k.add_user("deployer", "s3cret pass")
    app = k.add_app(managers=["deployer"], preview_revision=4, live_revision=3).id
    planned = run_action(kintone_inputs(sandbox, [app], mode="plan"))
    plan = signed(
        edited(planned, lambda p: p["apps"][0].update(live_revision=4, change=False)),
        "kintone-password",
        "s3cret pass",
    )
    run = run_action(kintone_inputs(sandbox, [], mode="apply", plan=plan))
    assert run.exit_code == 1, run.stdout
    assert "refusing to apply the plan" in run.error_lines()[0]
    assert sandbox.writes() == []


def test_connect_plan_applies_unchanged_and_an_edited_one_is_drift(world: ConnectWorld):
    planned = run_action(world.inputs(mode="plan"))
    assert planned.exit_code == 0, planned.stdout
    tampered = signed(
        edited(planned, lambda p: p.update(prune=["Lead"])), "heroku-api-key", world.token
    )
    refused = run_action(world.inputs(mode="apply", plan=tampered))
    assert refused.exit_code == 1, refused.stdout
    assert "prune" in refused.error_lines()[0]
    assert not [r for r in world.sandbox.writes() if r.path.endswith("/actions/import")]
    applied = run_action(world.inputs(mode="apply", plan=planned.outputs["plan"]))
    assert applied.exit_code == 0, applied.stdout


def test_a_plan_with_a_long_multiline_commit_message_is_applied_as_it_was_planned(
    heroku: HerokuWorld,
):
    """Remote text in a plan is cleaned when the plan is made, the same way it is checked when
    the plan is read back: mode apply accepts what mode plan wrote."""
    h = heroku.sandbox.heroku
    message = "Fix checkout\r\n\r\n" + "details " * 600 + "\x1b[31m"
    slug = h.add_slug("shop-staging", commit="5" * 40, commit_description=message)
    h.add_release("shop-staging", slug_id=slug, status="succeeded")
    planned = run_action(heroku.inputs(mode="plan"))
    assert planned.exit_code == 0, planned.stdout
    applied = run_action(heroku.inputs(mode="apply", plan=planned.outputs["plan"]))
    assert applied.exit_code == 0, applied.stdout
    assert all(h.current_release(t).slug_id == slug for t in heroku.targets)
