"""The Heroku Connect fake's hosts: discovery's access-list handshake, the cells it points to,
who may see what, and Connect's error shapes under faults, throttling and in the request log."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import pytest

from promote_sandbox import Fault, Sandbox
from promote_sandbox.connect import MAINTENANCE, CredentialTrap, FakeConnect

ACCOUNT = {
    "object_name": "Account",
    "config": {"fields": {"Id": {}, "Name": {}, "SystemModstamp": {}}},
}


@pytest.fixture
def connect(sandbox: Sandbox) -> FakeConnect:
    """A Connect fake of the test's own; its hosts are bound to the sandbox's host name, which
    puts them ahead of any Connect fake the sandbox mounts by default."""
    fake = FakeConnect()
    for service, prefix in fake.mounts():
        sandbox.mount(service, prefix=prefix, host=urlsplit(sandbox.url).hostname)
    return fake


@dataclass(frozen=True)
class World:
    """ops owns staging-app (cell us), prod-app (cell eu) and twin-app (two add-ons) and may
    use bare-app, which has no add-on; someone else owns foreign-app."""

    token: str
    other_token: str
    staging: str
    production: str
    twins: tuple[str, str]
    foreign: str


@pytest.fixture
def world(connect: FakeConnect) -> World:
    token = connect.add_user("ops@example.com")
    other = connect.add_user("someone-else@example.com")
    staging = connect.add_connection(
        "staging-app",
        owner_token=token,
        resource_name="herokuconnect-staging-1",
        mappings=[ACCOUNT],
    )
    production = connect.add_connection(
        "prod-app", owner_token=token, cell="eu", mappings=[ACCOUNT]
    )
    twins = (
        connect.add_connection("twin-app", owner_token=token, resource_name="herokuconnect-one-1"),
        connect.add_connection("twin-app", owner_token=token, resource_name="herokuconnect-two-2"),
    )
    connect.grant(token, "bare-app")
    foreign = connect.add_connection("foreign-app", owner_token=other, cell="eu")
    return World(token, other, staging, production, twins, foreign)


@pytest.fixture
def client(sandbox: Sandbox, world: World, tls: ssl.SSLContext) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {world.token}", "Content-Type": "application/json"}
    with httpx.Client(base_url=sandbox.url, headers=headers, timeout=5, verify=tls) as http:
        yield http


def ids(listing: list[dict[str, object]]) -> set[object]:
    return {item["id"] for item in listing}


def test_search_is_empty_until_auth(client: httpx.Client, world: World) -> None:
    before = client.get("/connect/connections", params={"app": "staging-app", "addon_type": "1"})
    assert before.status_code == 200
    assert before.json() == {
        "count": 0,
        "next": None,
        "previous": None,
        "results": [],
        "regions": before.json()["regions"],
        "cells": before.json()["cells"],
    }
    auth = client.post("/connect/auth/staging-app", params={"addon_type": "1"})
    assert auth.status_code == 200
    assert auth.json()["user"]["email"] == "ops@example.com"
    assert ids(auth.json()["connections"]) == {world.staging}
    after = client.get("/connect/connections", params={"app": "staging-app"}).json()
    assert after["count"] == 1
    (found,) = after["results"]
    assert found["id"] == world.staging
    assert found["resource_name"] == "herokuconnect-staging-1"
    assert found["addon_type"] == "Sync"
    assert found["app_name"] == found["display_name"] == "staging-app"
    assert found["detail_url"] == f"/api/v3/connections/{world.staging}"


def test_auth_is_idempotent_and_lists_other_apps_connections(
    client: httpx.Client, connect: FakeConnect, world: World
) -> None:
    first = client.post("/connect/auth/staging-app").json()
    assert client.post("/connect/auth/staging-app").json() == first
    assert connect.connection(world.staging).linked == {"ops@example.com"}
    both = client.post("/connect/auth/prod-app").json()["connections"]
    assert ids(both) == {world.staging, world.production}
    only_prod = client.get("/connect/connections", params={"app": "prod-app"}).json()
    assert ids(only_prod["results"]) == {world.production}
    everything = client.get("/connect/connections").json()
    assert everything["count"] == 2
    assert connect.connection(world.foreign).linked == frozenset()


def test_auth_accepts_the_app_id_and_an_app_without_add_on(
    client: httpx.Client, world: World
) -> None:
    listed = client.post("/connect/auth/prod-app").json()["connections"]
    app_id = listed[0]["app_id"]
    assert ids(client.post(f"/connect/auth/{app_id}").json()["connections"]) == {world.production}
    bare = client.post("/connect/auth/bare-app")
    assert bare.status_code == 200
    assert all(c["app_name"] != "bare-app" for c in bare.json()["connections"])


def test_two_add_ons_on_one_app_are_told_apart_by_resource_name(
    client: httpx.Client, world: World
) -> None:
    assert ids(client.post("/connect/auth/twin-app").json()["connections"]) == set(world.twins)
    one = client.get(
        "/connect/connections", params={"app": "twin-app", "resource_name": "herokuconnect-two-2"}
    ).json()
    assert ids(one["results"]) == {world.twins[1]}
    events = client.get("/connect/connections", params={"app": "twin-app", "addon_type": "2"})
    assert events.json()["results"] == []
    bad = client.get("/connect/connections", params={"app": "twin-app", "addon_type": "sync"})
    assert bad.status_code == 400
    assert "addon_type" in bad.json()["message"]


def test_connections_live_in_their_own_cells(
    client: httpx.Client, sandbox: Sandbox, world: World
) -> None:
    client.post("/connect/auth/staging-app")
    listed = client.post("/connect/auth/prod-app").json()
    refs = {c["id"]: c for c in listed["connections"]}
    us, eu = refs[world.staging], refs[world.production]
    assert us["region_url"] == f"{sandbox.url}/cells/us"
    assert eu["region_url"] == f"{sandbox.url}/cells/eu"
    assert (us["cell"], eu["cell"], eu["region"]) == ("us", "eu", "eu")
    assert listed["cells"]["eu"]["url"] == eu["region_url"]
    assert set(listed["regions"]) == {"us", "eu"}

    deep = client.get(f"{eu['region_url']}{eu['detail_url']}", params={"deep": "true"})
    assert deep.status_code == 200
    body = deep.json()
    assert (body["id"], body["state"], body["app_name"]) == (world.production, "IDLE", "prod-app")
    assert body["mappings_summary_state"] == "OK"
    assert body["db_key"] == "DATABASE_URL"
    assert body["sf_info"]["organization_id"].startswith("00D")
    (mapping,) = body["mappings"]
    assert (mapping["object_name"], mapping["state"]) == ("Account", "DATA_SYNCED")
    assert mapping["config"]["revision"] == 1
    assert mapping["config"]["access"] == "read_only"
    assert set(mapping["counts"]) == {"db", "sf", "pending", "errors"}
    shallow = client.get(f"{eu['region_url']}{eu['detail_url']}").json()
    assert "mappings" not in shallow
    assert client.get(f"{us['region_url']}{eu['detail_url']}").status_code == 404


def test_region_url_follows_the_host_the_client_used(
    client: httpx.Client, sandbox: Sandbox
) -> None:
    host = urlsplit(sandbox.url).hostname
    listed = client.post("/connect/auth/prod-app", headers={"Host": f"{host}:4242"}).json()
    assert listed["connections"][0]["region_url"] == f"http://{host}:4242/cells/eu"


def test_absolute_detail_urls_point_into_the_cell(
    client: httpx.Client, connect: FakeConnect, world: World
) -> None:
    connect.set_behaviour(absolute_detail_urls=True)
    (ref,) = client.post("/connect/auth/prod-app").json()["connections"]
    assert ref["detail_url"] == f"{ref['region_url']}/api/v3/connections/{world.production}"
    assert client.get(ref["detail_url"]).json()["id"] == world.production


def test_who_may_see_what(
    client: httpx.Client, sandbox: Sandbox, connect: FakeConnect, world: World
) -> None:
    anonymous = httpx.Client(base_url=sandbox.url, timeout=5)
    stranger = httpx.Client(
        base_url=sandbox.url, headers={"Authorization": "Bearer HRKU-unknown"}, timeout=5
    )
    other = httpx.Client(
        base_url=sandbox.url, headers={"Authorization": f"Bearer {world.other_token}"}, timeout=5
    )
    with anonymous, stranger, other:
        assert anonymous.post("/connect/auth/prod-app").status_code == 401
        refused = stranger.get("/connect/connections", params={"app": "prod-app"})
        assert refused.status_code == 401
        assert refused.json() == {"message": "Invalid token."}
        forbidden = other.post("/connect/auth/prod-app")
        assert forbidden.status_code == 403
        assert forbidden.json()["message"] == "You do not have access to the app prod-app."
        assert other.get("/connect/connections", params={"app": "prod-app"}).status_code == 403
        assert client.post("/connect/auth/no-such-app").status_code == 404
        assert client.post("/connect/auth/foreign-app").status_code == 403

        connection = f"/cells/eu/api/v3/connections/{world.production}"
        assert client.get(connection).status_code == 403, "not linked before /auth"
        client.post("/connect/auth/prod-app")
        assert client.get(connection).status_code == 200
        assert anonymous.get(connection).json() == {
            "message": "Authentication credentials were not provided."
        }
        assert other.get(connection).status_code == 403
        assert client.get(f"/cells/eu/api/v3/connections/{world.foreign}").status_code == 403
        assert client.get("/cells/eu/api/v3/connections/nope").status_code == 404
        mapping_id = connect.connection(world.production).mapping("account").id
        assert client.get(f"/cells/eu/api/v3/mappings/{mapping_id}").status_code == 200
        assert other.get(f"/cells/eu/api/v3/mappings/{mapping_id}").status_code == 403
        assert client.get(f"/cells/us/api/v3/mappings/{mapping_id}").status_code == 404


def test_new_and_unauthenticated_connections_are_shown_but_take_no_action(
    client: httpx.Client, connect: FakeConnect, world: World
) -> None:
    fresh = connect.add_connection("fresh-app", owner_token=world.token, state="NEW")
    unauthorised = connect.add_connection(
        "fresh-app", owner_token=world.token, state="NEED_AUTHENTICATION"
    )
    client.post("/connect/auth/fresh-app")
    new = client.get(f"/cells/us/api/v3/connections/{fresh}").json()
    assert (new["state"], new["db_key"], new["sf_info"]) == ("NEW", None, None)
    need = client.get(f"/cells/us/api/v3/connections/{unauthorised}").json()
    assert need["state"] == "NEED_AUTHENTICATION"
    assert need["db_key"] == "DATABASE_URL"
    assert need["sf_info"] is None
    for connection_id in (fresh, unauthorised):
        refused = client.post(f"/cells/us/api/v3/connections/{connection_id}/actions/pause")
        assert refused.status_code == 400
        assert refused.json()["message"]
    connect.set_state(unauthorised, "IDLE")
    assert client.get(f"/cells/us/api/v3/connections/{unauthorised}").json()["sf_info"]


def test_faults_answer_in_connects_shape(
    client: httpx.Client, sandbox: Sandbox, world: World
) -> None:
    client.post("/connect/auth/prod-app")
    connection = f"/cells/eu/api/v3/connections/{world.production}"
    sandbox.add_fault(Fault(match="^GET /cells/eu/", status=503, times=1))
    sandbox.add_fault(Fault(match="^GET /cells/eu/", status=500, message="boom", times=1))
    sandbox.add_fault(Fault(match="^POST /connect/", status=429, retry_after="30", times=1))
    unavailable = client.get(connection)
    assert unavailable.status_code == 503
    assert unavailable.json() == {"message": "Service Unavailable."}
    assert client.get(connection).json() == {"message": "boom"}
    throttled = client.post("/connect/auth/prod-app")
    assert throttled.status_code == 429
    assert throttled.json() == {"message": "Request was throttled."}
    assert throttled.headers["Retry-After"] == "30"
    assert client.get(connection).status_code == 200
    assert client.get("/cells/us/api/v3/no-such-route").json() == {"message": "Not found."}

    sandbox.add_fault(Fault(match="^POST /cells/", status=503, error_id=MAINTENANCE, times=1))
    maintenance = client.post(f"{connection}/actions/pause")
    assert maintenance.status_code == 503
    assert maintenance.headers["Content-Type"].startswith("text/html")
    assert "maintenance" in maintenance.text
    assert client.post(f"{connection}/actions/pause").status_code == 202


def test_daily_request_limit_per_connection(
    client: httpx.Client, connect: FakeConnect, world: World
) -> None:
    client.post("/connect/auth/staging-app")
    client.post("/connect/auth/prod-app")
    connect.set_rate_limit(daily_requests=2, retry_after="3600")
    prod = f"/cells/eu/api/v3/connections/{world.production}"
    statuses = [client.get(prod).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    limited = client.get(prod)
    assert limited.json() == {"message": "Request was throttled."}
    assert limited.headers["Retry-After"] == "3600"
    assert client.get(f"/cells/us/api/v3/connections/{world.staging}").status_code == 200
    assert client.get("/connect/connections").status_code == 200, "discovery is not metered"
    connect.advance(24 * 3600)
    assert client.get(prod).status_code == 200
    connect.set_rate_limit()
    assert all(client.get(prod).status_code == 200 for _ in range(3))


def test_request_log_never_holds_the_token(
    client: httpx.Client, sandbox: Sandbox, world: World
) -> None:
    client.post("/connect/auth/prod-app")
    connection = f"/cells/eu/api/v3/connections/{world.production}"
    exported = client.get(f"{connection}/actions/export").json()
    client.post(f"{connection}/actions/import", json=exported)
    client.post(f"{connection}/actions/import", json={"mappings": [], "note": world.token})
    text = sandbox.request_log_text()
    assert world.token not in text
    assert "[REDACTED]" in text
    services = [r.service for r in sandbox.requests]
    assert services == ["connect", "connect-eu", "connect-eu", "connect-eu"]
    assert sandbox.requests[-1].body == {"mappings": [], "note": "[REDACTED]"}


def test_a_heroku_token_seeded_as_owner_authenticates(
    sandbox: Sandbox, connect: FakeConnect, tls: ssl.SSLContext
) -> None:
    token = sandbox.heroku.add_user("dev@example.com")
    connection_id = connect.add_connection("dev-app", owner_token=token)
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=sandbox.url, headers=headers, timeout=5, verify=tls) as http:
        auth = http.post("/connect/auth/dev-app").json()
        assert ids(auth["connections"]) == {connection_id}
        accept = {"Accept": "application/vnd.heroku+json; version=3"}
        assert http.get("/account", headers=accept).status_code == 200, "the same key on Heroku"


def test_seeding_refuses_nonsense(connect: FakeConnect, world: World) -> None:
    with pytest.raises(ValueError, match="already issued"):
        connect.add_user("again@example.com", token=world.token)
    with pytest.raises(KeyError):
        connect.add_connection("x-app", owner_token=world.token, cell="ap")
    with pytest.raises(ValueError, match="already exists"):
        connect.add_connection(
            "x-app", owner_token=world.token, resource_name="herokuconnect-staging-1"
        )
    with pytest.raises(ValueError, match="object_name"):
        connect.add_connection("x-app", owner_token=world.token, mappings=[{"config": {}}])
    with pytest.raises(KeyError):
        connect.set_mapping_state(world.staging, "Opportunity", "BAD_CONFIG")
    with pytest.raises(KeyError):
        connect.connection(world.staging).mapping("Opportunity")


def test_diverted_cells_point_at_another_host_whose_trap_records_credentials(
    sandbox: Sandbox,
) -> None:
    """A spoofed discovery answer, for proving that no client follows it with a key."""
    token = sandbox.connect.add_user("ops@example.com")
    sandbox.connect.add_connection("prod-app", owner_token=token)
    trap = CredentialTrap()
    sandbox.mount(trap, host="localhost")
    foreign = sandbox.url.replace("127.0.0.1", "localhost")
    sandbox.connect.divert_cells(foreign)
    headers = {"Authorization": f"Bearer {token}"}
    (ref,) = httpx.post(f"{sandbox.url}/connect/auth/prod-app", headers=headers).json()[
        "connections"
    ]
    assert ref["region_url"] == f"{foreign}/cells/us"
    assert trap.received == []
    assert httpx.get(f"{ref['region_url']}/api/v3/x", headers=headers).status_code == 404
    assert trap.received == [f"Bearer {token}"]
    assert token not in sandbox.request_log_text()
