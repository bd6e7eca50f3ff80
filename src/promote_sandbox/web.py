"""The deployed apps' own web endpoints, for health checks after a release.

A health check probes the app, not the platform: `GET /web/{app}/{path}` answers what the test
scripted for that app, e.g. 503 twice while dynos restart, then 200 with a body.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from .routing import Reply, Request, Route


@dataclass
class _Script:
    status: int = 200
    body: str = "ok"
    failures: int = 0
    failure_status: int = 503
    healthy_for: int | None = None
    on_healthy: Callable[[], None] | None = None


class FakeWebApps:
    """Health endpoints of deployed apps; an app nobody scripted answers 200 `ok`."""

    name = "web"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scripts: dict[str, _Script] = {}
        self._hits: dict[str, int] = {}

    def script(
        self,
        app: str,
        *,
        status: int = 200,
        body: str = "ok",
        failures: int = 0,
        failure_status: int = 503,
        healthy_for: int | None = None,
        on_healthy: Callable[[], None] | None = None,
    ) -> None:
        """Answer `failure_status` to the first `failures` requests, then `status` and `body`;
        with `healthy_for`, only that many times before failing again (an app that boots, then
        crashes). `on_healthy` runs before each healthy answer is sent: a test's way to act at
        a known moment (say, cancel the run right after a wave's last health check)."""
        with self._lock:
            self._scripts[app] = _Script(
                status, body, failures, failure_status, healthy_for, on_healthy
            )
            self._hits[app] = 0

    def hits(self, app: str) -> int:
        with self._lock:
            return self._hits.get(app, 0)

    def url(self, base_url: str, app: str, path: str = "health") -> str:
        return f"{base_url}/web/{app}/{path}"

    def routes(self) -> Sequence[Route]:
        return [Route("GET", "/{app}/{path}", self._serve)]

    def error_reply(
        self, request: Request, status: int, error_id: str | None, message: str | None
    ) -> Reply:
        return Reply.text(status, message or "error")

    def secrets(self) -> Iterable[str]:
        return ()

    def _serve(self, request: Request) -> Reply:
        app = request.params["app"]
        with self._lock:
            script = self._scripts.get(app, _Script())
            self._hits[app] = self._hits.get(app, 0) + 1
            healthy = self._hits[app] - script.failures
            failing = healthy <= 0 or (
                script.healthy_for is not None and healthy > script.healthy_for
            )
        if failing:
            return Reply.text(script.failure_status, "Application error")
        if script.on_healthy is not None:
            script.on_healthy()
        return Reply.text(script.status, script.body)
