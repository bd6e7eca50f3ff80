"""The Heroku Connect fake's cell API: export and import, pause, resume and restart, mappings,
diagnosis and write errors, each asynchronous step on the fake's virtual clock."""

from __future__ import annotations

import copy
import json
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from promote_sandbox import Sandbox
from promote_sandbox.connect import FakeConnect

STEP = 10.0
"""Every scripted duration, so one ``advance(STEP)`` moves an action one phase on."""


def config(*fields: str, **extra: Any) -> dict[str, Any]:
    return {
        "access": "read_only",
        "sf_notify_enabled": False,
        "sf_polling_seconds": 600,
        "sf_max_daily_api_calls": 30000,
        "fields": {name: {} for name in ("Id", "SystemModstamp", *fields)},
        "indexes": {"Id": {"unique": True}, "SystemModstamp": {"unique": False}},
        **extra,
    }


ACCOUNT = {"object_name": "Account", "config": config("Name")}
CONTACT = {"object_name": "Contact", "config": config("Email", "LastName")}
LEAD = {"object_name": "Lead", "config": config("Company", access="read_write")}


@pytest.fixture
def connect(sandbox: Sandbox) -> FakeConnect:
    """A Connect fake of the test's own; its hosts are bound to the sandbox's host name, which
    puts them ahead of any Connect fake the sandbox mounts by default."""
    fake = FakeConnect()
    for service, prefix in fake.mounts():
        sandbox.mount(service, prefix=prefix, host=urlsplit(sandbox.url).hostname)
    fake.set_timing(
        lag_seconds=STEP,
        import_seconds=STEP,
        mapping_sync_seconds=STEP,
        pause_seconds=STEP,
        resume_seconds=STEP,
        restart_seconds=STEP,
        diagnose_polls=2,
    )
    return fake


@dataclass(frozen=True)
class Linked:
    """prod-app's connection, linked to ops by ``/auth``; ``api`` is its cell's API root."""

    id: str
    api: httpx.Client
    path: str

    def state(self) -> str:
        state: str = self.api.get(self.path).json()["state"]
        return state

    def mappings(self) -> dict[str, dict[str, Any]]:
        deep = self.api.get(self.path, params={"deep": "true"}).json()
        return {m["object_name"]: m for m in deep["mappings"]}

    def export(self) -> dict[str, Any]:
        exported: dict[str, Any] = self.api.get(f"{self.path}/actions/export").json()
        return exported

    def post(self, action: str, body: Any = None) -> httpx.Response:
        return self.api.post(f"{self.path}/actions/{action}", json=body)


@pytest.fixture
def linked(sandbox: Sandbox, connect: FakeConnect, tls: ssl.SSLContext) -> Iterator[Linked]:
    token = connect.add_user("ops@example.com")
    connection_id = connect.add_connection(
        "prod-app", owner_token=token, cell="eu", mappings=[ACCOUNT, CONTACT]
    )
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=sandbox.url, headers=headers, timeout=5, verify=tls) as http:
        (ref,) = http.post("/connect/auth/prod-app").json()["connections"]
        http.base_url = httpx.URL(f"{ref['region_url']}/api/v3")
        yield Linked(connection_id, http, f"/connections/{connection_id}")


def normalised(exported: dict[str, Any]) -> str:
    comparable = copy.deepcopy(exported)
    del comparable["connection"]["exported_at"]
    comparable["mappings"].sort(key=lambda m: m["object_name"])
    return json.dumps(comparable, sort_keys=True)


def test_export_is_the_same_configuration_in_a_new_order_each_time(
    connect: FakeConnect, linked: Linked
) -> None:
    exports = [linked.export() for _ in range(6)]
    assert len({normalised(e) for e in exports}) == 1
    orders = {
        (tuple(e), tuple(m["object_name"] for m in e["mappings"]), tuple(e["connection"]))
        for e in exports
    }
    assert len(orders) > 1
    first = exports[0]
    assert normalised(first) == normalised(connect.export(linked.id))
    assert first["version"] == 1
    block = first["connection"]
    assert block["app_name"] == "prod-app"
    assert block["organization_id"].startswith("00D")
    assert {"features", "api_version", "name", "logplex_log_enabled"} <= set(block)
    exported_at = datetime.strptime(block["exported_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert abs(exported_at.replace(tzinfo=UTC) - datetime.now(UTC)) < timedelta(seconds=5)
    by_name = {m["object_name"]: m["config"] for m in first["mappings"]}
    assert by_name == {"Account": ACCOUNT["config"], "Contact": CONTACT["config"]}


def test_import_lags_then_configures_upserts_and_settles(
    connect: FakeConnect, linked: Linked
) -> None:
    before = linked.export()
    changed_account = config("Name", "Industry")
    body = {
        **before,
        "mappings": [{"object_name": "Account", "config": changed_account}, LEAD],
    }
    accepted = linked.post("import", body)
    assert accepted.status_code == 202
    assert accepted.json() == {"message": "success"}

    assert linked.state() == "IDLE", "a read during the lag still sees the old state"
    assert normalised(linked.export()) == normalised(before)
    busy = linked.post("import", body)
    assert busy.status_code == 409
    assert "in progress" in busy.json()["error"]

    connect.advance(STEP)
    assert linked.state() == "IMPORT_CONFIGURATION"
    mappings = linked.mappings()
    assert set(mappings) == {"Account", "Contact", "Lead"}, "an import never deletes"
    assert mappings["Account"]["config"]["revision"] == 2
    assert mappings["Account"]["config"]["fields"] == changed_account["fields"]
    assert mappings["Contact"]["config"]["revision"] == 1
    assert mappings["Lead"]["state"] == "INITIAL"
    assert mappings["Lead"]["counts"]["db"] == 0
    assert linked.api.get(linked.path).json()["mappings_summary_state"] == "PENDING"

    connect.advance(STEP)
    assert linked.state() == "IDLE"
    assert linked.mappings()["Lead"]["state"] == "RELOAD_TABLE"
    connect.advance(STEP)
    mappings = linked.mappings()
    assert {m["state"] for m in mappings.values()} == {"DATA_SYNCED"}
    assert mappings["Lead"]["counts"]["db"] == mappings["Lead"]["counts"]["sf"] > 0
    assert linked.api.get(linked.path).json()["mappings_summary_state"] == "OK"

    snapshot = connect.connection(linked.id)
    assert snapshot.mapping("lead").config == LEAD["config"]
    assert snapshot.mapping("Account").revision == 2
    again = linked.post("import", linked.export())
    assert again.status_code == 202
    connect.advance(2 * STEP)
    assert connect.connection(linked.id).mapping("Account").revision == 2, "unchanged: no bump"


def test_import_runs_on_the_real_clock_too(connect: FakeConnect, linked: Linked) -> None:
    connect.set_timing(lag_seconds=0.05, import_seconds=0.3, mapping_sync_seconds=0.05)
    assert linked.post("import", {"mappings": [LEAD]}).status_code == 202
    seen = [linked.state()]
    deadline = time.monotonic() + 3
    while seen[-1] != "IDLE" or "IMPORT_CONFIGURATION" not in seen:
        assert time.monotonic() < deadline, seen
        time.sleep(0.02)
        seen.append(linked.state())
    assert seen[0] == "IDLE"
    time.sleep(0.1)
    assert linked.mappings()["Lead"]["state"] == "DATA_SYNCED"


def test_import_into_a_paused_connection_leaves_it_paused(
    connect: FakeConnect, linked: Linked
) -> None:
    connect.set_state(linked.id, "PAUSED")
    assert linked.post("import", {"mappings": [LEAD]}).status_code == 202
    connect.advance(STEP)
    assert linked.state() == "IMPORT_CONFIGURATION"
    connect.advance(STEP)
    assert linked.state() == "PAUSED"


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        b'{"mappings": "Account"}',
        b'{"version": 2, "mappings": []}',
        b'{"mappings": [{"object_name": "Account"}]}',
        b'{"mappings": [{"object_name": "", "config": {}}]}',
        b'{"mappings": [{"object_name": "Lead", "config": {}}, {"object_name": "lead", "config": {}}]}',
        b'{"mappings": [{"object_name": "Lead", "config": {"access": "write_only"}}]}',
        b'{"mappings": [{"object_name": "Lead", "config": {"fields": ["Id"]}}]}',
    ],
)
def test_malformed_import_is_refused_at_once(
    connect: FakeConnect, linked: Linked, body: bytes
) -> None:
    refused = linked.api.post(f"{linked.path}/actions/import", content=body)
    assert refused.status_code == 400
    assert refused.json()["message"]
    connect.advance(3 * STEP)
    assert set(linked.mappings()) == {"Account", "Contact"}


def test_import_fills_connects_defaults(connect: FakeConnect, linked: Linked) -> None:
    linked.post("import", {"mappings": [{"object_name": "Task", "config": {"fields": {"Id": {}}}}]})
    connect.advance(STEP)
    (task,) = [m for m in linked.export()["mappings"] if m["object_name"] == "Task"]
    assert task["config"] == {
        "access": "read_only",
        "sf_notify_enabled": False,
        "sf_polling_seconds": 600,
        "sf_max_daily_api_calls": 30000,
        "fields": {"Id": {}},
        "indexes": {},
    }


def test_import_from_another_org_is_refused_only_when_asked(
    connect: FakeConnect, linked: Linked
) -> None:
    foreign = {**linked.export(), "mappings": [LEAD]}
    foreign["connection"] = {**foreign["connection"], "organization_id": "00Dsandbox000000AB"}
    connect.set_behaviour(reject_foreign_org=True)
    refused = linked.post("import", foreign)
    assert refused.status_code == 400
    assert "00Dsandbox000000AB" in refused.json()["message"]
    del foreign["connection"]
    assert linked.post("import", foreign).status_code == 202


def test_scripted_bad_config_appears_only_after_the_import(
    connect: FakeConnect, linked: Linked
) -> None:
    connect.fail_mapping(linked.id, "Lead")
    connect.fail_mapping(linked.id, "contact", "SYSTEM_ERROR")
    assert linked.post("import", {"mappings": [LEAD, CONTACT]}).status_code == 202
    connect.advance(STEP)
    assert linked.mappings()["Lead"]["state"] == "INITIAL"
    connect.advance(STEP)
    assert linked.state() == "IDLE"
    mappings = linked.mappings()
    assert (mappings["Lead"]["state"], mappings["Contact"]["state"]) == (
        "BAD_CONFIG",
        "SYSTEM_ERROR",
    )
    assert mappings["Lead"]["state_description"]
    assert linked.api.get(linked.path).json()["mappings_summary_state"] == "ERRORS"
    connect.advance(STEP)
    assert linked.mappings()["Lead"]["state"] == "BAD_CONFIG", "it does not heal"
    notes = linked.api.get(f"{linked.path}/notifications").json()
    assert notes["count"] == 2
    assert {n["event_type"] for n in notes["results"]} == {"mapping-error"}
    assert any("Lead" in n["message"] for n in notes["results"])

    lead = mappings["Lead"]["id"]
    checks = linked.api.get(f"/mappings/{lead}/validations").json()
    assert [c["status"] for c in checks["errors"]] == ["FAILED"]
    assert "mappings" not in checks
    assert linked.api.post(f"/mappings/{lead}/actions/reload").status_code == 202
    connect.advance(STEP)
    assert linked.mappings()["Lead"]["state"] == "RELOAD_TABLE"
    connect.advance(STEP)
    assert linked.mappings()["Lead"]["state"] == "BAD_CONFIG", "reloading does not fix a config"


def test_pause_and_resume_from_idle(connect: FakeConnect, linked: Linked) -> None:
    paused = linked.post("pause")
    assert (paused.status_code, paused.content) == (202, b"")
    assert linked.state() == "IDLE"
    connect.advance(STEP)
    assert linked.state() == "PAUSED"
    again = linked.post("pause")
    assert again.status_code == 409
    assert again.json() == {"message": "Connection is already paused."}
    assert linked.post("resume").status_code == 202
    assert linked.state() == "PAUSED"
    connect.advance(STEP)
    assert linked.state() == "IDLE"
    not_paused = linked.post("resume")
    assert not_paused.status_code == 409
    assert not_paused.json() == {"message": "Connection is not paused."}


def test_pause_outside_idle_is_refused_by_default(connect: FakeConnect, linked: Linked) -> None:
    connect.set_state(linked.id, "POLLING_DB_CHANGES")
    refused = linked.post("pause")
    assert refused.status_code == 409
    assert refused.json() == {
        "message": "Connection must be idle to pause; it is POLLING_DB_CHANGES."
    }
    connect.advance(STEP)
    assert linked.state() == "POLLING_DB_CHANGES"


def test_pause_outside_idle_can_wait_for_idle(connect: FakeConnect, linked: Linked) -> None:
    connect.set_behaviour(pause_when_busy="wait")
    connect.set_state(linked.id, "BUSY", for_seconds=STEP)
    assert linked.post("pause").status_code == 202
    assert linked.post("import", {"mappings": []}).json()["error"]
    connect.advance(STEP)
    assert linked.state() == "IDLE", "pending work done; the pause starts now"
    connect.advance(STEP)
    assert linked.state() == "PAUSED"

    assert linked.post("pause").status_code == 409, "already paused is still refused"
    connect.set_state(linked.id, "SYSTEM_ERROR")
    assert linked.post("pause").status_code == 202
    assert linked.post("resume").status_code == 202, "cancels the waiting pause"
    connect.set_state(linked.id, "IDLE")
    connect.advance(2 * STEP)
    assert linked.state() == "IDLE"


def test_restart_recovers_then_idles(connect: FakeConnect, linked: Linked) -> None:
    connect.set_state(linked.id, "SYSTEM_ERROR")
    assert linked.post("restart").status_code == 202
    assert linked.state() == "SYSTEM_ERROR"
    connect.advance(STEP)
    assert linked.state() == "RECOVERY"
    connect.advance(STEP)
    assert linked.state() == "IDLE"
    connect.set_state(linked.id, "WEIRD_NEW_STATE")
    assert linked.state() == "WEIRD_NEW_STATE"


def test_delete_mapping_answers_204_and_the_export_drops_it(
    connect: FakeConnect, linked: Linked
) -> None:
    contact = linked.mappings()["Contact"]
    shown = linked.api.get(f"/mappings/{contact['id']}").json()
    assert shown["object_name"] == "Contact"
    assert shown["connection"] == {"id": linked.id}
    deleted = linked.api.delete(f"/mappings/{contact['id']}")
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert [m["object_name"] for m in linked.export()["mappings"]] == ["Account"]
    assert linked.api.get(f"/mappings/{contact['id']}").status_code == 404
    assert linked.api.delete(f"/mappings/{contact['id']}").status_code == 404


def test_reload_mapping(connect: FakeConnect, linked: Linked) -> None:
    account = linked.mappings()["Account"]["id"]
    assert linked.api.post(f"/mappings/{account}/actions/reload").status_code == 202
    assert linked.mappings()["Account"]["state"] == "DATA_SYNCED"
    connect.advance(STEP)
    assert linked.mappings()["Account"]["state"] == "RELOAD_TABLE"
    connect.advance(STEP)
    assert linked.mappings()["Account"]["state"] == "DATA_SYNCED"


def test_diagnosis_answers_202_then_its_scripted_result(
    connect: FakeConnect, linked: Linked
) -> None:
    connect.set_diagnosis(
        linked.id,
        errors=[{"rule_id": "MUST_USE_RECENT_API_VERSION", "message": "Use API 61.0."}],
        warnings=[{"rule_id": "SHOULD_HAVE_LOG_DRAIN", "display_name": "Configured Logging"}],
    )
    connect.set_mapping_state(linked.id, "Contact", "BAD_CONFIG")
    started = linked.api.post(f"{linked.path}/validations")
    assert started.status_code == 202
    result_url = started.json()["result_url"]
    assert result_url.startswith(f"{linked.api.base_url}".rstrip("/") + f"{linked.path}/")
    polls = [linked.api.get(result_url) for _ in range(3)]
    assert [(p.status_code, p.content) for p in polls[:2]] == [(202, b"")] * 2
    result = polls[2].json()
    assert polls[2].status_code == 200
    (error,) = result["errors"]
    assert error["rule_id"] == "MUST_USE_RECENT_API_VERSION"
    assert error["message"] == "Use API 61.0."
    assert error["status"] == "FAILED"
    assert {"display_name", "doc_url"} <= set(error)
    assert [w["display_name"] for w in result["warnings"]] == ["Configured Logging"]
    assert (result["passes"], result["skips"]) == ([], [])
    assert set(result["mappings"]) == {"Account", "Contact"}
    assert result["mappings"]["Contact"]["errors"][0]["status"] == "FAILED"
    assert result["mappings"]["Account"]["errors"] == []
    assert linked.api.get(result_url).json() == result
    assert linked.api.get(f"{linked.path}/validations/nope").status_code == 404


def test_diagnosis_that_never_finishes(connect: FakeConnect, linked: Linked) -> None:
    connect.set_diagnosis(linked.id, never_finishes=True)
    result_url = linked.api.post(f"{linked.path}/validations").json()["result_url"]
    connect.advance(3600)
    assert {linked.api.get(result_url).status_code for _ in range(10)} == {202}
    connect.set_diagnosis(linked.id)
    connect.set_timing(diagnose_polls=0)
    fresh = linked.api.post(f"{linked.path}/validations").json()["result_url"]
    done = linked.api.get(fresh).json()
    assert done["errors"] == []
    assert {p["rule_id"] for p in done["passes"]} == {
        "MUST_USE_RECENT_API_VERSION",
        "SHOULD_HAVE_LOG_DRAIN",
    }


def test_write_errors_cover_the_last_24_hours(connect: FakeConnect, linked: Linked) -> None:
    connect.add_write_error(linked.id, "Account", "FIELD_CUSTOM_VALIDATION_EXCEPTION", 1)
    connect.add_write_error(linked.id, "Account", "UNABLE_TO_LOCK_ROW", 23.5)
    connect.add_write_error(linked.id, "Contact", "REQUIRED_FIELD_MISSING", 25)
    errors = linked.api.get(f"{linked.path}/errors").json()
    assert errors["count"] == 2
    assert [e["message"] for e in errors["results"]] == [
        "FIELD_CUSTOM_VALIDATION_EXCEPTION",
        "UNABLE_TO_LOCK_ROW",
    ]
    assert set(errors["results"][0]) == {
        "id",
        "table_name",
        "record_id",
        "action",  # UNVERIFIED (see add_write_error)
        "message",
        "created_at",
    }
    assert errors["results"][0]["table_name"] == "account"
    mappings = linked.mappings()
    account, contact = mappings["Account"], mappings["Contact"]
    assert account["counts"]["errors"] == 2
    assert linked.api.get(f"/mappings/{account['id']}/errors").json()["count"] == 2
    assert linked.api.get(f"/mappings/{contact['id']}/errors").json() == {"count": 0, "results": []}
    connect.advance(3600)
    assert linked.api.get(f"{linked.path}/errors").json()["count"] == 1


# -- issue 14: paused imports, recovery of mappings, schema, diverted cells -------------------------


def test_import_into_a_paused_connection_loads_new_mappings_only_on_resume(
    connect: FakeConnect, linked: Linked
) -> None:
    assert linked.post("pause").status_code == 202
    connect.advance(STEP)
    assert linked.state() == "PAUSED"
    assert linked.post("import", {"version": 1, "mappings": [ACCOUNT, LEAD]}).status_code == 202
    connect.advance(2 * STEP + 1)
    assert linked.state() == "PAUSED"
    assert linked.mappings()["Lead"]["state"] == "INITIAL"
    assert "Lead" in {m["object_name"] for m in linked.export()["mappings"]}
    assert linked.post("resume").status_code == 202
    connect.advance(STEP)
    assert linked.state() == "IDLE"
    assert linked.mappings()["Lead"]["state"] == "RELOAD_TABLE"
    connect.advance(STEP)
    assert linked.mappings()["Lead"]["state"] == "DATA_SYNCED"


def test_restart_reloads_mappings_in_error_and_a_broken_one_fails_again(
    connect: FakeConnect, linked: Linked
) -> None:
    connect.set_mapping_state(linked.id, "Account", "SYSTEM_ERROR")
    connect.break_mapping(linked.id, "Contact", "BAD_CONFIG")
    assert linked.post("restart").status_code == 202
    connect.advance(STEP)
    assert linked.state() == "RECOVERY"
    connect.advance(STEP)
    assert linked.state() == "IDLE"
    assert {n: m["state"] for n, m in linked.mappings().items()} == {
        "Account": "RELOAD_TABLE",
        "Contact": "RELOAD_TABLE",
    }
    connect.advance(STEP)
    assert {n: m["state"] for n, m in linked.mappings().items()} == {
        "Account": "DATA_SYNCED",
        "Contact": "BAD_CONFIG",
    }


def test_a_reload_moves_the_last_salesforce_poll(connect: FakeConnect, linked: Linked) -> None:
    before = linked.mappings()["Account"]
    assert linked.api.post(f"/mappings/{before['id']}/actions/reload").status_code == 202
    connect.advance(2 * STEP)
    after = linked.mappings()["Account"]
    assert after["state"] == "DATA_SYNCED"
    assert after["times"]["sf_poll"] != before["times"]["sf_poll"]


def test_a_held_reload_shows_a_routine_poll_then_loads_read_by_read(
    connect: FakeConnect, linked: Linked
) -> None:
    """A routine Salesforce poll between the request and the load moves sf_poll too."""
    connect.hold_load(linked.id, "Account", reads=2, poll_first=True)
    before = linked.mappings()["Account"]
    assert linked.api.post(f"/mappings/{before['id']}/actions/reload").status_code == 202
    connect.advance(2 * STEP)
    seen = [linked.mappings()["Account"] for _ in range(6)]
    assert [m["state"] for m in seen] == [
        "POLLING_SF_CHANGES",
        "DATA_SYNCED",
        "RELOAD_TABLE",
        "RELOAD_TABLE",
        "DATA_SYNCED",
        "DATA_SYNCED",
    ]
    assert seen[1]["times"]["sf_poll"] != before["times"]["sf_poll"], "the poll moved it"
    connect.advance(100 * STEP)
    assert linked.mappings()["Account"]["state"] == "DATA_SYNCED"


def test_a_load_held_until_released(connect: FakeConnect, linked: Linked) -> None:
    connect.hold_load(linked.id, "Account")
    account = linked.mappings()["Account"]["id"]
    assert linked.api.post(f"/mappings/{account}/actions/reload").status_code == 202
    connect.advance(100 * STEP)
    for _ in range(3):
        assert linked.mappings()["Account"]["state"] == "RELOAD_TABLE"
    connect.release_load(linked.id, "Account")
    assert linked.mappings()["Account"]["state"] == "DATA_SYNCED"


def test_mapping_schema_and_diagnosis_follow_the_org_schema(
    connect: FakeConnect, linked: Linked
) -> None:
    account = linked.mappings()["Account"]
    assert account["schema_url"] == f"/api/v3/mappings/{account['id']}/schema"
    schema = linked.api.get(f"/mappings/{account['id']}/schema").json()
    assert {"Id", "Name", "SystemModstamp"} <= {f["name"] for f in schema["fields"]}
    assert linked.api.get(f"/mappings/{account['id']}/validations").json()["errors"] == []
    connect.set_org_schema(linked.id, {"Account": ["Id", "SystemModstamp"]})
    schema = linked.api.get(f"/mappings/{account['id']}/schema").json()
    assert schema == {
        "object_name": "Account",
        "fields": [{"name": "Id"}, {"name": "SystemModstamp"}],
    }
    (error,) = linked.api.get(f"/mappings/{account['id']}/validations").json()["errors"]
    assert error["rule_id"] == "MAPPING_FIELDS_MUST_EXIST"
    assert error["message"] == "Fields missing in Salesforce: Name."


def test_write_errors_say_which_write_failed(connect: FakeConnect, linked: Linked) -> None:
    connect.add_write_error(
        linked.id, "Contact", "DUPLICATE_VALUE", 1, action="INSERT", record_id=7
    )
    (error,) = linked.api.get(f"{linked.path}/errors").json()["results"]
    assert (error["table_name"], error["record_id"], error["action"]) == ("contact", 7, "INSERT")
