"""Shared by the integration and end-to-end tests: the sandbox state they start from."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from promote_sandbox import Sandbox

DEPLOY = "/k/v1/preview/app/deploy.json"


@dataclass
class KintoneWorld:
    """Three apps managed by `deployer`; each has preview changes (preview 6, production 5)."""

    sandbox: Sandbox
    apps: list[str]

    def inputs(self, **overrides: str) -> dict[str, str]:
        values = {
            "operation": "kintone-deploy",
            "kintone-base-url": self.sandbox.url,
            "kintone-apps": ",".join(self.apps),
            "kintone-username": "deployer",
            "kintone-password": "s3cret pass",
            "timeout": "30s",
        }
        values.update({k.replace("_", "-"): v for k, v in overrides.items()})
        return values

    def deploy_posts(self) -> list:
        return [
            r
            for r in self.sandbox.requests
            if r.method == "POST" and r.path.endswith("/deploy.json") and r.is_write
        ]

    def status_polls(self) -> list:
        return [
            r for r in self.sandbox.requests if r.path.endswith("/deploy.json") and not r.is_write
        ]


@pytest.fixture(name="kintone")
def kintone_world_fixture(sandbox: Sandbox) -> KintoneWorld:
    k = sandbox.kintone
    k.add_user("deployer", "s3cret pass")
    apps = [
        k.add_app(name=f"Orders {n}", managers=["deployer"], preview_revision=6, live_revision=5).id
        for n in range(3)
    ]
    k.set_deploy_behaviour(processing_seconds=0.5)
    return KintoneWorld(sandbox, apps)


def result_apps(run) -> dict[str, dict]:
    return {a["app"]: a for a in json.loads(run.outputs["result"])["apps"]}
