"""The server is generic: services mount by prefix or Host; it runs in- and out-of-process."""

from __future__ import annotations

import json
import ssl

import httpx
import pytest

from promote_sandbox import Fault, Sandbox
from promote_sandbox.routing import Reply, Request, Route


class Echo:
    """A stand-in for a later fake (kintone, GitHub): proves a service only brings routes."""

    def __init__(self, name: str) -> None:
        self.name = name

    def routes(self) -> list[Route]:
        return [Route("POST", "/k/v1/echo/{word}.json", self._echo, frozenset({"word"}))]

    def error_reply(
        self, request: Request, status: int, error_id: str | None, message: str | None
    ) -> Reply:
        return Reply.json(status, {"code": error_id or "GAIA_XX01", "message": message or "x"})

    def secrets(self) -> list[str]:
        return ["s3cr3t"]

    def _echo(self, request: Request) -> Reply:
        return Reply.json(200, {"word": request.params["word"], "base": request.base_url})


def test_services_mount_by_prefix_and_by_host(http: httpx.Client, sandbox: Sandbox) -> None:
    sandbox.mount(Echo("kintone"), prefix="/kintone")
    sandbox.mount(Echo("github"), host="github.localhost")
    kintone = http.post(f"{sandbox.url}/kintone/k/v1/echo/hello%20world.json")
    assert kintone.json() == {"word": "hello world", "base": f"{sandbox.url}/kintone"}
    by_host = http.post(
        f"{sandbox.url}/k/v1/echo/s3cr3t.json", headers={"Host": "github.localhost:1"}
    )
    assert by_host.json()["word"] == "s3cr3t"
    unknown = http.get(f"{sandbox.url}/kintone/k/v1/other.json")
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "GAIA_XX01"
    built_in_kintone = http.get(f"{sandbox.url}/k/v1/echo/x.json")
    assert built_in_kintone.json()["code"] == "GAIA_NF01"
    heroku = http.get(f"{sandbox.url}/v1/echo/x.json")
    assert heroku.json()["id"] == "not_found"
    assert [(r.service, r.path) for r in sandbox.requests] == [
        ("kintone", "/kintone/k/v1/echo/[REDACTED].json"),
        ("github", "/k/v1/echo/[REDACTED].json"),
        ("kintone", "/kintone/k/v1/other.json"),
        ("kintone", "/k/v1/echo/x.json"),
        ("heroku", "/v1/echo/x.json"),
    ]


def test_faults_use_the_services_error_shape(http: httpx.Client, sandbox: Sandbox) -> None:
    sandbox.mount(Echo("kintone"), prefix="/kintone")
    sandbox.add_fault(Fault(match="/kintone/", status=520, error_id="CB_IJ01"))
    response = http.post(f"{sandbox.url}/kintone/k/v1/echo/a.json")
    assert (response.status_code, response.json()["code"]) == (520, "CB_IJ01")


def test_chunked_request_bodies_are_read(sandbox: Sandbox, api: httpx.Client, world) -> None:
    payload = json.dumps({"slug": world.staging_slugs[2]}).encode()
    response = api.post("/apps/prod-app/releases", content=iter([payload[:10], payload[10:]]))
    assert response.status_code == 201
    assert sandbox.writes()[0].headers["Transfer-Encoding"] == "chunked"


def test_stop_closes_idle_keep_alive_connections(tls: ssl.SSLContext) -> None:
    with Sandbox() as sb, httpx.Client(base_url=sb.url, verify=tls) as client:
        assert client.get("/__sandbox__/requests").status_code == 200
        sb.stop()
        with pytest.raises(httpx.TransportError):
            client.get("/__sandbox__/requests")
