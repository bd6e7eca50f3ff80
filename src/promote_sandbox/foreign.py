"""A host that is not one of the platforms: it answers everything and records everything.

Credentials must only reach the hosts they belong to. This server stands for any other host a
response could point the action at (a URL in a discovery answer, a redirect, a health URL):
unlike the sandbox, it keeps every request exactly as received, headers unredacted, so a test
can prove that no credential ever arrived here. It listens on a loopback address other than the
sandbox's (127.0.0.2 by default), so it is a different host by name, not only by port.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self


@dataclass(frozen=True)
class RawRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: str

    def text(self) -> str:
        """Everything received, for a scan for secrets."""
        headers = "\n".join(f"{k}: {v}" for k, v in self.headers.items())
        return f"{self.method} {self.path}\n{headers}\n\n{self.body}"


class ForeignHost:
    """Answers 200 `{}` to any request; `requests` holds them all, unredacted."""

    def __init__(self, host: str = "127.0.0.2") -> None:
        self._host = host
        self._lock = threading.Lock()
        self._requests: list[RawRequest] = []
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("foreign host not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def requests(self) -> list[RawRequest]:
        with self._lock:
            return list(self._requests)

    def received(self, secret: str) -> bool:
        """Whether `secret` arrived in any request line, header or body."""
        return any(secret in request.text() for request in self.requests)

    def start(self) -> Self:
        foreign = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _record(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8", errors="replace")
                with foreign._lock:
                    foreign._requests.append(
                        RawRequest(self.command, self.path, dict(self.headers.items()), body)
                    )
                payload = b"{}"
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _record

            def log_message(self, format: str, *args: object) -> None:
                return

        server = ThreadingHTTPServer((self._host, 0), Handler)
        server.daemon_threads = True
        self._server = server
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
