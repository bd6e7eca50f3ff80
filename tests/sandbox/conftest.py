from __future__ import annotations

import base64
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest

from certificates import Certificates, make_certificates
from promote_sandbox import Sandbox

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


_DEPLOY = "/k/v1/preview/app/deploy.json"


def password_auth(login: str, password: str) -> dict[str, str]:
    """kintone's password header: base64 of login:password, no scheme."""
    return {"X-Cybozu-Authorization": base64.b64encode(f"{login}:{password}".encode()).decode()}


@dataclass(frozen=True)
class KintoneWorld:
    """Apps 1 and 2 (2 has changes pending: preview 8, live 6) and app 3 in guest space 7.

    ``admin`` manages all three, ``viewer`` may only view app 1; each token belongs to one
    app: ``tokens[n]`` to app n with every permission, ``view_token`` to app 1, view only.
    """

    admin: dict[str, str]
    viewer: dict[str, str]
    tokens: dict[int, str]
    view_token: str


@pytest.fixture
def kworld(sandbox: Sandbox) -> KintoneWorld:
    k = sandbox.kintone
    k.add_user("admin", "admin-pass-1")
    k.add_user("viewer", "viewer-pass-1")
    k.add_app(name="Orders", managers=["admin"], viewers=["viewer"])
    k.add_app(name="Customers", managers=["admin"], preview_revision=8, live_revision=6)
    k.add_app(name="Guest board", managers=["admin"], space_id=7, preview_revision=3)
    k.set_deploy_behaviour(processing_seconds=0.1)
    return KintoneWorld(
        admin=password_auth("admin", "admin-pass-1"),
        viewer=password_auth("viewer", "viewer-pass-1"),
        tokens={app: k.add_api_token(app) for app in (1, 2, 3)},
        view_token=k.add_api_token(1, manage=False, view=True),
    )


@pytest.fixture
def kintone(sandbox: Sandbox, kworld: KintoneWorld, tls: ssl.SSLContext) -> Iterator[httpx.Client]:
    """A client of the fake kintone, logged in as ``admin`` by password."""
    with httpx.Client(base_url=sandbox.url, headers=kworld.admin, timeout=5, verify=tls) as client:
        yield client


@pytest.fixture
def deployed() -> Callable[..., list[dict[str, str]]]:
    """Poll a deploy's status until no app is PROCESSING, as a careful client would."""

    def wait(client: httpx.Client, apps: list[int], path: str = _DEPLOY) -> list[dict[str, str]]:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            response = client.get(path, params={f"apps[{i}]": a for i, a in enumerate(apps)})
            statuses: list[dict[str, str]] = response.json()["apps"]
            if all(s["status"] != "PROCESSING" for s in statuses):
                return statuses
            time.sleep(0.02)
        raise AssertionError(f"apps {apps} still deploying")

    return wait


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certificates"))
