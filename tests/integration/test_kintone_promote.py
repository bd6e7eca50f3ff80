"""kintone-export and kintone-promote end to end: the entrypoint against the sandbox."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

from kintone_promote_world import (
    WIDGET_JS,
    PromoteWorld,
    build_source,
    promote_world_fixture,  # noqa: F401 - the `promote` fixture
)
from promote_action import plans
from promote_sandbox import Fault
from runner import ACTION, run_action


def plain(summary: str) -> str:
    """The summary's text as a reader sees it: Markdown escapes and entities undone."""
    text = re.sub(r"\\(.)", r"\1", summary)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def portable(sandbox, app: str, side: str = "live") -> dict:
    """An app's settings as a user would compare them: without revisions and view ids."""
    snap = sandbox.kintone.app(app)
    docs = json.loads(json.dumps(snap.live if side == "live" else snap.preview))
    docs["settings"].pop("name")
    for view in docs["views"]["views"].values():
        view.pop("id")
    for platform in ("desktop", "mobile"):
        for entry in docs["customize"][platform]["js"]:
            entry.get("file", {}).pop("fileKey", None)
    return docs


def test_promotes_an_apps_settings_to_two_production_apps_and_verifies(promote: PromoteWorld):
    run = run_action(promote.inputs())

    assert run.exit_code == 0, run.stdout + run.stderr
    assert run.outputs["status"] == "succeeded"
    assert {"status", "result", "revisions", "snapshot-digest"} <= set(ACTION["outputs"])
    assert run.outputs["snapshot-digest"].startswith("sha256:")
    k = promote.sandbox.kintone
    for app in promote.targets:
        assert portable(promote.sandbox, app) == portable(promote.sandbox, promote.source)
        assert k.app(app).live_revision == k.app(app).preview_revision
    [file] = [
        e
        for e in k.app(promote.targets[0]).live["customize"]["desktop"]["js"]
        if e["type"] == "FILE"
    ]
    assert file["file"]["name"] == "orders.js"

    # Dependency order per app: general, fields, layout, views, process, then customization.
    for app in promote.targets:
        writes = [(m, p) for m, p, a in promote.settings_writes() if a == app]
        assert writes == [
            ("PUT", "/k/v1/preview/app/settings.json"),
            ("POST", "/k/v1/preview/app/form/fields.json"),
            ("PUT", "/k/v1/preview/app/form/fields.json"),
            ("PUT", "/k/v1/preview/app/form/layout.json"),
            ("PUT", "/k/v1/preview/app/views.json"),
            ("PUT", "/k/v1/preview/app/status.json"),
            ("PUT", "/k/v1/preview/app/customize.json"),
        ]
    uploads = [w for w in promote.settings_writes() if w[1] == "/k/v1/file.json"]
    assert len(uploads) == 2, "one upload per target"
    [deploy] = promote.deploy_posts()
    assert deploy.body == {
        "apps": [{"app": app, "revision": k.app(app).live_revision} for app in promote.targets],
        "revert": False,
    }
    result = json.loads(run.outputs["result"])
    assert [a["status"] for a in result["apps"]] == ["succeeded", "succeeded"]
    assert result["apps"][0]["fields_added"] == ["Amount", "Customer"]
    assert result["apps"][0]["fields_changed"] == ["Title"]
    assert json.loads(run.outputs["revisions"]) == {
        a: k.app(a).live_revision for a in promote.targets
    }
    assert "| App | Name | Revision | Changes | Status |" in run.summary
    assert "form fields: +Amount +Customer \\~Title" in run.summary
    assert "views: +Big orders ~All records" in plain(run.summary)
    assert "process management: ~enable" in plain(run.summary)
    eu = promote.targets[0]
    assert f"app {eu} Orders EU (revision 5): form fields: +Amount +Customer ~Title;" in run.stdout


def test_a_second_promotion_has_nothing_to_do(promote: PromoteWorld):
    assert run_action(promote.inputs()).exit_code == 0
    writes_before = len(promote.sandbox.writes())

    run = run_action(promote.inputs())

    assert run.exit_code == 0, run.stdout
    assert run.outputs["status"] == "unchanged"
    assert len(promote.sandbox.writes()) == writes_before


def test_export_writes_a_deterministic_snapshot_that_promote_ships(
    promote: PromoteWorld, tmp_path: Path
):
    twin = build_source(promote.sandbox, name="Orders (dev)")
    exports = []
    for app, path in ((promote.source, "kintone/orders"), (twin, "kintone/twin")):
        run = run_action(
            promote.inputs(
                operation="kintone-export",
                kintone_apps=app,
                kintone_source_app="<unset>",
                kintone_snapshot_path=path,
            ),
            GITHUB_WORKSPACE=str(tmp_path),
        )
        assert run.exit_code == 0, run.stdout + run.stderr
        assert run.outputs["status"] == "succeeded"
        assert run.outputs["snapshot-digest"] in run.summary
        assert len(json.loads(run.outputs["result"])["changed"]) == 7
        exports.append(run.outputs["snapshot-digest"])
    directory = tmp_path / "kintone/orders"
    sha = json.loads((directory / "customize.json").read_text())["desktop"]["js"][1]["file"][
        "sha256"
    ]
    assert sorted(
        p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()
    ) == [
        "customize.json",
        "fields.json",
        f"files/{sha}",
        "layout.json",
        "process.json",
        "settings.json",
        "views.json",
    ]
    assert (directory / "files" / sha).read_bytes() == WIDGET_JS
    for name in ("fields.json", "views.json", "customize.json", "layout.json", "process.json"):
        text = (directory / name).read_text()
        assert text == (tmp_path / "kintone/twin" / name).read_text(), "equal apps, equal files"
        assert text.endswith("}\n")
        assert '\n  "' in text
        assert '"revision"' not in text
        assert '"fileKey"' not in text
        assert '"id"' not in text
    assert exports[0] == exports[1]

    again = run_action(
        promote.inputs(
            operation="kintone-export",
            kintone_apps=promote.source,
            kintone_source_app="<unset>",
            kintone_snapshot_path="kintone/orders",
        ),
        GITHUB_WORKSPACE=str(tmp_path),
    )
    assert again.outputs["status"] == "unchanged"

    run = run_action(
        promote.inputs(kintone_source_app="<unset>", kintone_source_snapshot="kintone/orders"),
        GITHUB_WORKSPACE=str(tmp_path),
    )
    assert run.exit_code == 0, run.stdout + run.stderr
    assert run.outputs["snapshot-digest"] == exports[0]
    for app in promote.targets:
        assert portable(promote.sandbox, app) == portable(promote.sandbox, promote.source)


def test_export_leaves_other_files_alone_and_writes_through_no_symlink(
    promote: PromoteWorld, tmp_path: Path
):
    workspace = tmp_path / "workspace"
    workspace.mkdir()

    def export(path: str):
        return run_action(
            promote.inputs(
                operation="kintone-export",
                kintone_apps=promote.source,
                kintone_source_app="<unset>",
                kintone_snapshot_path=path,
            ),
            GITHUB_WORKSPACE=str(workspace),
        )

    assert export("orders").exit_code == 0
    readme = workspace / "orders" / "files" / "README.md"
    readme.write_text("customization files, by hash\n")
    stale = workspace / "orders" / "files" / ("0" * 64)
    stale.write_bytes(b"unreferenced")
    again = export("orders")
    assert again.exit_code == 0, again.stdout
    assert json.loads(again.outputs["result"])["changed"] == [f"files/{'0' * 64}"]
    assert readme.read_text() == "customization files, by hash\n"
    assert not stale.exists()

    outside = tmp_path / "outside"
    outside.mkdir()
    (workspace / "linked").mkdir()
    (workspace / "linked" / "files").symlink_to(outside)
    linked = export("linked")
    assert linked.exit_code == 2, linked.stdout
    [error] = linked.error_lines()
    assert "input 'kintone-snapshot-path'" in error
    assert "symbolic link" in error
    assert list(outside.iterdir()) == []
    assert list((workspace / "linked").iterdir()) == [workspace / "linked" / "files"]
    assert promote.sandbox.writes() == []


def test_a_malformed_snapshot_is_a_usage_error_before_any_write(
    promote: PromoteWorld, tmp_path: Path
):
    exported = run_action(
        promote.inputs(
            operation="kintone-export",
            kintone_apps=promote.source,
            kintone_source_app="<unset>",
            kintone_snapshot_path="orders",
        ),
        GITHUB_WORKSPACE=str(tmp_path),
    )
    assert exported.exit_code == 0, exported.stdout
    directory = tmp_path / "orders"
    pristine = {n: (directory / n).read_text() for n in ("customize.json", "fields.json")}

    def file_entry(doc: dict) -> dict:
        return next(e for e in doc["desktop"]["js"] if e["type"] == "FILE")

    def no_sha(doc: dict) -> None:
        del file_entry(doc)["file"]["sha256"]

    def short_sha(doc: dict) -> None:
        file_entry(doc)["file"]["sha256"] = "abc"

    def upper_sha(doc: dict) -> None:
        file_entry(doc)["file"]["sha256"] = file_entry(doc)["file"]["sha256"].upper()

    def escaping_sha(doc: dict) -> None:
        file_entry(doc)["file"]["sha256"] = "../customize.json"

    def field_not_object(doc: dict) -> None:
        doc["properties"]["Amount"] = "NUMBER"

    breakages = [
        ("customize.json", no_sha, "file.sha256"),
        ("customize.json", short_sha, "file.sha256"),
        ("customize.json", upper_sha, "file.sha256"),
        ("customize.json", escaping_sha, "file.sha256"),
        ("fields.json", field_not_object, "properties.Amount is not a JSON object"),
    ]
    for name, breakage, message in breakages:
        for original, text in pristine.items():
            (directory / original).write_text(text)
        doc = json.loads(pristine[name])
        breakage(doc)
        (directory / name).write_text(json.dumps(doc))

        run = run_action(
            promote.inputs(kintone_source_app="<unset>", kintone_source_snapshot="orders"),
            GITHUB_WORKSPACE=str(tmp_path),
        )

        assert run.exit_code == 2, (breakage.__name__, run.stdout + run.stderr)
        [error] = run.error_lines()
        assert "input 'kintone-source-snapshot'" in error
        assert message in error, error
    assert promote.sandbox.writes() == []


def test_removing_a_field_is_refused_unless_allowed(promote: PromoteWorld):
    k = promote.sandbox.kintone
    target = promote.targets[0]
    extra = {"type": "NUMBER", "code": "Legacy", "label": "Legacy"}
    fields = dict(k.app(target).preview["form/fields"]["properties"], Legacy=extra)
    k.change_preview(target, fields=fields)
    k.publish(target)

    refused = run_action(promote.inputs(kintone_apps=target))

    assert refused.exit_code == 1
    assert refused.outputs["status"] == "failed"
    assert "would remove field(s) Legacy and their data" in plain(refused.summary)
    assert "kintone-allow-field-deletion" in refused.error_lines()[0]
    assert promote.sandbox.writes() == []

    planned = run_action(promote.inputs(kintone_apps=target, mode="plan"))
    assert planned.exit_code == 1, "a refused promotion fails its review too"
    assert "Legacy" in plain(planned.summary)

    allowed = run_action(promote.inputs(kintone_apps=target, kintone_allow_field_deletion="true"))

    assert allowed.exit_code == 0, allowed.stdout
    [delete] = [r for r in promote.sandbox.writes() if r.method == "DELETE"]
    # Pinned to the revision the general settings, added and changed fields left (6 -> 9).
    assert delete.body == {"fields": ["Legacy"], "app": target, "revision": 9}
    assert "Legacy" not in k.app(target).live["form/fields"]["properties"]


def test_a_field_type_change_is_reported_at_plan_time(promote: PromoteWorld):
    k = promote.sandbox.kintone
    target = promote.targets[0]
    amount = {"type": "SINGLE_LINE_TEXT", "code": "Amount", "label": "Amount"}
    fields = dict(k.app(target).preview["form/fields"]["properties"], Amount=amount)
    k.change_preview(target, fields=fields)
    k.publish(target)

    run = run_action(promote.inputs(mode="plan"))

    assert run.exit_code == 1
    assert (
        "field Amount: kintone cannot change a field's type (SINGLE_LINE_TEXT to NUMBER)"
        in plain(run.summary)
    )
    assert promote.sandbox.writes() == []


def test_pending_preview_changes_of_someone_else_are_refused(promote: PromoteWorld):
    target = promote.targets[1]
    promote.sandbox.kintone.change_preview(target, description="draft by an admin")

    run = run_action(promote.inputs())

    assert run.exit_code == 1
    assert f"app {target}: has undeployed preview changes" in plain(run.summary)
    assert promote.sandbox.writes() == []


def test_plan_then_apply_ships_exactly_the_reviewed_source(promote: PromoteWorld):
    planned = run_action(promote.inputs(mode="plan"))
    assert planned.exit_code == 0, planned.stdout
    assert planned.outputs["status"] == "planned"
    assert promote.sandbox.writes() == []
    plan = json.loads(planned.outputs["plan"])["plan"]
    assert plan["source_digest"] == planned.outputs["snapshot-digest"]
    assert [t["revision"] for t in plan["targets"]] == [5, 5]

    applied = run_action(promote.inputs(mode="apply", plan=planned.outputs["plan"]))

    assert applied.exit_code == 0, applied.stdout
    assert applied.outputs["status"] == "succeeded"


def test_apply_refuses_a_source_that_changed_after_the_plan(promote: PromoteWorld):
    planned = run_action(promote.inputs(mode="plan"))
    k = promote.sandbox.kintone
    k.change_preview(promote.source, description="changed after review")
    k.publish(promote.source)

    run = run_action(promote.inputs(mode="apply", plan=planned.outputs["plan"]))

    assert run.exit_code == 1
    assert run.outputs["status"] == "drifted"
    assert f"the source (app {promote.source} on" in plain(run.summary)
    assert promote.sandbox.writes() == []


def test_apply_refuses_a_target_that_changed_after_the_plan(promote: PromoteWorld):
    planned = run_action(promote.inputs(mode="plan"))
    k = promote.sandbox.kintone
    k.change_preview(promote.targets[0], description="edited in production")
    k.publish(promote.targets[0])

    run = run_action(promote.inputs(mode="apply", plan=planned.outputs["plan"]))

    assert run.exit_code == 1
    assert run.outputs["status"] == "drifted"
    assert f"app {promote.targets[0]}: settings are now at revision 6 (planned at 5)" in plain(
        run.summary
    )


def test_a_failed_deploy_reverts_the_written_previews(promote: PromoteWorld):
    k = promote.sandbox.kintone
    k.set_deploy_behaviour(processing_seconds=0.2, fail_apps=[promote.targets[1]])
    before = {app: portable(promote.sandbox, app) for app in promote.targets}

    run = run_action(promote.inputs())

    assert run.exit_code == 1
    assert run.outputs["status"] == "failed"
    deploys = promote.deploy_posts()
    assert [d.body["revert"] for d in deploys] == [False, True]
    assert deploys[1].body["apps"] == deploys[0].body["apps"], "revert pinned to what was written"
    for app in promote.targets:
        assert portable(promote.sandbox, app) == before[app], "production unchanged"
        assert portable(promote.sandbox, app, "preview") == before[app], "preview agrees again"
    assert "were discarded (revert): production was not changed" in plain(run.summary)
    [error] = run.error_lines()
    assert f"app {promote.targets[1]} FAIL" in error
    statuses = {a["app"]: a["status"] for a in json.loads(run.outputs["result"])["apps"]}
    assert statuses == {promote.targets[0]: "failed", promote.targets[1]: "failed"}


def test_a_refused_write_stops_before_the_deploy_and_reverts(promote: PromoteWorld):
    promote.sandbox.add_fault(
        Fault(
            match=r"PUT /k/v1/preview/app/views\.json",
            status=400,
            error_id="GAIA_IL01",
            message="Invalid filter condition",
        )
    )

    run = run_action(promote.inputs(kintone_apps=promote.targets[0]))

    assert run.exit_code == 1
    [deploy] = promote.deploy_posts()
    assert deploy.body["revert"] is True
    app = promote.sandbox.kintone.app(promote.targets[0])
    assert app.preview_revision == app.live_revision or app.preview == app.live
    assert "GAIA_IL01: Invalid filter condition" in plain(run.summary)
    assert "were discarded (revert)" in plain(run.summary)


def test_source_on_another_domain_uses_its_own_token(promote: PromoteWorld):
    k = promote.sandbox.kintone
    token = k.add_api_token(promote.source, manage=False, view=True)
    other = promote.sandbox.url.replace("127.0.0.1", "localhost")

    run = run_action(promote.inputs(kintone_source_base_url=other, kintone_source_api_token=token))

    assert run.exit_code == 0, run.stdout
    source_reads = [
        r for r in promote.sandbox.requests if r.query.startswith(f"app={promote.source}")
    ]
    assert source_reads
    for request in source_reads:
        assert request.headers.get("X-Cybozu-API-Token") == "[REDACTED]"
        assert "X-Cybozu-Authorization" not in request.headers
    for request in promote.sandbox.writes():
        assert "X-Cybozu-API-Token" not in request.headers
    logged = [line for line in run.stdout.splitlines() if not line.startswith("::add-mask::")]
    assert token not in "\n".join(logged) + run.summary + json.dumps(run.outputs)
    assert f"::add-mask::{token}" in run.stdout


def test_source_on_another_domain_without_its_own_credentials_is_refused(promote: PromoteWorld):
    other = promote.sandbox.url.replace("127.0.0.1", "localhost")

    run = run_action(promote.inputs(kintone_source_base_url=other))

    assert run.exit_code == 2, run.stdout
    [error] = run.error_lines()
    assert "input 'kintone-source-base-url'" in error
    assert "needs kintone-source-api-token or kintone-source-username" in error
    assert promote.sandbox.requests == []


def test_bad_inputs_are_usage_errors_before_any_request(promote: PromoteWorld, tmp_path: Path):
    cases = {
        "kintone-source-app": {"kintone_source_app": "<unset>"},
        "kintone-source-snapshot": {
            "kintone_source_app": "<unset>",
            "kintone_source_snapshot": "../outside",
        },
        "kintone-source-password": {"kintone_source_username": "dev"},
        "kintone-snapshot-path": {
            "operation": "kintone-export",
            "kintone_apps": promote.source,
            "kintone_source_app": "<unset>",
            "kintone_snapshot_path": "/etc",
        },
    }
    for name, overrides in cases.items():
        run = run_action(promote.inputs(**overrides), GITHUB_WORKSPACE=str(tmp_path))
        assert run.exit_code == 2, (name, run.stdout)
        [error] = run.error_lines()
        assert name in error, error
    missing = run_action(
        promote.inputs(kintone_source_app="<unset>", kintone_source_snapshot="nowhere"),
        GITHUB_WORKSPACE=str(tmp_path),
    )
    assert missing.exit_code == 2
    assert "kintone-source-snapshot" in missing.error_lines()[0]
    unknown = run_action(promote.inputs(kintone_source_app="999"))
    assert unknown.exit_code == 2
    assert "input 'kintone-source-app': app 999: kintone GAIA_AP01" in unknown.error_lines()[0]
    assert promote.sandbox.requests == [] or promote.sandbox.writes() == []


def test_a_write_whose_answer_is_lost_is_settled_by_the_revision(promote: PromoteWorld):
    target = promote.targets[0]
    promote.sandbox.add_fault(
        Fault(match=r"PUT /k/v1/preview/app/views\.json", drop_response=True, times=1)
    )

    run = run_action(promote.inputs(kintone_apps=target))

    assert run.exit_code == 0, run.stdout
    views_puts = [
        r for r in promote.sandbox.requests if r.path.endswith("/views.json") and r.is_write
    ]
    assert len(views_puts) == 1, "it took effect, so it was not sent again"
    assert "checking whether it took effect" in run.stdout
    assert portable(promote.sandbox, target) == portable(promote.sandbox, promote.source)


def test_app_permissions_only_when_asked(promote: PromoteWorld, tmp_path: Path):
    def export(**overrides: str):
        return run_action(
            promote.inputs(
                operation="kintone-export",
                kintone_apps=promote.source,
                kintone_source_app="<unset>",
                kintone_snapshot_path="snap",
                **overrides,
            ),
            GITHUB_WORKSPACE=str(tmp_path),
        )

    planned = export(kintone_app_permissions="true", mode="plan")
    assert planned.outputs["status"] == "planned"
    assert not (tmp_path / "snap").exists(), "mode plan writes nothing"
    assert "acl.json" in json.loads(planned.outputs["result"])["changed"]

    assert export(kintone_app_permissions="true").exit_code == 0
    rights = json.loads((tmp_path / "snap/acl.json").read_text())["rights"]
    assert rights[0]["entity"] == {"code": None, "type": "CREATOR"}

    without = export()
    assert json.loads(without.outputs["result"])["changed"] == ["acl.json"]
    assert not (tmp_path / "snap/acl.json").exists(), "a stale section is removed"

    custom = [{"entity": {"type": "USER", "code": "deployer"}, "appEditable": True}]
    (tmp_path / "snap/acl.json").write_text(json.dumps({"rights": custom}))
    run = run_action(
        promote.inputs(
            kintone_source_app="<unset>",
            kintone_source_snapshot="snap",
            kintone_app_permissions="true",
        ),
        GITHUB_WORKSPACE=str(tmp_path),
    )
    assert run.exit_code == 0, run.stdout
    acl_puts = [r for r in promote.sandbox.writes() if r.path.endswith("/acl.json")]
    assert [r.body["rights"] for r in acl_puts] == [custom, custom]
    for app in promote.targets:
        assert promote.sandbox.kintone.app(app).live["acl"] == {"rights": custom}


def test_an_app_changed_by_someone_else_mid_promotion_is_left_to_them(promote: PromoteWorld):
    """Its next write is refused (GAIA_CO03); the other app's writes are reverted, but not the
    changed app's: a revert pinned to our revision would be refused, and the change is not ours
    to discard."""
    sandbox = promote.sandbox
    sandbox.add_fault(Fault(match=r"PUT /k/v1/preview/app/views\.json", delay_seconds=1, times=1))
    before = {app: portable(sandbox, app) for app in promote.targets}
    runs = []
    thread = threading.Thread(target=lambda: runs.append(run_action(promote.inputs())))
    thread.start()
    deadline = time.monotonic() + 20
    while not (held := [r for r in sandbox.requests_in_flight() if r.path.endswith("views.json")]):
        assert time.monotonic() < deadline, "the views were never written"
        time.sleep(0.01)
    changed = str(held[0].body["app"])
    sandbox.kintone.change_preview(changed, description="an admin's edit")
    thread.join()
    [run] = runs

    assert run.exit_code == 1
    [other] = [app for app in promote.targets if app != changed]
    [revert] = promote.deploy_posts()
    assert revert.body["revert"] is True
    assert [a["app"] for a in revert.body["apps"]] == [other]
    assert f"app {changed}: someone else changed its preview meanwhile" in plain(run.summary)
    assert "GAIA_CO03" in plain(run.summary)
    assert sandbox.kintone.app(changed).preview["settings"]["description"] == "an admin's edit"
    assert portable(sandbox, other, "preview") == before[other]
    for app in promote.targets:
        assert portable(sandbox, app) == before[app], "production unchanged"


def test_a_plan_with_an_app_id_that_is_not_a_number_is_refused(promote: PromoteWorld):
    """Plan fields are validated like the inputs they came from (issue 11, point 1)."""
    planned = run_action(promote.inputs(mode="plan"))
    envelope = json.loads(planned.outputs["plan"])
    envelope["plan"]["targets"][0]["app"] = "7; DROP"
    parsed = plans.PlanEnvelope.model_validate(envelope)
    parsed.signature = plans.sign(parsed, plans.derive_key("kintone-password", "s3cret pass"))
    promote.sandbox.clear_requests()
    run = run_action(promote.inputs(mode="apply", plan=parsed.model_dump_json()))
    assert run.exit_code == 2, run.stdout
    assert "targets.0.app: expected a kintone app id" in run.error_lines()[0]
    assert promote.sandbox.requests == []
