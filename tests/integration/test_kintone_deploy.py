"""kintone-deploy end to end: the entrypoint run as the runner runs it, against the sandbox."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from certificates import Certificates
from kintone_world import (
    KintoneWorld,
    kintone_world_fixture,  # noqa: F401 - the `kintone` fixture
    result_apps,
)
from promote_sandbox import Fault, Sandbox, TlsConfig
from runner import ACTION, run_action


def test_deploys_three_apps_pinned_and_verifies_production(kintone: KintoneWorld):
    run = run_action(kintone.inputs())

    assert run.exit_code == 0, run.stdout + run.stderr
    written = {"status", "result", "revisions", "environment-url"}
    assert set(run.outputs) == written
    assert written <= set(ACTION["outputs"])
    assert run.outputs["status"] == "succeeded"
    assert json.loads(run.outputs["revisions"]) == dict.fromkeys(kintone.apps, 6)
    for app in kintone.apps:
        assert kintone.sandbox.kintone.app(app).live_revision == 6
        assert result_apps(run)[app] | {"name": None} == {
            "app": app,
            "name": None,
            "status": "succeeded",
            "deployed_revision": 6,
            "live_revision_before": 5,
            "live_revision_after": 6,
            "live_revision_verified": result_apps(run)[app]["live_revision_verified"],
        }
    [post] = kintone.deploy_posts()
    assert post.body == {
        "apps": [{"app": app, "revision": 6} for app in kintone.apps],
        "revert": False,
    }
    assert post.headers["X-Cybozu-Authorization"] == "[REDACTED]"
    for poll in kintone.status_polls():
        assert poll.method == "GET"
        assert poll.query.count("apps") == 3, "one request per poll covers every app"
    assert "| App | Name | Live before | Deploying | Live after | Status |" in run.summary
    assert f"{kintone.sandbox.url}/k/{kintone.apps[0]}/" in run.summary
    assert "no API to roll production back" in run.summary


def test_an_app_without_preview_changes_is_left_alone(kintone: KintoneWorld):
    k = kintone.sandbox.kintone
    same = k.add_app(name="Stable", managers=["deployer"], preview_revision=9).id
    run = run_action(kintone.inputs(kintone_apps=f"{kintone.apps[0]},{same}"))
    assert run.exit_code == 0, run.stdout
    assert result_apps(run)[same]["status"] == "unchanged"
    assert kintone.deploy_posts()[0].body["apps"] == [{"app": kintone.apps[0], "revision": 6}]


def test_nothing_to_deploy_sends_nothing(kintone: KintoneWorld):
    k = kintone.sandbox.kintone
    same = k.add_app(name="Stable", managers=["deployer"], preview_revision=9).id
    run = run_action(kintone.inputs(kintone_apps=same))
    assert run.exit_code == 0
    assert run.outputs["status"] == "unchanged"
    assert kintone.sandbox.writes() == []


def test_pinned_revision_that_moved_is_refused_before_any_write(kintone: KintoneWorld):
    app = kintone.apps[0]
    kintone.sandbox.kintone.change_preview(app, name="Edited by someone")
    run = run_action(kintone.inputs(kintone_apps=f"{app}:6"))
    assert run.exit_code == 1
    assert (
        f"app {app}: its preview settings are at revision 7, not the pinned 6"
        in run.error_lines()[0]
    )
    assert kintone.sandbox.writes() == []


def test_a_failing_app_rolls_every_app_back_and_fails_the_step(kintone: KintoneWorld):
    kintone.sandbox.kintone.set_deploy_behaviour(
        processing_seconds=0.4, fail_apps=[kintone.apps[1]]
    )
    run = run_action(kintone.inputs())
    assert run.exit_code == 1
    assert run.outputs["status"] == "failed"
    line = run.error_lines()[0]
    assert f"app {kintone.apps[1]} FAIL" in line
    assert "all 3 app(s) were rolled back" in line
    statuses = {a: r["status"] for a, r in result_apps(run).items()}
    assert statuses == {
        kintone.apps[0]: "rolled back",
        kintone.apps[1]: "failed",
        kintone.apps[2]: "rolled back",
    }
    assert all(kintone.sandbox.kintone.app(a).live_revision == 5 for a in kintone.apps)


def test_revert_discards_preview_changes_and_leaves_production(kintone: KintoneWorld):
    run = run_action(kintone.inputs(kintone_revert="true"))
    assert run.exit_code == 0, run.stdout
    assert kintone.deploy_posts()[0].body["revert"] is True
    for app in kintone.apps:
        snapshot = kintone.sandbox.kintone.app(app)
        assert snapshot.live_revision == 5
        assert snapshot.preview_revision != 6
    assert "revert of preview changes" in run.summary


def test_guest_space_apps_use_the_guest_path(sandbox: Sandbox):
    k = sandbox.kintone
    k.add_user("deployer", "pw")
    app = k.add_app(space_id=7, managers=["deployer"], preview_revision=3, live_revision=2).id
    world = KintoneWorld(sandbox, [app])
    run = run_action(world.inputs(kintone_password="pw", kintone_guest_space_id="7"))
    assert run.exit_code == 0, run.stdout
    assert all(r.path.startswith("/k/guest/7/v1/") for r in sandbox.requests)
    assert f"/k/guest/7/{app}/" in run.summary


def test_guest_app_without_the_space_id_is_a_usage_error(sandbox: Sandbox):
    k = sandbox.kintone
    k.add_user("deployer", "pw")
    app = k.add_app(space_id=7, managers=["deployer"], preview_revision=3, live_revision=2).id
    run = run_action(KintoneWorld(sandbox, [app]).inputs(kintone_password="pw"))
    assert run.exit_code == 2
    assert "input 'kintone-guest-space-id'" in run.error_lines()[0]
    assert "GAIA_IL23" in run.error_lines()[0]


def test_three_hundred_apps_one_request_per_poll(sandbox: Sandbox):
    k = sandbox.kintone
    k.add_user("deployer", "pw")
    apps = [
        k.add_app(managers=["deployer"], preview_revision=2, live_revision=1).id for _ in range(300)
    ]
    k.set_deploy_behaviour(processing_seconds=1.5)
    world = KintoneWorld(sandbox, apps)
    run = run_action(world.inputs(kintone_password="pw", timeout="60s"))
    assert run.exit_code == 0, run.stdout
    assert len(world.deploy_posts()) == 1
    polls = world.status_polls()
    assert polls
    for poll in polls:
        assert poll.method == "POST"
        assert poll.headers["X-HTTP-Method-Override"] == "GET"
        assert len(poll.body["apps"]) == 300
    assert all(k.app(a).live_revision == 2 for a in apps)


# -- authentication -------------------------------------------------------------------------------


def test_api_tokens(kintone: KintoneWorld):
    k = kintone.sandbox.kintone
    tokens = [k.add_api_token(app) for app in kintone.apps]
    run = run_action(
        kintone.inputs(kintone_username="", kintone_password="", kintone_api_token=",".join(tokens))
    )
    assert run.exit_code == 0, run.stdout
    assert kintone.deploy_posts()[0].headers["X-Cybozu-API-Token"] == "[REDACTED]"
    masks = [line for line in run.stdout.splitlines() if line.startswith("::add-mask::")]
    visible = "\n".join(
        line for line in run.everything.splitlines() if not line.startswith("::add-mask::")
    )
    for token in tokens:
        assert f"::add-mask::{token}" in masks, "each token is masked on its own"
        assert token not in visible


def test_oauth_token(kintone: KintoneWorld):
    token = kintone.sandbox.kintone.add_oauth_token(
        "deployer", ["k:app_settings:read", "k:app_settings:write"]
    )
    run = run_action(
        kintone.inputs(kintone_username="", kintone_password="", kintone_oauth_token=token)
    )
    assert run.exit_code == 0, run.stdout


def test_basic_auth_layer_with_password(kintone: KintoneWorld):
    kintone.sandbox.kintone.require_basic_auth("gate", "keeper")
    run = run_action(kintone.inputs(kintone_basic_auth="gate:keeper"))
    assert run.exit_code == 0, run.stdout
    derived = base64.b64encode(b"gate:keeper").decode()
    assert f"::add-mask::{derived}" in run.stdout
    assert derived not in run.everything.replace(f"::add-mask::{derived}", "")


def test_missing_basic_auth_is_explained(kintone: KintoneWorld):
    kintone.sandbox.kintone.require_basic_auth("gate", "keeper")
    run = run_action(kintone.inputs())
    assert run.exit_code == 1
    assert "kintone-basic-auth" in run.error_lines()[0]


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        (
            {"kintone_username": "", "kintone_password": ""},
            "input 'kintone-api-token': kintone-deploy needs kintone-api-token",
        ),
        ({"kintone_password": ""}, "input 'kintone-password': is required with kintone-username"),
        ({"kintone_api_token": "abc"}, "give one kintone login method, not password and API token"),
        (
            {
                "kintone_username": "",
                "kintone_password": "",
                "kintone_oauth_token": "t",
                "kintone_basic_auth": "a:b",
            },
            "input 'kintone-basic-auth': cannot be combined with kintone-oauth-token",
        ),
        (
            {
                "kintone_username": "",
                "kintone_password": "",
                "kintone_api_token": ",".join(f"t{i}" for i in range(10)),
            },
            "input 'kintone-api-token': at most 9 tokens per request, got 10",
        ),
        (
            {"kintone_username": "", "kintone_password": "", "kintone_api_token": "t1,t2"},
            "3 apps need 3 tokens, got 2",
        ),
        ({"kintone_apps": "1,abc"}, "input 'kintone-apps': 'abc' is not an app id or ID:REVISION"),
        ({"kintone_apps": "1,1:5"}, "input 'kintone-apps': each app may be listed once"),
        (
            {"kintone_apps": ",".join(str(i) for i in range(1, 302))},
            "input 'kintone-apps': expected at most 300 apps, got 301",
        ),
        ({"kintone_apps": ""}, "input 'kintone-apps': is required"),
        (
            {"kintone_base_url": "http://example.cybozu.com"},
            "input 'kintone-base-url': expected an https:// URL",
        ),
        (
            {"kintone_base_url": "https://example.cybozu.com/k/12/"},
            "input 'kintone-base-url': expected the domain only",
        ),
        (
            {"kintone_guest_space_id": "x"},
            "input 'kintone-guest-space-id': expected a guest space id",
        ),
        ({"kintone_revert": "maybe"}, "input 'kintone-revert': expected true or false"),
        ({"kintone_basic_auth": "nocolon"}, "input 'kintone-basic-auth': expected user:password"),
        (
            {"kintone_client_cert": "%%%not-base64"},
            "input 'kintone-client-cert': expected PEM text",
        ),
        (
            {"kintone_client_cert_password": "x"},
            "input 'kintone-client-cert-password': is only used with kintone-client-cert",
        ),
        ({"kintone_apps": "999"}, "input 'kintone-apps': app 999: kintone GAIA_AP01"),
    ],
)
def test_usage_errors_exit_2_without_writes(kintone: KintoneWorld, inputs, message):
    run = run_action(kintone.inputs(**inputs))
    assert run.exit_code == 2, run.stdout + run.stderr
    assert message in run.error_lines()[0]
    assert kintone.sandbox.writes() == []


@pytest.mark.parametrize(
    ("setup", "code"),
    [
        ("wrong-password", "CB_WA01"),
        ("not-a-manager", "CB_NO02"),
        ("token-for-another-app", "GAIA_NO01"),
        ("unknown-token", "GAIA_IA02"),
    ],
)
def test_remote_errors_name_kintones_code(kintone: KintoneWorld, setup, code):
    k = kintone.sandbox.kintone
    inputs: dict[str, str] = {}
    if setup == "wrong-password":
        inputs = {"kintone_password": "nope"}
    elif setup == "not-a-manager":
        k.add_user("viewer", "pw")
        inputs = {"kintone_username": "viewer", "kintone_password": "pw"}
    elif setup == "token-for-another-app":
        other = k.add_app(name="Other").id
        inputs = {
            "kintone_username": "",
            "kintone_password": "",
            "kintone_apps": kintone.apps[0],
            "kintone_api_token": k.add_api_token(other),
        }
    else:
        inputs = {
            "kintone_username": "",
            "kintone_password": "",
            "kintone_apps": kintone.apps[0],
            "kintone_api_token": "Zz" * 20,
        }
    run = run_action(kintone.inputs(**inputs))
    assert run.exit_code == 1, run.stdout
    assert code in run.error_lines()[0]
    assert kintone.sandbox.writes() == []


# -- faults, retries, cancellation, secrets ----------------------------------------------------------


def test_concurrency_limit_and_database_lock_are_retried(kintone: KintoneWorld):
    kintone.sandbox.add_fault(
        Fault(
            match=r"^GET /k/v1/preview/app/settings.json$",
            status=429,
            error_id="GAIA_TO04",
            message="Too many requests",
            times=2,
        )
    )
    kintone.sandbox.add_fault(
        Fault(
            match=r"^POST /k/v1/preview/app/deploy.json$",
            status=400,
            error_id="GAIA_DA02",
            message="The database could not be locked. Please wait a while and try again.",
            times=1,
        )
    )
    run = run_action(kintone.inputs())
    assert run.exit_code == 0, run.stdout
    assert len([r for r in kintone.deploy_posts() if r.status == 200]) == 1
    assert all(kintone.sandbox.kintone.app(a).live_revision == 6 for a in kintone.apps)


def test_lost_deploy_response_is_checked_not_resent(kintone: KintoneWorld):
    kintone.sandbox.add_fault(
        Fault(match=r"^POST /k/v1/preview/app/deploy.json$", drop_response=True, times=1)
    )
    run = run_action(kintone.inputs())
    assert run.exit_code == 0, run.stdout + run.stderr
    assert len(kintone.deploy_posts()) == 1
    assert len(kintone.sandbox.kintone.deploys()) == 1
    assert "checking whether it took effect" in run.stdout
    assert "it had taken effect" in run.stdout


def test_five_hundreds_on_status_polls_are_retried(kintone: KintoneWorld):
    kintone.sandbox.add_fault(
        Fault(match=r"deploy.json", status=503, message="Service Unavailable", every=2)
    )
    run = run_action(kintone.inputs())
    assert run.exit_code == 0, run.stdout


def test_timeout(kintone: KintoneWorld):
    kintone.sandbox.kintone.set_deploy_behaviour(processing_seconds=60)
    run = run_action(kintone.inputs(timeout="2s"))
    assert run.exit_code == 1
    assert run.outputs["status"] == "timed-out"
    assert "timed out after 2.0s waiting for the kintone deploy of 3 app(s)" in run.error_lines()[0]


def test_dry_run_reads_and_writes_nothing(kintone: KintoneWorld):
    run = run_action(kintone.inputs(dry_run="true"))
    assert run.exit_code == 0
    assert run.outputs["status"] == "dry-run"
    assert kintone.sandbox.writes() == []
    assert "Dry run" in run.summary
    assert json.loads(run.outputs["revisions"]) == dict.fromkeys(kintone.apps, 6)


def test_no_credential_leaks_anywhere(kintone: KintoneWorld):
    run = run_action(kintone.inputs(), RUNNER_DEBUG="1")
    assert run.exit_code == 0
    derived = base64.b64encode(b"deployer:s3cret pass").decode()
    visible = "\n".join(
        line for line in run.everything.splitlines() if not line.startswith("::add-mask::")
    )
    for secret in ("s3cret pass", derived):
        assert secret not in visible
        assert secret not in kintone.sandbox.request_log_text()
    assert f"::add-mask::{derived}" in run.stdout


# -- secure access: TLS client certificates -------------------------------------------------------


@pytest.fixture
def secure(
    certificates: Certificates, tmp_path: Path
) -> Iterator[tuple[KintoneWorld, dict[str, str]]]:
    """A kintone domain that requires a client certificate; the runner trusts its test CA."""
    tls = TlsConfig(
        certificates.server_cert, certificates.server_key, client_ca_pem=certificates.ca
    )
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(certificates.ca)
    with Sandbox(tls=tls) as sandbox:
        k = sandbox.kintone
        k.add_user("deployer", "s3cret pass")
        app = k.add_app(managers=["deployer"], preview_revision=6, live_revision=5).id
        yield KintoneWorld(sandbox, [app]), {"SSL_CERT_FILE": str(ca_file)}


def pem_of(certificates: Certificates) -> str:
    key, cert, _ = pkcs12.load_key_and_certificates(
        certificates.client_pfx, certificates.pfx_password.encode()
    )
    assert key is not None
    assert cert is not None
    pem = cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return pem.decode()


def test_client_certificate_as_base64_pfx(secure, certificates: Certificates):
    world, env = secure
    pfx = base64.b64encode(certificates.client_pfx).decode()
    run = run_action(
        world.inputs(
            kintone_client_cert=pfx, kintone_client_cert_password=certificates.pfx_password
        ),
        **env,
    )
    assert run.exit_code == 0, run.stdout + run.stderr
    assert world.sandbox.kintone.app(world.apps[0]).live_revision == 6
    assert pfx not in run.everything.replace(f"::add-mask::{pfx}", "")


def test_client_certificate_as_pem_file(secure, certificates: Certificates, tmp_path: Path):
    world, env = secure
    path = tmp_path / "client.pem"
    path.write_text(pem_of(certificates))
    run = run_action(world.inputs(kintone_client_cert=str(path)), **env)
    assert run.exit_code == 0, run.stdout + run.stderr


def test_without_a_client_certificate_the_domain_is_unreachable(secure):
    world, env = secure
    run = run_action(world.inputs(timeout="5s"), **env)
    assert run.exit_code == 1
    assert "kintone" in run.error_lines()[0]
    assert world.sandbox.requests == []


def test_wrong_certificate_password_is_a_usage_error(secure, certificates: Certificates):
    world, env = secure
    pfx = base64.b64encode(certificates.client_pfx).decode()
    run = run_action(
        world.inputs(kintone_client_cert=pfx, kintone_client_cert_password="wrong"), **env
    )
    assert run.exit_code == 2
    assert (
        "input 'kintone-client-cert-password': the .pfx could not be opened" in run.error_lines()[0]
    )


def test_credentials_from_kintone_environment_variables_are_masked(kintone: KintoneWorld):
    """A person running the CLI can use cli-kintone's variables; they are secrets too."""
    run = run_action(kintone.inputs(kintone_password=""), KINTONE_PASSWORD="s3cret pass")
    assert run.exit_code == 0, run.stdout
    assert "::add-mask::s3cret pass" in run.stdout.splitlines()[:6]


def production_reads_after_the_deploy(world: KintoneWorld) -> list:
    [post] = world.deploy_posts()
    after = world.sandbox.requests[world.sandbox.requests.index(post) :]
    return [r for r in after if r.path == "/k/v1/app/settings.json"]


def test_a_deploy_seen_processing_then_done_is_verified_with_one_production_read(
    kintone: KintoneWorld,
):
    """kintone deploys all-or-nothing: once our deploy showed PROCESSING and every app then
    reports SUCCESS, one app at the deployed revision proves the others (300 apps used to cost
    300 reads after the deploy)."""
    kintone.sandbox.kintone.set_deploy_behaviour(processing_seconds=2.0)
    run = run_action(kintone.inputs())
    assert run.exit_code == 0, run.stdout + run.stderr
    assert [r.query for r in production_reads_after_the_deploy(kintone)] == [
        f"app={kintone.apps[0]}"
    ]
    assert json.loads(run.outputs["revisions"]) == dict.fromkeys(kintone.apps, 6)
    apps = result_apps(run)
    assert {a["live_revision_after"] for a in apps.values()} == {6}
    assert [apps[a]["live_revision_verified"] for a in kintone.apps] == [True, False, False]
    rows = [line for line in run.summary.splitlines() if "/k/" in line and "| 5 | 6 |" in line]
    assert [row.count("6 (inferred)") for row in rows] == [0, 1, 1]
    assert all(kintone.sandbox.kintone.app(a).live_revision == 6 for a in kintone.apps)


def test_success_reported_without_any_deploy_is_not_believed(kintone: KintoneWorld):
    """The deploy request is answered but never processed: every app reports SUCCESS (kintone's
    answer for an app with no deploy), which must not pass as deployed."""
    kintone.sandbox.add_fault(
        Fault(match=r"^POST /k/v1/preview/app/deploy.json$", status=200, message="")
    )
    run = run_action(kintone.inputs(timeout="3s"))
    assert run.exit_code == 1
    assert run.outputs["status"] == "timed-out"
    assert json.loads(run.outputs["revisions"]) == dict.fromkeys(kintone.apps, 5)
    assert {r.query for r in production_reads_after_the_deploy(kintone)} == {
        f"app={app}" for app in kintone.apps
    }, "every app's production revision was read, since no deploy was seen running"
