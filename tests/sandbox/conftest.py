from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest

from promote_action.sandbox import Sandbox

ACCEPT = "application/vnd.heroku+json; version=3"


@dataclass(frozen=True)
class World:
    """A small account: staging three releases ahead, production behind, and someone else's app."""

    token: str
    other_token: str
    staging_slugs: list[str]
    foreign_slug: str


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb


@pytest.fixture
def world(sandbox: Sandbox) -> World:
    h = sandbox.heroku
    token = h.add_user("ops@example.com")
    other = h.add_user("someone-else@example.com")
    h.add_app("staging-app", owner_token=token)
    slugs = []
    for n, text in enumerate(["Initial import", "Add search", "Fix login"], start=1):
        slug = h.add_slug("staging-app", commit=f"{n:x}" * 40, commit_description=text)
        h.add_release("staging-app", slug_id=slug)
        slugs.append(slug)
    h.add_app("prod-app", owner_token=token)
    h.add_release("prod-app", slug_id=slugs[0])
    h.set_release_behaviour("prod-app", pending_seconds=0.15)
    h.add_app("foreign-app", owner_token=other)
    foreign_slug = h.add_slug("foreign-app", commit="f" * 40)
    h.add_release("foreign-app", slug_id=foreign_slug)
    h.add_app("container-app", owner_token=token, stack="container")
    h.add_release("container-app", slug_id=None)
    return World(token, other, slugs, foreign_slug)


@dataclass(frozen=True)
class PipelineWorld:
    """``world`` coupled into one pipeline: dev-app -> staging-app -> prod-app, prod-app-two."""

    pipeline_id: str
    ids: dict[str, str]
    """App name -> id, for building promotion bodies."""


@pytest.fixture
def pipeline(sandbox: Sandbox, world: World) -> PipelineWorld:
    h = sandbox.heroku
    h.add_app("dev-app", owner_token=world.token)
    h.add_app("prod-app-two", owner_token=world.token)
    h.add_release("prod-app-two", slug_id=world.staging_slugs[0])
    h.set_release_behaviour("prod-app-two", pending_seconds=0.15)
    shop = h.add_pipeline("shop", owner_token=world.token)
    stages = {
        "dev-app": "development",
        "staging-app": "staging",
        "prod-app": "production",
        "prod-app-two": "production",
    }
    for app, stage in stages.items():
        h.couple(app, shop.id, stage)
    h.set_promotion_behaviour(pending_seconds=0.05)
    names = [*stages, "foreign-app", "container-app"]
    return PipelineWorld(shop.id, {name: h.app(name).id for name in names})


@pytest.fixture(scope="session")
def tls() -> ssl.SSLContext:
    """Shared because every httpx client would otherwise spend ~40 ms building its own."""
    return ssl.create_default_context()


@pytest.fixture
def http(tls: ssl.SSLContext) -> Iterator[httpx.Client]:
    """A bare client for absolute URLs: stream URLs, control routes, hand-made headers."""
    with httpx.Client(verify=tls, timeout=5) as client:
        yield client


@pytest.fixture
def api(sandbox: Sandbox, world: World, tls: ssl.SSLContext) -> Iterator[httpx.Client]:
    headers = {"Accept": ACCEPT, "Authorization": f"Bearer {world.token}"}
    with httpx.Client(base_url=sandbox.url, headers=headers, timeout=5, verify=tls) as client:
        yield client


@pytest.fixture
def settle() -> Callable[[httpx.Client, str, str], dict[str, object]]:
    """Poll a release until it leaves ``pending``, as a client of the real API would."""

    def wait(client: httpx.Client, app: str, release_id: str) -> dict[str, object]:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            release: dict[str, object] = client.get(f"/apps/{app}/releases/{release_id}").json()
            if release["status"] != "pending":
                return release
            time.sleep(0.02)
        raise AssertionError(f"release {release_id} still pending")

    return wait


@pytest.fixture
def finish() -> Callable[[httpx.Client, str], list[dict[str, object]]]:
    """Poll a promotion's targets until none is pending, as the official CLI does."""

    def wait(client: httpx.Client, promotion_id: str) -> list[dict[str, object]]:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            response = client.get(f"/pipeline-promotions/{promotion_id}/promotion-targets")
            targets: list[dict[str, object]] = response.json()
            if all(t["status"] != "pending" for t in targets):
                return targets
            time.sleep(0.02)
        raise AssertionError(f"promotion {promotion_id} still pending")

    return wait
