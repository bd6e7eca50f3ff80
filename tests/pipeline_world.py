"""Shared by the integration and end-to-end tests: the sandbox state they start from."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from promote_sandbox import Sandbox

COMMIT = "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432"


@dataclass
class PipelineWorld:
    """Pipeline `shop`: shop-dev (development), shop-staging v2 (staging, the source),
    shop-prod-eu and shop-prod-us v1 (production)."""

    sandbox: Sandbox
    token: str
    pipeline_id: str
    slug_id: str
    old_slug_id: str

    def inputs(self, **overrides: str) -> dict[str, str]:
        values = {
            "operation": "pipeline-promote",
            "heroku-api-key": self.token,
            "heroku-api-url": self.sandbox.url,
            "source-app": "shop-staging",
            "timeout": "30s",
        }
        values.update({k.replace("_", "-"): v for k, v in overrides.items()})
        return values

    def app_id(self, name: str) -> str:
        return self.sandbox.heroku.app(name).id

    def promotion_posts(self) -> list:
        return [
            r
            for r in self.sandbox.requests
            if r.method == "POST" and r.path == "/pipeline-promotions"
        ]


@pytest.fixture(name="world")
def pipeline_world_fixture(sandbox: Sandbox) -> PipelineWorld:
    h = sandbox.heroku
    token = h.add_user("ops@example.com")
    pipeline = h.add_pipeline("shop", owner_token=token)
    h.add_app("shop-staging", owner_token=token)
    old_slug = h.add_slug("shop-staging", commit="1" * 40, commit_description="Old")
    h.add_release("shop-staging", slug_id=old_slug)
    slug = h.add_slug("shop-staging", commit=COMMIT, commit_description="Add search")
    h.add_release("shop-staging", slug_id=slug)
    h.couple("shop-staging", pipeline.id, "staging")
    for name, stage in (
        ("shop-dev", "development"),
        ("shop-prod-eu", "production"),
        ("shop-prod-us", "production"),
    ):
        h.add_app(name, owner_token=token)
        h.add_release(name, slug_id=old_slug)
        h.couple(name, pipeline.id, stage)
        h.set_release_behaviour(name, pending_seconds=0.3)
    h.set_promotion_behaviour(pending_seconds=0.3)
    return PipelineWorld(sandbox, token, pipeline.id, slug, old_slug)


def targets_of(run) -> dict[str, dict]:
    return {t["app"]: t for t in json.loads(run.outputs["result"])["targets"]}
