"""Heroku Connect in a release pipeline (issue 14): choosing the right connection, imports into a
paused connection, recover, reload, write errors in detail, export, checks before import, and
writes settled after faults. The entrypoint in-process, against the sandbox."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import yaml

from connect_world import (
    ACCOUNT,
    ConnectWorld,
    connect_world_fixture,  # noqa: F401 - the `world` fixture
    objects,
)
from promote_action.registry import OPERATIONS
from promote_sandbox import Fault
from promote_sandbox.connect import CredentialTrap
from runner import run_action

ROOT = Path(__file__).resolve().parents[2]


def posts(world: ConnectWorld, suffix: str) -> list:
    return [r for r in world.writes() if r.method == "POST" and r.path.endswith(suffix)]


def state(world: ConnectWorld) -> str:
    return world.sandbox.connect.connection(world.production).state


def mapping_states(run) -> dict[str, str]:
    return {m["object"]: m["state"] for m in json.loads(run.outputs["result"])["mappings"]}


# -- 1. the handshake runs every time ----------------------------------------------------------------


def test_a_connection_attached_later_is_seen_before_anything_is_paused(world: ConnectWorld):
    first = world.sandbox.connect.connection(world.production).resource_name
    assert run_action(world.inputs("connect-check")).exit_code == 0  # now on its access list
    world.sandbox.connect.add_connection(
        "shop-prod",
        owner_token=world.token,
        resource_name="herokuconnect-second",
        cell="eu",
        mappings=[ACCOUNT],
    )
    world.sandbox.clear_requests()
    run = run_action(world.inputs("connect-pause"))
    assert run.exit_code == 2, run.stdout
    line = run.error_lines()[0]
    assert "input 'connect-resource': app 'shop-prod' has 2 connections" in line
    assert first in line
    assert "herokuconnect-second" in line
    assert [r.path for r in world.writes()] == ["/connect/auth/shop-prod"]
    assert state(world) == "IDLE"


# -- 2. the README's release example, step by step -----------------------------------------------


def _example_steps(name: str) -> list[dict]:
    """The steps of examples/`name` that run this action, in order."""
    workflow = yaml.safe_load((ROOT / "examples" / name).read_text())
    (job,) = workflow["jobs"].values()
    return [
        s for s in job["steps"] if str(s.get("uses", "")).startswith("your-org/promote-action@")
    ]


def _example_inputs(world: ConnectWorld, step: dict) -> dict[str, str]:
    """A step's inputs as written, with the secret filled in, the sandbox's URLs added and a
    short timeout (a broken wait fails here in a minute, not 20)."""
    inputs = {k: str(v) for k, v in step["with"].items()}
    assert inputs["heroku-api-key"] == "${{ secrets.HEROKU_API_KEY }}"
    urls = {"heroku-api-url": world.sandbox.url, "connect-api-url": f"{world.sandbox.url}/connect"}
    reads = OPERATIONS[inputs["operation"]].inputs  # an input an operation ignores is refused
    return (
        inputs
        | {"heroku-api-key": world.token, "timeout": "60s"}
        | {name: url for name, url in urls.items() if name in reads}
    )


def test_the_connect_release_example_runs_green_in_order(world: ConnectWorld, tmp_path: Path):
    """Pause, promote the code, import the committed mappings (into the paused connection),
    resume, check: each step as the example writes it (see _example_inputs)."""
    h = world.sandbox.heroku
    pipeline = h.add_pipeline("shop", owner_token=world.token)
    for app in ("shop-staging", "shop-prod"):
        h.add_app(app, owner_token=world.token)
    old = h.add_slug("shop-staging", commit="1" * 40, commit_description="Old")
    new = h.add_slug("shop-staging", commit="2" * 40, commit_description="Add Contact sync")
    h.add_release("shop-staging", slug_id=new)
    h.add_release("shop-prod", slug_id=old)
    h.couple("shop-staging", pipeline.id, "staging")
    h.couple("shop-prod", pipeline.id, "production")
    exported = run_action(
        world.inputs(
            "connect-export",
            target_apps="shop-staging",
            connect_config_file="connect/mappings.json",
        ),
        GITHUB_WORKSPACE=str(tmp_path),
    )
    assert exported.exit_code == 0, exported.stdout

    runs = {}
    for step in _example_steps("heroku-connect-release.yml"):
        inputs = _example_inputs(world, step)
        run = run_action(inputs, GITHUB_WORKSPACE=str(tmp_path))
        assert run.exit_code == 0, f"{step['name']}: {run.stdout}{run.stderr}"
        runs[inputs["operation"]] = run
        if inputs["operation"] == "connect-promote":
            # Imported into the paused connection: verified, nothing loaded yet.
            assert state(world) == "PAUSED"
            assert world.sandbox.connect.connection(world.production).mapping("Contact").state == (
                "INITIAL"
            )

    assert list(runs) == [
        "connect-pause",
        "pipeline-promote",
        "connect-promote",
        "connect-resume",
        "connect-check",
    ]
    promoted = runs["connect-promote"]
    assert promoted.outputs["status"] == "succeeded"
    assert "load when sync resumes" in promoted.summary
    assert "connect-resume" in json.loads(promoted.outputs["result"])["notes"][0]
    assert mapping_states(runs["connect-resume"])["Contact"] in ("RELOAD_TABLE", "DATA_SYNCED")
    assert runs["connect-check"].outputs["status"] == "succeeded"
    current = h.current_release("shop-prod")
    assert current is not None
    assert current.slug_id == new, "the code was promoted"
    assert "Phone" in objects(world)["Account"]["config"]["fields"]
    assert state(world) in ("IDLE", "POLLING_DB_CHANGES")


def test_the_export_example_reports_only_real_mapping_changes(world: ConnectWorld, tmp_path: Path):
    (step,) = _example_steps("heroku-connect-export.yml")
    inputs = _example_inputs(world, step)
    workspace = {"GITHUB_WORKSPACE": str(tmp_path)}
    assert run_action(inputs, **workspace).outputs["status"] == "succeeded"  # first commit
    assert run_action(inputs, **workspace).outputs["status"] == "unchanged"  # nightly, no drift
    world.sandbox.connect.set_mapping_state(world.production, "Lead", "RELOAD_TABLE")
    assert run_action(inputs, **workspace).outputs["status"] == "unchanged", "state is not config"
    run_action(world.inputs(), **workspace)  # someone imports staging's mappings
    drifted = run_action(inputs, **workspace)
    assert drifted.outputs["status"] == "succeeded"  # the example's next step fails the job
    assert "Contact" in (tmp_path / "connect" / "mappings.json").read_text()


# -- 3. connect-recover ---------------------------------------------------------------------------


def test_recover_restarts_and_waits_until_healthy(world: ConnectWorld):
    c = world.sandbox.connect
    c.set_state(world.production, "SYSTEM_ERROR")
    c.set_mapping_state(world.production, "Lead", "SYSTEM_ERROR")
    run = run_action(world.inputs("connect-recover"))
    assert run.exit_code == 0, run.stdout
    assert run.outputs["status"] == "succeeded"
    assert len(posts(world, "/actions/restart")) == 1
    assert mapping_states(run) == {"Account": "DATA_SYNCED", "Lead": "DATA_SYNCED"}
    assert json.loads(run.outputs["result"])["connection"]["state"] == "IDLE"


def test_recover_names_the_mappings_still_in_error(world: ConnectWorld):
    world.sandbox.connect.break_mapping(world.production, "Lead", "BAD_CONFIG")
    run = run_action(world.inputs("connect-recover", timeout="5s"))
    assert run.exit_code == 1
    assert run.outputs["status"] == "timed-out"
    assert "mappings still in error: Lead BAD_CONFIG" in run.error_lines()[0]
    assert len(posts(world, "/actions/restart")) == 1


def test_recover_on_a_healthy_connection_does_nothing(world: ConnectWorld):
    run = run_action(world.inputs("connect-recover"))
    assert run.exit_code == 0
    assert run.outputs["status"] == "unchanged"
    assert posts(world, "/actions/restart") == []


# -- 4. connect-reload ----------------------------------------------------------------------------


def test_reload_named_mappings_waits_until_synced_again(world: ConnectWorld):
    c = world.sandbox.connect
    c.set_timing(lag_seconds=0.2, mapping_sync_seconds=2.5)
    lead = c.connection(world.production).mapping("Lead").id
    run = run_action(world.inputs("connect-reload", connect_mappings="lead"))
    assert run.exit_code == 0, run.stdout
    assert [r.path for r in posts(world, "/actions/reload")] == [
        f"/cells/eu/api/v3/mappings/{lead}/actions/reload"
    ]
    assert mapping_states(run)["Lead"] == "DATA_SYNCED", "returned while still loading"
    assert "**Mappings to reload:** Lead" in run.summary


def connection_reads_after(world: ConnectWorld, suffix: str) -> int:
    """Reads of production's connection the sandbox logged after the first POST to `suffix`."""
    log = world.sandbox.requests
    start = next(i for i, r in enumerate(log) if r.method == "POST" and r.path.endswith(suffix))
    return sum(
        1
        for r in log[start:]
        if r.method == "GET" and r.path.endswith(f"/connections/{world.production}")
    )


def test_a_routine_poll_after_the_reload_request_is_not_taken_for_the_reload(
    world: ConnectWorld,
):
    """States lag the request: a Salesforce poll (POLLING_SF_CHANGES, sf_poll moving), then
    DATA_SYNCED, shows before the load starts. Green only after the load (RELOAD_TABLE) ran."""
    c = world.sandbox.connect
    c.set_timing(lag_seconds=0.0)
    c.hold_load(world.production, "Lead", reads=2, poll_first=True)
    run = run_action(world.inputs("connect-reload", connect_mappings="Lead"))
    assert run.exit_code == 0, run.stdout
    assert run.outputs["status"] == "succeeded"
    assert mapping_states(run)["Lead"] == "DATA_SYNCED"
    # poll, synced, 2 x RELOAD_TABLE, synced: one read each, the last one ends the wait
    assert connection_reads_after(world, "/actions/reload") >= 5


def test_a_reload_that_never_loads_is_not_green_after_a_routine_poll(world: ConnectWorld):
    c = world.sandbox.connect
    c.set_timing(lag_seconds=0.0)
    c.hold_load(world.production, "Lead", poll_first=True)  # until released: never here
    run = run_action(world.inputs("connect-reload", connect_mappings="Lead", timeout="3s"))
    assert run.exit_code == 1, run.stdout
    assert run.outputs["status"] == "timed-out"
    assert "the reloaded mappings to be synced again" in run.error_lines()[0]


def test_reload_without_names_reloads_every_mapping(world: ConnectWorld):
    world.sandbox.connect.set_timing(lag_seconds=0.3, mapping_sync_seconds=2.0)
    run = run_action(world.inputs("connect-reload"))
    assert run.exit_code == 0, run.stdout
    assert len(posts(world, "/actions/reload")) == 2


def test_reload_of_an_unmapped_object_is_a_usage_error(world: ConnectWorld):
    run = run_action(world.inputs("connect-reload", connect_mappings="Account, Opportunity"))
    assert run.exit_code == 2
    assert (
        "input 'connect-mappings': the connection of shop-prod maps no Opportunity "
        "(it maps: Account, Lead)" in run.error_lines()[0]
    )
    assert posts(world, "/actions/reload") == []


def test_reload_that_fails_names_the_mapping(world: ConnectWorld):
    world.sandbox.connect.break_mapping(world.production, "Account", "BAD_CONFIG")
    run = run_action(world.inputs("connect-reload", connect_mappings="Account"))
    assert run.exit_code == 1
    assert "Account BAD_CONFIG" in run.error_lines()[0]


def _imported_while_paused(world: ConnectWorld) -> None:
    """Contact imported into the paused connection: it loads only once sync resumes."""
    world.sandbox.connect.set_state(world.production, "PAUSED")
    imported = run_action(world.inputs())
    assert imported.exit_code == 0, imported.stdout
    assert world.sandbox.connect.connection(world.production).mapping("Contact").state == (
        "INITIAL"
    )


def test_resume_after_a_paused_import_waits_until_the_new_mapping_has_loaded(
    world: ConnectWorld,
):
    _imported_while_paused(world)
    world.sandbox.connect.hold_load(world.production, "Contact", reads=3)
    run = run_action(world.inputs("connect-resume"))
    assert run.exit_code == 0, run.stdout
    assert run.outputs["status"] == "succeeded"
    assert mapping_states(run)["Contact"] == "DATA_SYNCED", "reported green while loading"


def test_resume_is_not_green_while_a_new_mapping_is_still_loading(world: ConnectWorld):
    _imported_while_paused(world)
    world.sandbox.connect.hold_load(world.production, "Contact")  # until released
    run = run_action(world.inputs("connect-resume", timeout="3s"))
    assert run.exit_code == 1, run.stdout
    assert run.outputs["status"] == "timed-out"
    assert "every mapping to load again after the resume" in run.error_lines()[0]
    assert world.sandbox.connect.connection(world.production).mapping("Contact").state == (
        "RELOAD_TABLE"
    )
    world.sandbox.connect.release_load(world.production, "Contact")
    check = run_action(world.inputs("connect-check"))
    assert check.exit_code == 0, check.stdout
    assert mapping_states(check)["Contact"] == "DATA_SYNCED"


# -- 5. write errors in detail --------------------------------------------------------------------


def test_check_lists_write_errors_per_mapping_newest_first(world: ConnectWorld):
    c = world.sandbox.connect
    c.add_write_error(world.production, "Account", "UNABLE_TO_LOCK_ROW", 3, record_id=11)
    c.add_write_error(
        world.production, "Account", "@ops ::error::x", 1, action="INSERT", record_id=12
    )
    c.add_write_error(world.production, "Lead", "REQUIRED_FIELD_MISSING", 2, action="DELETE")
    run = run_action(world.inputs("connect-check", connect_max_write_errors="Account=2, Lead=0"))
    assert run.exit_code == 1
    assert "over connect-max-write-errors: Lead 1 (limit 0)" in run.error_lines()[0]
    detail = json.loads(run.outputs["write-errors"])
    assert set(detail) == {"Account", "Lead"}
    assert detail["Account"]["count"] == 2
    assert [(e["record_id"], e["operation"]) for e in detail["Account"]["errors"]] == [
        (12, "INSERT"),
        (11, "UPDATE"),
    ]
    assert detail["Lead"]["errors"][0]["message"] == "REQUIRED_FIELD_MISSING"
    assert "| Account | 12 | INSERT | \\@ops ::error::x |" in run.summary
    assert "::error::x" not in run.stdout
    ok = run_action(world.inputs("connect-check", connect_max_write_errors="Account=2, Lead=1"))
    assert ok.exit_code == 0, ok.stdout


def test_write_errors_are_capped_per_mapping(world: ConnectWorld):
    for hours in range(12):
        world.sandbox.connect.add_write_error(world.production, "Account", f"e{hours}", hours + 1)
    run = run_action(world.inputs("connect-check", connect_max_write_errors="20"))
    assert run.exit_code == 0, run.stdout
    account = json.loads(run.outputs["write-errors"])["Account"]
    assert account["count"] == 12
    assert [e["message"] for e in account["errors"]] == [f"e{h}" for h in range(10)]
    assert "Not shown (older): Account: 2" in run.summary


@pytest.mark.parametrize("value", ["Account=x", "Account", "-1", "Bad Name=1"])
def test_bad_write_error_limits_are_usage_errors(world: ConnectWorld, value: str):
    run = run_action(world.inputs("connect-check", connect_max_write_errors=value))
    assert run.exit_code == 2
    assert (
        "input 'connect-max-write-errors': expected a number of write errors"
        in (run.error_lines()[0])
    )
    assert world.sandbox.requests == []


# -- 6. connect-export ----------------------------------------------------------------------------


def test_export_writes_a_deterministic_file_and_output(world: ConnectWorld, tmp_path: Path):
    inputs = world.inputs("connect-export", connect_config_file="connect/prod.json")
    run = run_action(inputs, GITHUB_WORKSPACE=str(tmp_path))
    assert run.exit_code == 0, run.stdout
    assert run.outputs["status"] == "succeeded"
    written = (tmp_path / "connect" / "prod.json").read_text()
    config = json.loads(written)
    assert config == json.loads(run.outputs["connect-config"])
    assert [m["object_name"] for m in config["mappings"]] == ["Account", "Lead"]
    assert "exported_at" not in config["connection"]
    assert written.endswith("}\n")
    assert written.startswith('{\n  "connection"')
    assert world.writes() == [r for r in world.writes() if "/auth/" in r.path]
    again = run_action(inputs, GITHUB_WORKSPACE=str(tmp_path))
    assert again.outputs["status"] == "unchanged"
    assert (tmp_path / "connect" / "prod.json").read_text() == written
    assert "matches the connection" in again.summary


def test_export_dry_run_writes_no_file(world: ConnectWorld, tmp_path: Path):
    inputs = world.inputs("connect-export", connect_config_file="prod.json", dry_run="true")
    run = run_action(inputs, GITHUB_WORKSPACE=str(tmp_path))
    assert run.exit_code == 0, run.stdout
    assert run.outputs["status"] == "dry-run"
    assert not (tmp_path / "prod.json").exists()
    assert "differs from the connection" in run.summary


@pytest.mark.parametrize("path", ["../prod.json", "/tmp/prod.json", ""])
def test_export_needs_a_path_inside_the_workspace(world: ConnectWorld, path: str):
    run = run_action(world.inputs("connect-export", connect_config_file=path))
    assert run.exit_code == 2
    assert "input 'connect-config-file'" in run.error_lines()[0]
    assert world.sandbox.requests == []


# -- 7. checks before import ----------------------------------------------------------------------


def test_plan_reports_fields_the_target_org_lacks_and_strict_fails(world: ConnectWorld):
    c = world.sandbox.connect
    c.set_org_schema(world.production, {"Account": ["Id", "Name", "SystemModstamp"]})
    planned = run_action(world.inputs(dry_run="true"))
    assert planned.exit_code == 0, planned.stdout
    finding = "Account: fields the Salesforce org of shop-prod lacks: Phone"
    assert finding in planned.summary
    assert finding in planned.stdout
    strict = run_action(world.inputs(strict="true"))
    assert strict.exit_code == 1
    assert "strict: pre-flight findings" in strict.error_lines()[0]
    assert posts(world, "/actions/import") == []


def test_plan_reports_a_failing_mapping_diagnosis(world: ConnectWorld):
    world.sandbox.connect.set_mapping_state(world.production, "Account", "BAD_CONFIG")
    planned = run_action(world.inputs(mode="plan"))
    assert planned.exit_code == 0, planned.stdout
    assert "Account: Mapping State failed: The mapping is BAD\\_CONFIG." in planned.summary


# -- issue 11.6: writes settled after faults ---------------------------------------------------------


def _paused(world: ConnectWorld) -> None:
    world.sandbox.connect.set_state(world.production, "PAUSED")


def _broken(world: ConnectWorld) -> None:
    world.sandbox.connect.set_state(world.production, "SYSTEM_ERROR")


WRITES = [
    ("connect-pause", None, "/actions/pause"),
    ("connect-resume", _paused, "/actions/resume"),
    ("connect-promote", None, "/actions/import"),
    ("connect-recover", _broken, "/actions/restart"),
    ("connect-reload", None, "/actions/reload"),
]


@pytest.mark.parametrize(("operation", "setup", "suffix"), WRITES)
@pytest.mark.parametrize("lost", ["response", "request"])
def test_a_write_with_a_lost_outcome_is_settled(
    world: ConnectWorld, operation, setup, suffix, lost
):
    """`response`: applied, answer lost (the resend is refused as in progress, or repeated
    harmlessly); `request`: a 503 before it was applied (sent again)."""
    if setup:
        setup(world)
    fault = (
        Fault(match=f"^POST /cells/.*{suffix}$", drop_response=True, times=1)
        if lost == "response"
        else Fault(match=f"^POST /cells/.*{suffix}$", status=503, times=1)
    )
    world.sandbox.add_fault(fault)
    inputs = world.inputs(operation)
    if operation == "connect-reload":
        inputs["connect-mappings"] = "Account"
        # long enough a load to be seen: only a load seen running proves the reload
        world.sandbox.connect.set_timing(lag_seconds=0.3, mapping_sync_seconds=2.0)
    run = run_action(inputs)
    assert run.exit_code == 0, run.stdout + run.stderr
    assert run.outputs["status"] == "succeeded"
    sent = len(posts(world, suffix))
    if suffix != "/actions/reload":  # a reload is simply sent again; the others are settled
        assert "checking whether it took effect" in run.stdout
    assert sent == 2 if lost == "request" else 1 <= sent <= 2


@pytest.mark.parametrize("fault", ["lost response", "503"])
def test_the_auth_handshake_is_repeated_after_a_fault(world: ConnectWorld, fault: str):
    match = r"^POST /connect/auth/shop-prod"
    world.sandbox.add_fault(
        Fault(match=match, drop_response=True, times=1)
        if fault == "lost response"
        else Fault(match=match, status=503, times=1)
    )
    run = run_action(world.inputs("connect-pause"))
    assert run.exit_code == 0, run.stdout
    assert state(world) == "PAUSED"


# -- issue 11.7: the key goes only to allowed hosts ---------------------------------------------------


def test_the_key_never_reaches_a_host_discovery_names_outside_the_allow_list(world: ConnectWorld):
    trap = CredentialTrap()
    world.sandbox.mount(trap, host="localhost")
    port = urlsplit(world.sandbox.url).port
    foreign = f"http://localhost:{port}"
    httpx.get(f"{foreign}/probe", headers={"Authorization": "Bearer probe"})
    assert trap.received == ["Bearer probe"], "the trap records what reaches it"
    world.sandbox.connect.divert_cells(foreign)
    for extra in ({}, {"operation": "connect-check"}, {"connect-config-file": "x.json"}):
        inputs = world.inputs(
            "connect-export" if extra.get("connect-config-file") else "connect-pause"
        )
        run = run_action(inputs | extra)
        assert run.exit_code == 1, run.stdout
        assert "host localhost is not allowed to receive credentials" in run.error_lines()[0]
    assert trap.received == ["Bearer probe"]
    shown = [line for line in run.everything.splitlines() if not line.startswith("::add-mask::")]
    assert world.token not in "\n".join(shown)


def test_a_prune_deletion_with_a_lost_answer_is_settled(world: ConnectWorld):
    world.sandbox.add_fault(Fault(match=r"^DELETE /cells/eu/api/v3/mappings/", drop_response=True))
    run = run_action(world.inputs(connect_prune="true"))
    assert run.exit_code == 0, run.stdout
    assert "it had taken effect" in run.stdout
    assert [r.method for r in world.writes() if "/mappings/" in r.path] == ["DELETE"]
    assert set(objects(world)) == {"Account", "Contact"}


# -- mode plan, then apply ---------------------------------------------------------------------------


def test_export_and_reload_plans_apply_as_planned(world: ConnectWorld, tmp_path: Path):
    workspace = {"GITHUB_WORKSPACE": str(tmp_path)}
    planned = run_action(
        world.inputs("connect-export", connect_config_file="prod.json", mode="plan"), **workspace
    )
    assert planned.exit_code == 0, planned.stdout
    assert not (tmp_path / "prod.json").exists()
    applied = run_action(
        world.inputs("connect-export", mode="apply", plan=planned.outputs["plan"]), **workspace
    )
    assert applied.exit_code == 0, applied.stdout
    assert json.loads((tmp_path / "prod.json").read_text()) == json.loads(
        planned.outputs["connect-config"]
    )
    world.sandbox.connect.set_timing(lag_seconds=0.3, mapping_sync_seconds=2.0)
    planned = run_action(world.inputs("connect-reload", connect_mappings="Lead", mode="plan"))
    assert planned.exit_code == 0, planned.stdout
    assert posts(world, "/actions/reload") == []
    applied = run_action(world.inputs("connect-reload", mode="apply", plan=planned.outputs["plan"]))
    assert applied.exit_code == 0, applied.stdout
    assert len(posts(world, "/actions/reload")) == 1


def test_an_export_planned_before_a_mapping_change_is_not_applied(
    world: ConnectWorld, tmp_path: Path
):
    workspace = {"GITHUB_WORKSPACE": str(tmp_path)}
    planned = run_action(
        world.inputs("connect-export", connect_config_file="prod.json", mode="plan"), **workspace
    )
    world.sandbox.connect.break_mapping(world.production, "Lead", "BAD_CONFIG")  # same config
    same = run_action(
        world.inputs("connect-export", mode="apply", plan=planned.outputs["plan"]), **workspace
    )
    assert same.exit_code == 0, same.stdout
    run_action(world.inputs(connect_config_file="", source_app="shop-staging"))
    (tmp_path / "prod.json").unlink()
    moved = run_action(
        world.inputs("connect-export", mode="apply", plan=planned.outputs["plan"]), **workspace
    )
    assert moved.exit_code == 1
    assert "the configuration of shop-prod changed since the plan" in moved.error_lines()[0]
    assert not (tmp_path / "prod.json").exists()


def test_a_target_without_a_schema_endpoint_is_not_a_failed_plan(world: ConnectWorld):
    """The schema_url's endpoint is UNVERIFIED: where it answers 404, nothing is concluded."""
    world.sandbox.add_fault(Fault(match=r"^GET /cells/eu/api/v3/mappings/.*/schema$", status=404))
    planned = run_action(world.inputs(dry_run="true", strict="true"))
    assert planned.exit_code == 0, planned.stdout
    assert "Pre-flight findings" not in planned.summary
