"""Heroku Connect operations end to end: the entrypoint as the runner runs it, against the sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connect_world import (
    ACCOUNT,
    CONTACT,
    LEAD,
    ConnectWorld,
    connect_world_fixture,  # noqa: F401 - the `world` fixture
    objects,
)
from promote_sandbox import Fault
from runner import ACTION, run_action


def test_promote_imports_waits_verifies_and_diagnoses(world: ConnectWorld):
    run = run_action(world.inputs())
    assert run.exit_code == 0, run.stdout + run.stderr
    written = {"status", "result", "changed-mappings"}
    assert set(run.outputs) == written
    assert written <= set(ACTION["outputs"])
    assert run.outputs["status"] == "succeeded"
    assert json.loads(run.outputs["changed-mappings"]) == ["Account", "Contact"]
    target = objects(world)
    assert "Phone" in target["Account"]["config"]["fields"]
    assert set(target) == {"Account", "Contact", "Lead"}, "import never deletes"
    result = json.loads(run.outputs["result"])
    assert result["connection"]["state"] in ("IDLE", "POLLING_DB_CHANGES")
    states = {m["object"]: m["state"] for m in result["mappings"]}
    # The added mapping may still be loading its table when the import is seen applied: a
    # healthy state (OK_MAPPING), reported as seen.
    assert states.pop("Contact") in ("RELOAD_TABLE", "DATA_SYNCED")
    assert states == {"Account": "DATA_SYNCED", "Lead": "DATA_SYNCED"}
    assert result["diagnosis"]["errors"] == 0
    imports = [r for r in world.writes() if r.path.endswith("/actions/import")]
    assert len(imports) == 1
    assert imports[0].path.startswith("/cells/eu/api/v3/connections/")
    assert "+ field Phone" in run.summary
    assert "| Contact | added |" in run.summary
    assert "Lead" in run.stdout  # the plan warns that import keeps it


def test_prune_deletes_mappings_the_source_lacks(world: ConnectWorld):
    run = run_action(world.inputs(connect_prune="true"))
    assert run.exit_code == 0, run.stdout
    assert set(objects(world)) == {"Account", "Contact"}
    assert [r.method for r in world.writes() if "/mappings/" in r.path] == ["DELETE"]
    assert "Lead" in json.loads(run.outputs["changed-mappings"])


def test_dry_run_shows_the_diff_and_writes_nothing(world: ConnectWorld):
    run = run_action(world.inputs(dry_run="true"))
    assert run.exit_code == 0
    assert run.outputs["status"] == "dry-run"
    assert [
        r
        for r in world.writes()
        if not r.path.endswith("/auth/shop-staging") and not r.path.endswith("/auth/shop-prod")
    ] == []
    assert "| Account | changed | \\+ field Phone |" in run.summary
    assert "Phone" not in objects(world)["Account"]["config"]["fields"]


def test_identical_configuration_is_unchanged(world: ConnectWorld, tmp_path: Path):
    export = world.sandbox.connect.export(world.production)
    path = tmp_path / "connect.json"
    path.write_text(json.dumps(export))
    run = run_action(
        world.inputs(source_app="", connect_config_file="connect.json"),
        GITHUB_WORKSPACE=str(tmp_path),
    )
    assert run.exit_code == 0, run.stdout
    assert run.outputs["status"] == "unchanged"
    assert not [r for r in world.writes() if r.path.endswith("/actions/import")]


def test_committed_export_file_as_the_source(world: ConnectWorld, tmp_path: Path):
    config = {
        "version": 1,
        "connection": {"app_name": "whatever"},
        "mappings": [ACCOUNT, LEAD, CONTACT],
    }
    path = tmp_path / "connect.json"
    path.write_text(json.dumps(config))
    run = run_action(
        world.inputs(source_app="", connect_config_file="connect.json"),
        GITHUB_WORKSPACE=str(tmp_path),
    )
    assert run.exit_code == 0, run.stdout
    assert json.loads(run.outputs["changed-mappings"]) == ["Contact"]


def _without(mapping: dict, *keys: str) -> dict:
    trimmed = json.loads(json.dumps(mapping))
    for key in keys:
        del trimmed["config"][key]
    return trimmed


def test_a_config_file_omitting_connects_defaults_is_verified(world: ConnectWorld, tmp_path: Path):
    """Connect fills in its defaults on import: the re-export has keys the file lacks."""
    contact = _without(CONTACT, "sf_notify_enabled", "sf_max_daily_api_calls")
    config = {"version": 1, "mappings": [ACCOUNT, LEAD, contact]}
    path = tmp_path / "connect.json"
    path.write_text(json.dumps(config))
    run = run_action(
        world.inputs(source_app="", connect_config_file="connect.json"),
        GITHUB_WORKSPACE=str(tmp_path),
    )
    assert run.exit_code == 0, run.stdout
    assert run.outputs["status"] == "succeeded"
    assert json.loads(run.outputs["changed-mappings"]) == ["Contact"]
    assert objects(world)["Contact"]["config"]["sf_max_daily_api_calls"] == 30000


def test_an_import_whose_config_never_shows_names_the_mapping(world: ConnectWorld, tmp_path: Path):
    """An import accepted but never applied: the re-export keeps a different value."""
    account = json.loads(json.dumps(ACCOUNT))
    account["config"]["sf_polling_seconds"] = 300
    path = tmp_path / "connect.json"
    path.write_text(json.dumps({"version": 1, "mappings": [account, LEAD]}))
    world.sandbox.add_fault(Fault(match=r"^POST /cells/.*/actions/import$", status=202))
    run = run_action(
        world.inputs(source_app="", connect_config_file="connect.json", timeout="3s"),
        GITHUB_WORKSPACE=str(tmp_path),
    )
    assert run.exit_code == 1, run.stdout
    assert run.outputs["status"] == "timed-out"
    assert "the exported configuration still differs for: Account" in run.error_lines()[0]


def test_mapping_that_fails_after_import_fails_the_step(world: ConnectWorld):
    world.sandbox.connect.fail_mapping(world.production, "Contact", "BAD_CONFIG")
    run = run_action(world.inputs())
    assert run.exit_code == 1
    assert "Contact BAD_CONFIG" in run.error_lines()[0]


def test_diagnosis_errors_fail_the_step(world: ConnectWorld):
    world.sandbox.connect.set_diagnosis(
        world.production,
        errors=[
            {
                "display_name": "API version too old",
                "message": "Use 50.0 or newer",
                "doc_url": "",
                "rule_id": "MUST_USE_RECENT_API_VERSION",
                "status": "ERROR",
            }
        ],
    )
    run = run_action(world.inputs())
    assert run.exit_code == 1
    assert (
        "the diagnosis of shop-prod found 1 error(s): API version too old" in run.error_lines()[0]
    )
    assert "API version too old" in run.summary


@pytest.mark.parametrize(
    ("state", "advice"),
    [
        ("NEW", "connect:db:set"),
        ("NEED_AUTHENTICATION", "connect:sf:auth"),
        ("UNAUTHORIZED", "re-authorise"),
    ],
)
def test_states_that_need_a_human_fail_fast(world: ConnectWorld, state: str, advice: str):
    world.sandbox.connect.set_state(world.production, state)
    run = run_action(world.inputs())
    assert run.exit_code == 1
    # At once: the connection was read once, not polled until the timeout.
    reads = [
        r for r in world.sandbox.requests if r.method == "GET" and r.path.endswith(world.production)
    ]
    assert len(reads) == 1
    assert state in run.error_lines()[0]
    assert advice in run.error_lines()[0]
    assert not [r for r in world.writes() if r.path.endswith("/actions/import")]


def test_ambiguous_resource_lists_the_connections(world: ConnectWorld):
    world.sandbox.connect.add_connection(
        "shop-prod",
        owner_token=world.token,
        resource_name="herokuconnect-second",
        cell="eu",
        mappings=[ACCOUNT],
    )
    run = run_action(world.inputs())
    assert run.exit_code == 2
    assert "input 'connect-resource': app 'shop-prod' has 2 connections" in run.error_lines()[0]
    assert "herokuconnect-second" in run.error_lines()[0]


def test_resource_picks_one_connection(world: ConnectWorld):
    second = world.sandbox.connect.add_connection(
        "shop-prod",
        owner_token=world.token,
        resource_name="herokuconnect-second",
        cell="eu",
        mappings=[ACCOUNT],
    )
    snapshot = world.sandbox.connect.connection(second)
    run = run_action(world.inputs(connect_resource=snapshot.resource_name))
    assert run.exit_code == 0, run.stdout
    assert "Contact" in {m["object_name"] for m in world.sandbox.connect.export(second)["mappings"]}


def test_app_without_a_connection_is_a_usage_error(world: ConnectWorld):
    world.sandbox.connect.grant(world.token, "shop-other")
    run = run_action(world.inputs(target_apps="shop-other"))
    assert run.exit_code == 2
    assert (
        "input 'target-apps': app 'shop-other' has no Heroku Connect connection"
        in run.error_lines()[0]
    )


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        (
            {"source_app": ""},
            "input 'source-app': connect-promote needs source-app or connect-config-file",
        ),
        (
            {"connect_config_file": "x.json"},
            "input 'connect-config-file': give either source-app or connect-config-file",
        ),
        (
            {"source_app": "", "connect_config_file": "nonexistent/connect.json"},
            "input 'connect-config-file': cannot read nonexistent/connect.json",
        ),
        (
            {"source_app": "", "connect_config_file": "/etc/passwd"},
            "input 'connect-config-file': must be a path inside the workspace, not /etc/passwd",
        ),
        (
            {"source_app": "", "connect_config_file": "../x"},
            "input 'connect-config-file': must be a path inside the workspace, not ../x",
        ),
        (
            {"target_apps": "a-prod,b-prod"},
            "input 'target-apps': Heroku Connect operations take one target app",
        ),
        ({"connect_prune": "yes"}, "input 'connect-prune': expected true or false"),
        (
            {"connect_resource": "Bad Name"},
            "input 'connect-resource': 'Bad Name' is not an add-on resource name",
        ),
        (
            {"connect_api_url": "http://hc-central.heroku.com"},
            "input 'connect-api-url': expected an https:// URL",
        ),
    ],
)
def test_usage_errors(world: ConnectWorld, inputs, message):
    run = run_action(world.inputs(**inputs))
    assert run.exit_code == 2, run.stdout
    assert message in run.error_lines()[0]
    assert world.sandbox.writes() == []


# -- pause, resume, check --------------------------------------------------------------------------


def test_pause_then_resume(world: ConnectWorld):
    paused = run_action(world.inputs("connect-pause"))
    assert paused.exit_code == 0, paused.stdout
    assert paused.outputs["status"] == "succeeded"
    assert world.sandbox.connect.connection(world.production).state == "PAUSED"
    again = run_action(world.inputs("connect-pause"))
    assert again.outputs["status"] == "unchanged"
    resumed = run_action(world.inputs("connect-resume"))
    assert resumed.exit_code == 0, resumed.stdout
    assert world.sandbox.connect.connection(world.production).state in (
        "IDLE",
        "POLLING_DB_CHANGES",
    )
    assert run_action(world.inputs("connect-resume")).outputs["status"] == "unchanged"


def test_check_passes_on_a_healthy_connection(world: ConnectWorld):
    run = run_action(world.inputs("connect-check"))
    assert run.exit_code == 0, run.stdout
    result = json.loads(run.outputs["result"])
    assert result["write_errors"] == 0
    assert result["diagnosis"]["errors"] == 0


def test_check_counts_only_the_last_24_hours_of_write_errors(world: ConnectWorld):
    c = world.sandbox.connect
    c.add_write_error(world.production, "Account", "old failure", age_hours=30)
    assert run_action(world.inputs("connect-check")).exit_code == 0
    c.add_write_error(world.production, "Account", "FIELD_CUSTOM_VALIDATION_EXCEPTION", age_hours=2)
    run = run_action(world.inputs("connect-check"))
    assert run.exit_code == 1
    assert (
        "1 write error(s) in the last 24 hours (connect-max-write-errors is 0): Account 1"
        in run.error_lines()[0]
    )
    assert run_action(world.inputs("connect-check", connect_max_write_errors="1")).exit_code == 0


@pytest.mark.parametrize("state", ["SYSTEM_ERROR", "WEIRD_NEW_STATE"])
def test_check_fails_on_bad_or_unknown_states_reported_verbatim(world: ConnectWorld, state: str):
    world.sandbox.connect.set_state(world.production, state)
    run = run_action(world.inputs("connect-check"))
    assert run.exit_code == 1
    assert state in run.error_lines()[0]


def test_unknown_state_is_waited_out_then_reported(world: ConnectWorld):
    world.sandbox.connect.set_state(world.production, "WEIRD_NEW_STATE")
    run = run_action(world.inputs("connect-resume", timeout="3s"))
    assert run.outputs["status"] == "unchanged"
    run = run_action(world.inputs("connect-pause", timeout="3s"))
    assert run.exit_code == 1
    assert "last state: WEIRD_NEW_STATE" in run.error_lines()[0]


# -- faults, cancellation, secrets ------------------------------------------------------------------


def test_maintenance_503s_and_rate_limits_are_waited_out(world: ConnectWorld):
    world.sandbox.add_fault(
        Fault(match=r"^GET /cells/", status=503, message="Maintenance", times=2)
    )
    world.sandbox.add_fault(
        Fault(
            match=r"^POST /connect/auth/",
            status=429,
            message="Too many requests",
            retry_after="1",
            times=1,
        )
    )
    run = run_action(world.inputs())
    assert run.exit_code == 0, run.stdout


def test_no_secret_leaks(world: ConnectWorld):
    run = run_action(world.inputs(), RUNNER_DEBUG="1")
    assert run.exit_code == 0
    visible = "\n".join(
        line for line in run.everything.splitlines() if not line.startswith("::add-mask::")
    )
    assert world.token not in visible
    assert world.token not in world.sandbox.request_log_text()


def test_a_pause_planned_while_paused_is_not_applied_to_a_running_connection(world: ConnectWorld):
    world.sandbox.connect.set_state(world.production, "PAUSED")
    planned = run_action(world.inputs("connect-pause", mode="plan"))
    assert planned.exit_code == 0, planned.stdout
    world.sandbox.connect.set_state(world.production, "IDLE")
    applied = run_action(world.inputs("connect-pause", mode="apply", plan=planned.outputs["plan"]))
    assert applied.exit_code == 1
    assert "is now IDLE (the plan was made when it was PAUSED)" in applied.error_lines()[0]


def test_a_mapping_broken_before_the_import_fails_the_run_once_the_import_is_applied(
    world: ConnectWorld,
):
    """The import's state is read every 0.25 s, sooner than Connect shows the import: a mapping
    that was already in error is reported as the import's failure only once the import is
    applied, so the message is true and production holds what was imported."""
    world.sandbox.connect.break_mapping(world.production, "Lead", "BAD_CONFIG")
    run = run_action(world.inputs())
    assert run.exit_code == 1
    assert "mappings in error after the import: Lead BAD_CONFIG" in run.error_lines()[0]
    assert "Phone" in objects(world)["Account"]["config"]["fields"], "the import was applied"
