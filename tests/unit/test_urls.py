"""Which hosts may receive credentials that a platform's answer points to (issue 11.7)."""

from __future__ import annotations

import pytest

from promote_action.urls import check_credential_host

DISCOVERY = "https://hc-central.heroku.com"


@pytest.mark.parametrize(
    ("url", "configured", "root"),
    [
        ("https://connect-us-2.heroku.com/api", DISCOVERY, "https://connect-us-2.heroku.com"),
        ("https://heroku.com/x", DISCOVERY, "https://heroku.com"),
        (
            "https://connect.example.org/x",
            "https://connect.example.org",
            "https://connect.example.org",
        ),
        (
            "http://127.0.0.1:4000/cells/eu",
            "http://127.0.0.1:4000/connect",
            "http://127.0.0.1:4000",
        ),
    ],
)
def test_allowed_hosts(url: str, configured: str, root: str):
    assert check_credential_host(url, configured, {}) == root


@pytest.mark.parametrize(
    ("url", "configured"),
    [
        ("https://connect.evil.example/api", DISCOVERY),
        ("https://heroku.com.evil.example/api", DISCOVERY),
        ("https://evilheroku.com/api", DISCOVERY),
        ("http://connect-us.heroku.com/api", DISCOVERY),  # plain http
        ("http://localhost:4000/cells", "http://127.0.0.1:4000/connect"),  # another name
        ("http://127.0.0.1:4001/cells", "http://127.0.0.1:4000/connect"),  # another port
    ],
)
def test_refused_hosts(url: str, configured: str):
    with pytest.raises(ValueError, match=r"expected an https|not allowed to receive credentials"):
        check_credential_host(url, configured, {})
