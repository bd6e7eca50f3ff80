"""The official kintone REST API client (@kintone/rest-api-client) against the fake kintone.

A client we did not write is the proof that the fake is faithful on the wire: it must deploy,
poll and read settings as it would against a real domain, with each way of logging in. The
client is pinned and installed by ``make`` (a prerequisite of ``make unit``); a missing client
fails the test, since skipping would hide the very check this file exists for.

Each test runs one small node script (well under a second) that prints one JSON line. The
client takes plain ``http:`` only for the host ``localhost``, so that is the name it is given.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from promote_sandbox import Sandbox, TlsConfig

REPO = Path(__file__).resolve().parents[2]
NODE_MODULES = REPO / ".tools/kintone-client/node_modules"
TIMEOUT_SECONDS = 60
DEPLOY = "/k/v1/preview/app/deploy.json"

SCRIPT = """
const { KintoneRestAPIClient, KintoneRestAPIError } = require("@kintone/rest-api-client");

const config = JSON.parse(process.env.SANDBOX_CLIENT);
const connect = (options) => new KintoneRestAPIClient({ baseUrl: config.baseUrl, ...options });
const client = connect(config.options);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Poll until no app is PROCESSING, then return the statuses (the client's own waiters never
// stop on FAIL or CANCEL).
async function deployed(apps) {
  for (let attempt = 0; attempt < 250; attempt++) {
    const { apps: statuses } = await client.app.getDeployStatus({ apps });
    if (statuses.every((s) => s.status !== "PROCESSING")) return statuses;
    await sleep(20);
  }
  throw new Error(`apps ${apps} still deploying`);
}

function described(error) {
  const kintone = error instanceof KintoneRestAPIError;
  return { kintone, code: error.code, status: error.status, id: error.id, message: error.message };
}

async function main() {
%s
}

main().then(
  (result) => console.log(JSON.stringify(result)),
  (error) => {
    console.error(error);
    process.exitCode = 1;
  },
);
"""


def _run(tmp_path: Path, base_url: str, options: dict[str, Any], body: str, **env: str) -> Any:
    """Run ``body`` as the script's ``main`` with a client built from ``options``; nothing from
    this machine's environment but PATH reaches it (no proxy variables, for one)."""
    if not (NODE_MODULES / "@kintone/rest-api-client").is_dir():
        pytest.fail(
            "the official kintone client is not installed: run `make unit` (or `make test`)"
        )
    script = tmp_path / "client.js"
    script.write_text(SCRIPT % body)
    result = subprocess.run(
        ["node", str(script)],
        env={
            "PATH": os.environ["PATH"],
            "NODE_PATH": str(NODE_MODULES),
            "SANDBOX_CLIENT": json.dumps({"baseUrl": base_url, "options": options}),
            **env,
        },
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def _local(sandbox: Sandbox) -> str:
    return sandbox.url.replace("127.0.0.1", "localhost")


def _id(result: dict[str, Any]) -> dict[str, Any]:
    """The parts of an error that differ every time: a random id, and the text around it."""
    assert len(result["id"]) == 20
    return {"id": result["id"], "message": result["message"]}


DEPLOY_AND_WAIT = """
  const apps = config.apps;
  const revisions = [];
  for (const app of apps) {
    revisions.push((await client.app.getAppSettings({ app, preview: true })).revision);
  }
  await client.app.deployApp({ apps: apps.map((app, i) => ({ app, revision: revisions[i] })) });
  const statuses = await deployed(apps);
  const live = [];
  for (const app of apps) live.push(await client.app.getAppSettings({ app }));
  return { revisions, statuses, live: live.map((s) => [s.name, s.revision]) };
"""


def test_api_token(sandbox: Sandbox, kworld, tmp_path: Path) -> None:
    sandbox.kintone.change_preview(1, name="Orders v2")

    result = _run(
        tmp_path,
        _local(sandbox),
        {"auth": {"apiToken": kworld.tokens[1]}},
        DEPLOY_AND_WAIT.replace("config.apps", "[1]"),
    )

    assert result == {
        "revisions": ["6"],
        "statuses": [{"app": "1", "status": "SUCCESS"}],
        "live": [["Orders v2", "6"]],
    }
    requests = sandbox.requests
    assert [(r.method, r.path, r.status) for r in requests[:2]] == [
        ("GET", "/k/v1/preview/app/settings.json", 200),
        ("POST", DEPLOY, 200),
    ]
    assert requests[0].query == "app=1"
    assert requests[1].body == {"apps": [{"app": 1, "revision": "6"}]}
    polls = requests[2:-1]
    assert {(r.method, r.path, r.query) for r in polls} == {("GET", DEPLOY, "apps%5B0%5D=1")}
    assert (requests[-1].path, requests[-1].query) == ("/k/v1/app/settings.json", "app=1")
    assert {r.headers["X-Cybozu-API-Token"] for r in requests} == {"[REDACTED]"}
    assert "@kintone/rest-api-client@6.2.1" in requests[0].headers["User-Agent"]
    assert sandbox.kintone.app(1).live_revision == 6


def test_password_behind_a_basic_layer(sandbox: Sandbox, kworld, tmp_path: Path) -> None:
    k = sandbox.kintone
    k.require_basic_auth("gate", "gate-pass-1")
    k.change_preview(1, fields={"Due": {"type": "DATE", "code": "Due", "label": "Due"}})
    options = {
        "auth": {"username": "admin", "password": "admin-pass-1"},
        "basicAuth": {"username": "gate", "password": "gate-pass-1"},
    }

    result = _run(
        tmp_path, _local(sandbox), options, DEPLOY_AND_WAIT.replace("config.apps", "[1, 2]")
    )

    assert result["statuses"] == [
        {"app": "1", "status": "SUCCESS"},
        {"app": "2", "status": "SUCCESS"},
    ]
    assert result["live"] == [["Orders", "6"], ["Customers", "8"]]
    assert sandbox.kintone.app(1).live == sandbox.kintone.app(1).preview
    for request in sandbox.requests:
        assert request.headers["Authorization"] == "[REDACTED]"
        assert request.headers["X-Cybozu-Authorization"] == "[REDACTED]"
    assert "gate-pass-1" not in sandbox.request_log_text()


def test_oauth_token(sandbox: Sandbox, kworld, tmp_path: Path) -> None:
    scopes = ["k:app_settings:read", "k:app_settings:write"]
    token = sandbox.kintone.add_oauth_token("admin", scopes)

    result = _run(
        tmp_path,
        _local(sandbox),
        {"auth": {"oAuthToken": token}},
        DEPLOY_AND_WAIT.replace("config.apps", "[2]"),
    )

    assert result["live"] == [["Customers", "8"]]
    assert {r.headers["Authorization"] for r in sandbox.requests} == {"[REDACTED]"}


def test_guest_space(sandbox: Sandbox, kworld, tmp_path: Path) -> None:
    sandbox.kintone.change_preview(3, theme="GREEN")
    options = {"auth": {"apiToken": kworld.tokens[3]}, "guestSpaceId": 7}

    result = _run(tmp_path, _local(sandbox), options, DEPLOY_AND_WAIT.replace("config.apps", "[3]"))

    assert result["statuses"] == [{"app": "3", "status": "SUCCESS"}]
    assert result["live"] == [["Guest board", "4"]]
    assert {r.path.split("/v1/")[0] for r in sandbox.requests} == {"/k/guest/7"}
    assert sandbox.kintone.app(3).live_revision == 4


def test_a_revision_mismatch_is_a_kintone_rest_api_error(
    sandbox: Sandbox, kworld, tmp_path: Path
) -> None:
    body = """
  try {
    await client.app.deployApp({ apps: [{ app: 1, revision: 5 }, { app: 2, revision: 7 }] });
    return { deployed: true };
  } catch (error) {
    return described(error);
  }
"""
    result = _run(tmp_path, _local(sandbox), {"auth": {"apiToken": kworld.tokens[1]}}, body)
    assert result == {"kintone": True, "code": "GAIA_NO01", "status": 403, **_id(result)}, (
        "app 1's token does not open app 2"
    )

    tokens = f"{kworld.tokens[1]},{kworld.tokens[2]}"
    result = _run(tmp_path, _local(sandbox), {"auth": {"apiToken": tokens}}, body)

    assert result == {"kintone": True, "code": "GAIA_CO03", "status": 409, **_id(result)}
    assert result["message"] == (
        f"[409] [GAIA_CO03] The revision is not the latest. Someone may update the app "
        f"settings (ID: 2). ({result['id']})"
    )
    assert sandbox.kintone.deploys() == []


def test_300_apps_switch_status_to_a_method_override(
    sandbox: Sandbox, kworld, tmp_path: Path
) -> None:
    """300 ids make a status URL longer than the client's 4096-character limit: it sends them
    in a POST body with ``X-HTTP-Method-Override: GET`` instead."""
    k = sandbox.kintone
    for _ in range(298):
        k.add_app(managers=["admin"])
    ids = [app for app in range(1, 302) if app != 3]
    body = """
  await client.app.deployApp({ apps: config.ids.map((app) => ({ app })) });
  const statuses = await deployed(config.ids);
  return statuses.map((s) => s.status);
""".replace("config.ids", json.dumps(ids))
    options = {"auth": {"username": "admin", "password": "admin-pass-1"}}

    result = _run(tmp_path, _local(sandbox), options, body)

    assert result == ["SUCCESS"] * 300
    deploy, *polls = sandbox.requests
    assert (deploy.method, deploy.path, len(deploy.body["apps"])) == ("POST", DEPLOY, 300)
    assert polls
    for poll in polls:
        assert (poll.method, poll.path, poll.query, poll.status) == ("POST", DEPLOY, "", 200)
        assert poll.headers["X-HTTP-Method-Override"] == "GET"
        assert poll.body == {"apps": ids}
        assert not poll.is_write
    assert [r for r in sandbox.writes() if r.path == DEPLOY] == [deploy]
    assert {k.app(app).live_revision for app in ids} == {5, 8}


def test_a_client_certificate_opens_secure_access(kworld, certificates, tmp_path: Path) -> None:
    """kintone hands out client certificates as password-protected PKCS#12; the client takes
    one as ``clientCertAuth``, and without it the handshake fails before any HTTP."""
    tls = TlsConfig(certificates.server_cert, certificates.server_key, certificates.ca)
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(certificates.ca)
    body = """
  const anonymous = connect({ auth: config.options.auth });
  let refused;
  try {
    await anonymous.app.getDeployStatus({ apps: [1] });
  } catch (error) {
    refused = { kintone: error instanceof KintoneRestAPIError, code: error.code };
  }
  const { pfx, password } = config.options.clientCertAuth;
  const secure = connect({
    auth: config.options.auth,
    clientCertAuth: { pfx: Buffer.from(pfx, "base64"), password },
  });
  const { apps } = await secure.app.getDeployStatus({ apps: [1] });
  return { refused, apps };
"""
    with Sandbox(tls=tls) as sb:
        sb.kintone.add_user("admin", "admin-pass-1")
        sb.kintone.add_app(managers=["admin"])
        options = {
            "auth": {"username": "admin", "password": "admin-pass-1"},
            "clientCertAuth": {
                "pfx": base64.b64encode(certificates.client_pfx).decode(),
                "password": certificates.pfx_password,
            },
        }
        result = _run(tmp_path, _local(sb), options, body, NODE_EXTRA_CA_CERTS=str(ca_file))
        requests = sb.requests

    assert result["apps"] == [{"app": "1", "status": "SUCCESS"}]
    assert result["refused"] == {
        "kintone": False,
        "code": "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED",
    }
    assert [(r.method, r.path, r.status) for r in requests] == [("GET", DEPLOY, 200)]


SETTINGS_ROUND_TRIP = """
  const app = 1;
  let { revision } = await client.app.getAppSettings({ app, preview: true });
  const revisions = [revision];
  const step = async (call) => {
    ({ revision } = await call);
    revisions.push(revision);
  };
  await step(client.app.addFormFields({ app, revision, properties: {
    Amount: { type: "NUMBER", code: "Amount", label: "Amount" },
    Scratch: { type: "SINGLE_LINE_TEXT", code: "Scratch", label: "Scratch" },
  } }));
  await step(client.app.updateFormFields({ app, revision, properties: {
    Title: { type: "SINGLE_LINE_TEXT", label: "Order title" },
  } }));
  await step(client.app.deleteFormFields({ app, revision, fields: ["Scratch"] }));
  await step(client.app.updateFormLayout({ app, revision, layout: [
    { type: "ROW", fields: [{ type: "SINGLE_LINE_TEXT", code: "Title" }, { type: "NUMBER", code: "Amount" }] },
  ] }));
  const views = await client.app.updateViews({ app, revision, views: {
    "Big orders": { type: "LIST", name: "Big orders", index: 0, fields: ["Title", "Amount"],
                    filterCond: "Amount > 1000", sort: "Amount desc" },
  } });
  revision = views.revision;
  revisions.push(revision);
  await step(client.app.updateProcessManagement({ app, revision, enable: true }));
  const { fileKey } = await client.file.uploadFile({
    file: { name: "orders.js", data: "console.log('orders');\\n" },
  });
  await step(client.app.updateAppCustomize({ app, revision, scope: "ADMIN",
    desktop: { js: [{ type: "FILE", file: { fileKey } }], css: [] } }));
  await step(client.app.updateAppAcl({ app, revision, rights: [
    { entity: { type: "USER", code: "admin" }, appEditable: true, recordViewable: true },
  ] }));
  let stale;
  try {
    await client.app.updateFormLayout({ app, revision: revisions[0], layout: [] });
  } catch (error) {
    stale = described(error);
  }
  await client.app.deployApp({ apps: [{ app, revision }] });
  const statuses = await deployed([app]);
  const fields = await client.app.getFormFields({ app });
  const customize = await client.app.getAppCustomize({ app });
  const file = await client.file.downloadFile({ fileKey: customize.desktop.js[0].file.fileKey });
  return {
    revisions, stale, statuses,
    viewIds: views.views,
    fields: Object.keys(fields.properties).sort(),
    title: fields.properties.Title.label,
    layout: (await client.app.getFormLayout({ app })).layout,
    views: Object.keys((await client.app.getViews({ app })).views),
    process: (await client.app.getProcessManagement({ app })).enable,
    customize,
    file: Buffer.from(file).toString(),
    acl: (await client.app.getAppAcl({ app })).rights,
  };
"""


def test_settings_writes_uploads_and_deploy(sandbox: Sandbox, kworld, tmp_path: Path) -> None:
    """What kintone-promote writes, written by the official client: every settings API with
    its revision, a file upload, a deploy, and the production settings read back."""
    options = {"auth": {"username": "admin", "password": "admin-pass-1"}}

    result = _run(tmp_path, _local(sandbox), options, SETTINGS_ROUND_TRIP)

    assert result["revisions"] == [str(n) for n in range(5, 14)]
    assert result["stale"]["code"] == "GAIA_CO03"
    assert result["stale"]["status"] == 409
    assert result["statuses"] == [{"app": "1", "status": "SUCCESS"}]
    assert result["fields"] == ["Amount", "Record_number", "Title"]
    assert result["title"] == "Order title"
    assert [f["code"] for f in result["layout"][0]["fields"]] == ["Title", "Amount"]
    assert result["views"] == ["Big orders"]
    assert list(result["viewIds"]) == ["Big orders"]
    assert result["process"] is True
    [js] = result["customize"]["desktop"]["js"]
    assert js["type"] == "FILE"
    assert {k: js["file"][k] for k in ("name", "size")} == {"name": "orders.js", "size": "23"}
    assert result["customize"]["scope"] == "ADMIN"
    assert result["file"] == "console.log('orders');\n"
    assert result["acl"][0]["entity"] == {"type": "USER", "code": "admin"}
    app = sandbox.kintone.app(1)
    assert app.live == app.preview
    assert app.live_revision == 13
    writes = [(r.method, r.path) for r in sandbox.writes()]
    assert writes[:4] == [
        ("POST", "/k/v1/preview/app/form/fields.json"),
        ("PUT", "/k/v1/preview/app/form/fields.json"),
        ("DELETE", "/k/v1/preview/app/form/fields.json"),
        ("PUT", "/k/v1/preview/app/form/layout.json"),
    ]
    [delete] = [r for r in sandbox.requests if r.method == "DELETE"]
    assert "fields%5B0%5D=Scratch" in delete.query, "the client sends a DELETE's fields as a query"
    [upload] = [r for r in sandbox.requests if r.path == "/k/v1/file.json" and r.method == "POST"]
    assert upload.headers["Content-Type"].startswith("multipart/form-data; boundary=")
