"""The official Heroku CLI's ``pipelines:promote``, and the commands users run around a
promotion, against the sandbox.

A client we did not write is the proof that the fake is faithful on the wire: the CLI must find
the pipeline, promote and report as it would against api.heroku.com (API_NOTES 1.8). The CLI is
pinned and installed by ``make`` (it is a prerequisite of ``make unit``); a missing CLI fails the
test, since skipping would hide the very check this file exists for.

The CLI starts slowly (seconds), so each test runs it once.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from promote_sandbox import LoggedRequest, Sandbox, full_demo_fixture

REPO = Path(__file__).resolve().parents[2]
CLI = REPO / ".tools/heroku-cli/node_modules/.bin/heroku"
TIMEOUT_SECONDS = 120
SHOP = ("shop-dev", "shop-staging", "shop-prod-eu", "shop-prod-us")
V3 = "application/vnd.heroku+json; version=3"


@dataclass(frozen=True)
class Shop:
    sandbox: Sandbox
    token: str
    pipeline_id: str
    slug: str
    ids: dict[str, str]

    def run(self, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return run_cli(self.sandbox, self.token, tmp_path, *args)


def run_cli(
    sandbox: Sandbox, token: str, tmp_path: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    """Run the CLI with nothing from this machine's environment but PATH.

    HOME and the working directory are fresh: the CLI writes a git credential helper into
    ``~/.gitconfig``, caches under ``~/.cache``, and reads ``git remote -v`` where it runs.
    The host must be ``http://127.0.0.1:PORT`` (or localhost): since @heroku-cli/command
    12.1.0 any other HEROKU_HOST is silently replaced by api.heroku.com.
    """
    if not CLI.exists():
        pytest.fail("the official Heroku CLI is not installed: run `make unit` (or `make test`)")
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "HEROKU_HOST": sandbox.url,
        "HEROKU_API_KEY": token,
        # Off: telemetry and Sentry (hooks init/prerun/postrun/finally), the npm version
        # check (plugin-warn-if-update-available) and the background `heroku update
        # --autoupdate` that @oclif/plugin-update spawns on every start.
        "DISABLE_TELEMETRY": "true",
        "HEROKU_SKIP_NEW_VERSION_CHECK": "true",
        "HEROKU_DISABLE_AUTOUPDATE": "true",
        # Delinquency checks go to particleboard.heroku.com; any would land in the log here.
        "HEROKU_PARTICLEBOARD_URL": sandbox.url,
        "NO_COLOR": "1",
    }
    return subprocess.run(
        [str(CLI), *args],
        env=env,
        cwd=work,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )


@pytest.fixture
def shop(sandbox: Sandbox) -> Shop:
    """development -> staging -> two production apps; staging runs v2 of its code."""
    h = sandbox.heroku
    token = h.add_user("release-manager@example.com")
    for app in SHOP:
        h.add_app(app, owner_token=token)
    old = h.add_slug("shop-staging", commit="1" * 40, commit_description="Initial import")
    slug = h.add_slug("shop-staging", commit="abcdef1234" * 4, commit_description="Checkout")
    for release_slug in (old, slug):
        h.add_release("shop-staging", slug_id=release_slug)
    for app in ("shop-prod-eu", "shop-prod-us"):
        h.add_release(app, slug_id=old)
    pipeline = h.add_pipeline("shop", owner_token=token)
    for app, stage in zip(
        SHOP, ("development", "staging", "production", "production"), strict=True
    ):
        h.couple(app, pipeline.id, stage)
    h.set_promotion_behaviour(pending_seconds=0.3)
    return Shop(sandbox, token, pipeline.id, slug, {app: h.app(app).id for app in SHOP})


def _promotion_prelude(shop: Shop, targets: list[str]) -> list[tuple[str, str, str, object]]:
    """What the CLI sends before polling: coupling by app, the pipeline's couplings, the apps
    behind them, then the promotion itself (never with ``source.release``)."""
    prelude: list[tuple[str, str, str, object]] = [
        ("GET", "/apps/shop-staging/pipeline-couplings", V3, None),
        ("GET", f"/pipelines/{shop.pipeline_id}/pipeline-couplings", f"{V3}.sdk", None),
        ("POST", "/filters/apps", f"{V3}.filters", {"in": {"id": list(shop.ids.values())}}),
        (
            "POST",
            "/pipeline-promotions",
            V3,
            {
                "pipeline": {"id": shop.pipeline_id},
                "source": {"app": {"id": shop.ids["shop-staging"]}},
                "targets": [{"app": {"id": shop.ids[t]}} for t in targets],
            },
        ),
    ]
    return [(*head, _unordered(body)) for *head, body in prelude]


def _unordered(body: object) -> object:
    """Lists sorted: the CLI sends ids in the order the fake happened to list the apps."""
    if isinstance(body, dict):
        return {k: _unordered(v) for k, v in body.items()}
    if isinstance(body, list):
        return sorted((_unordered(item) for item in body), key=json.dumps)
    return body


def _seen(requests: list[LoggedRequest]) -> list[tuple[str, str, str, object]]:
    return [(r.method, r.path, r.headers.get("accept", ""), _unordered(r.body)) for r in requests]


def _polls(shop: Shop, requests: list[LoggedRequest]) -> list[str]:
    (promotion,) = shop.sandbox.heroku.promotions()
    path = f"/pipeline-promotions/{promotion.id}/promotion-targets"
    assert {(r.method, r.status) for r in requests if r.path == path} == {("GET", 200)}
    return [r.path for r in requests if r.path == path]


def test_promote_to_the_next_stage_reports_success_before_the_release_phase_ends(
    shop: Shop, tmp_path: Path
) -> None:
    h = shop.sandbox.heroku
    for app in ("shop-prod-eu", "shop-prod-us"):
        h.set_release_behaviour(app, pending_seconds=60)

    result = shop.run(tmp_path, "pipelines:promote", "-a", "shop-staging")

    assert result.returncode == 0, result.stderr
    assert "Starting promotion to production..." in result.stdout
    assert "Promotion successful" in result.stdout
    assert "shop-prod-eu: succeeded" in result.stdout
    assert "shop-prod-us: succeeded" in result.stdout
    requests = shop.sandbox.requests
    prelude = _promotion_prelude(shop, ["shop-prod-eu", "shop-prod-us"])
    assert _seen(requests[:4]) == prelude
    assert [r.path for r in requests[4:]] == _polls(shop, requests[4:])
    assert len(requests) >= 6, "polled until the targets settled"
    assert all(r.status in (200, 201) for r in requests)
    for app in ("shop-prod-eu", "shop-prod-us"):
        newest = h.releases(app)[-1]
        assert newest.slug_id == shop.slug
        assert newest.description == "Promote shop-staging v2 abcdef1"
        assert newest.user_email == "release-manager@example.com"
        assert newest.status == "pending", "the CLI's success came before the release phase"


def test_promote_to_one_app_streams_its_release_phase(shop: Shop, tmp_path: Path) -> None:
    h = shop.sandbox.heroku
    h.set_promotion_behaviour(pending_seconds=0.3, target_waits_for_release=True)
    h.set_release_behaviour(
        "shop-prod-eu",
        pending_seconds=1.5,
        release_phase_lines=["Running migrations", "Migrations complete"],
        stream_delay_seconds=0.1,
    )

    result = shop.run(tmp_path, "pipelines:promote", "-a", "shop-staging", "--to", "shop-prod-eu")

    assert result.returncode == 0, result.stderr
    assert "Starting promotion to apps: shop-prod-eu..." in result.stdout
    assert "Running migrations\nMigrations complete\n" in result.stdout
    assert "Promotion successful" in result.stdout
    assert "shop-prod-eu: succeeded" in result.stdout
    requests = shop.sandbox.requests
    assert _seen(requests[:4]) == _promotion_prelude(shop, ["shop-prod-eu"])
    release = h.releases("shop-prod-eu")[-1]
    assert release.status == "succeeded"
    release_path = f"/apps/{shop.ids['shop-prod-eu']}/releases/{release.id}"
    rest = [r.path for r in requests[4:] if not r.path.endswith("/promotion-targets")]
    assert rest[0] == release_path
    assert set(rest[1:]) == {"/streams/[REDACTED]"}
    assert requests[-1].path.endswith("/promotion-targets"), "re-polled after the stream"
    assert len(_polls(shop, requests)) >= 2
    assert len(h.releases("shop-prod-us")) == 1, "--to promotes to the named app only"


def test_failed_targets_are_reported_with_herokus_messages(shop: Shop, tmp_path: Path) -> None:
    h = shop.sandbox.heroku
    h.set_promotion_behaviour(pending_seconds=0.3, target_waits_for_release=True)
    h.fail_promotion_target("shop-prod-eu", "Could not verify slug checksum")
    h.set_release_behaviour("shop-prod-us", pending_seconds=0.3, outcome="failed")

    result = shop.run(tmp_path, "pipelines:promote", "-a", "shop-staging")

    assert result.returncode == 1, "11.x exits non-zero when a target failed"
    assert "Promotion to some apps failed" in result.stderr
    assert "Promotion successful" not in result.stdout
    assert "shop-prod-eu: failed" in result.stdout
    assert "Could not verify slug checksum" in result.stdout
    assert "shop-prod-us: failed" in result.stdout
    assert "release command failed" in result.stdout
    requests = shop.sandbox.requests
    assert _seen(requests[:4]) == _promotion_prelude(shop, ["shop-prod-eu", "shop-prod-us"])
    assert [r.path for r in requests[4:]] == _polls(shop, requests[4:])
    (promotion,) = h.promotions()
    assert promotion.status == "completed"


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (["apps:info", "-a", "demo-staging"], ["Pipeline:       demo - staging", "Owner:"]),
        (["releases", "-a", "demo-staging"], ["Current: v3", "Deploy 9801621f"]),
        (["releases:info", "v2", "-a", "demo-staging"], ["Release v2", "v2 Config vars"]),
        (["pipelines:info", "demo"], ["demo-production-eu   production"]),
        (["config", "-a", "demo-staging"], ["demo-staging Config Vars"]),
        (["releases:rollback", "v1", "-a", "demo-production-eu"], ["Rolling back", "done, v2"]),
    ],
    ids=lambda value: value[0] if isinstance(value, list) else "",
)
def test_commands_around_a_promotion_work_on_the_demo(
    sandbox: Sandbox, tmp_path: Path, args: list[str], shown: list[str]
) -> None:
    token = "HRKU-" + "d" * 40
    full_demo_fixture(sandbox, token)
    result = run_cli(sandbox, token, tmp_path, *args)
    assert result.returncode == 0, result.stderr
    for text in shown:
        assert text in result.stdout + result.stderr
    # Every route the command needs exists (a release-phase stream is 404 until it starts).
    refused = [
        r.line() for r in sandbox.requests if r.status >= 400 and not r.path.startswith("/streams/")
    ]
    assert not refused, refused
