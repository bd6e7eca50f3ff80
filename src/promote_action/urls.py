"""Which URLs credentials may be sent to: https everywhere, plain http only to this machine.

Shared by the inputs (API base URLs) and the platform clients (URLs a platform hands back, such
as a Heroku Connect cell), so one policy guards every host that receives a key.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from urllib.parse import urlsplit

ALLOW_HTTP_HOSTS_VARIABLE = "PROMOTE_ACTION_ALLOW_HTTP_HOSTS"
"""Hosts besides loopback that may be reached over plain http: the self-test's sandbox
container. An environment variable, not an input, so a workflow cannot loosen it by accident."""


def allowed_http_hosts(environ: Mapping[str, str] = os.environ) -> frozenset[str]:
    raw = environ.get(ALLOW_HTTP_HOSTS_VARIABLE, "")
    return frozenset(h.strip().lower() for h in raw.replace("\n", ",").split(",") if h.strip())


def check_api_url(value: str, environ: Mapping[str, str] = os.environ) -> str:
    """https only, except plain http to this machine (a sandbox), so no key crosses a network
    in clear text; no credentials, query or fragment that could leak into logs. Raises
    ValueError with what is accepted."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError("expected an https:// URL")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValueError("expected a URL without credentials, query or fragment")
    if parts.scheme == "http" and not (
        is_loopback(parts.hostname) or parts.hostname in allowed_http_hosts(environ)
    ):
        raise ValueError(
            "expected an https:// URL (plain http is allowed only for localhost and hosts in "
            f"{ALLOW_HTTP_HOSTS_VARIABLE})"
        )
    return value.strip().rstrip("/")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


HEROKU_DOMAIN = "heroku.com"


def check_credential_host(
    url: str, configured: str, environ: Mapping[str, str] = os.environ
) -> str:
    """The root (scheme://host[:port]) of a URL a platform handed back, if our key may go there.

    A discovery response names the host that serves a connection; a compromised or spoofed one
    must not collect the Heroku API key. So besides the usual scheme rules (check_api_url), the
    host must be heroku.com or under it (over https), or the very host (and port) of the
    configured API URL: that is how a sandbox on loopback is reached. Raises ValueError naming
    the host and what is accepted.
    """
    parts = urlsplit(url.strip())
    root = check_api_url(f"{parts.scheme}://{parts.netloc}", environ)
    host = (parts.hostname or "").lower()
    own = urlsplit(configured)
    same_host = host == (own.hostname or "").lower() and parts.port == own.port
    under_heroku = parts.scheme == "https" and (
        host == HEROKU_DOMAIN or host.endswith("." + HEROKU_DOMAIN)
    )
    if not (same_host or under_heroku):
        raise ValueError(
            f"host {host} is not allowed to receive credentials (accepted: hosts under "
            f"{HEROKU_DOMAIN} over https, or {own.hostname}, the host of the configured URL)"
        )
    return root
