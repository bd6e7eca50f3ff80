"""The deployed apps' health endpoints answer as scripted: failing first, healthy for a while
(an app that boots, then crashes), and a hook that runs before each healthy answer."""

from __future__ import annotations

import httpx

from promote_sandbox import Sandbox


def test_an_app_healthy_for_a_while_then_failing(sandbox: Sandbox) -> None:
    seen: list[int] = []
    sandbox.web.script(
        "shop", failures=1, healthy_for=2, failure_status=502, on_healthy=lambda: seen.append(1)
    )
    url = sandbox.web.url(sandbox.url, "shop")
    statuses = [httpx.get(url).status_code for _ in range(5)]
    assert statuses == [502, 200, 200, 502, 502]
    assert len(seen) == 2, "the hook runs before each healthy answer only"
    assert sandbox.web.hits("shop") == 5


def test_an_unscripted_app_is_healthy(sandbox: Sandbox) -> None:
    response = httpx.get(sandbox.web.url(sandbox.url, "other"))
    assert (response.status_code, response.text) == (200, "ok")
