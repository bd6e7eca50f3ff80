"""The sandbox over HTTPS, and kintone's secure access: a client certificate or no handshake."""

from __future__ import annotations

import httpx
import pytest

from promote_sandbox import Sandbox, TlsConfig

STATUS = "/k/v1/preview/app/deploy.json?apps[0]=1"


def _seed(sb: Sandbox) -> dict[str, str]:
    sb.kintone.add_user("admin", "admin-pass-1")
    sb.kintone.add_app(managers=["admin"])
    return {"X-Cybozu-API-Token": sb.kintone.add_api_token(1)}


def test_https_serves_every_fake(certificates) -> None:
    tls = TlsConfig(certificates.server_cert, certificates.server_key)
    with Sandbox(tls=tls) as sb, httpx.Client(verify=certificates.anonymous) as client:
        headers = _seed(sb)
        assert sb.url.startswith("https://127.0.0.1:")
        status = client.get(f"{sb.url}{STATUS}", headers=headers)
        assert status.json() == {"apps": [{"app": "1", "status": "SUCCESS"}]}
        heroku = client.get(f"{sb.url}/account")
        assert heroku.json()["id"] == "not_acceptable"
        by_name = sb.url.replace("127.0.0.1", "localhost")
        assert client.get(f"{by_name}{STATUS}", headers=headers).status_code == 200
        with pytest.raises(httpx.TransportError):
            client.get(sb.url.replace("https:", "http:") + STATUS, headers=headers)
        assert [r.service for r in sb.requests] == ["kintone", "heroku", "kintone"]
        assert "TlsConfig(cert_pem=" in repr(tls)
        assert "PRIVATE KEY" not in repr(tls)


def test_secure_access_needs_a_certificate_from_the_configured_ca(certificates) -> None:
    tls = TlsConfig(certificates.server_cert, certificates.server_key, certificates.ca)
    with Sandbox(tls=tls) as sb:
        headers = _seed(sb)
        with httpx.Client(verify=certificates.client) as client:
            accepted = client.get(f"{sb.url}{STATUS}", headers=headers)
        for refused in (certificates.anonymous, certificates.stranger):
            with httpx.Client(verify=refused) as client, pytest.raises(httpx.TransportError):
                client.get(f"{sb.url}{STATUS}", headers=headers)
        assert accepted.status_code == 200
        assert [(r.method, r.status) for r in sb.requests] == [("GET", 200)]
