"""Shared fixtures: a started sandbox with a realistic staging -> production setup."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from certificates import Certificates, make_certificates
from promote_sandbox import Sandbox

COMMIT = "3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb


@dataclass
class HerokuWorld:
    """Staging: v1 old slug, v2 the slug to ship, v3 failed. Two production apps run v1."""

    sandbox: Sandbox
    token: str
    source: str
    slug_id: str
    old_slug_id: str
    targets: list[str]

    def inputs(self, **overrides: str) -> dict[str, str]:
        values = {
            "operation": "slug-copy",
            "heroku-api-key": self.token,
            "heroku-api-url": self.sandbox.url,
            "source-app": self.source,
            "target-apps": ",".join(self.targets),
            "timeout": "30s",
        }
        values.update({k.replace("_", "-"): v for k, v in overrides.items()})
        return values


@pytest.fixture
def heroku(sandbox: Sandbox) -> HerokuWorld:
    h = sandbox.heroku
    token = h.add_user("ops@example.com")
    h.add_app("shop-staging", owner_token=token)
    old_slug = h.add_slug("shop-staging", commit="0" * 40, commit_description="Old")
    h.add_release("shop-staging", slug_id=old_slug, status="succeeded")
    slug = h.add_slug("shop-staging", commit=COMMIT, commit_description="Add checkout page")
    h.add_release("shop-staging", slug_id=slug, status="succeeded")
    h.add_release("shop-staging", slug_id=old_slug, status="failed")
    for name in ("shop-prod-eu", "shop-prod-us"):
        h.add_app(name, owner_token=token)
        h.add_release(name, slug_id=old_slug, status="succeeded")
        h.set_release_behaviour(name, pending_seconds=0.3, outcome="succeeded")
    return HerokuWorld(
        sandbox, token, "shop-staging", slug, old_slug, ["shop-prod-eu", "shop-prod-us"]
    )


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certificates"))
