"""The sandbox: one real HTTP server on loopback hosting fake services, with a request log and
fault injection shared by all of them.

Clients under test talk real HTTP to it, so their transports, retries and timeouts run exactly as
they would against the real services; the log records what reached the wire, with every secret
scrubbed, so tests can assert on the exact requests and scan for leaks.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import socket
import ssl
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from .connect import FakeConnect
from .github import FakeGitHub
from .heroku import FakeHeroku
from .kintone import FakeKintone
from .routing import REDACTED, Reply, Request, Route, Service
from .web import FakeWebApps

CONTROL_PREFIX = "/__sandbox__/"
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_SECRET_HEADER = re.compile(
    r"authorization|proxy-authorization|cookie|set-cookie|heroku-two-factor-code|x-cybozu-.*"
    r"|.*(token|secret|password|api-?key).*",
    re.IGNORECASE,
)
# Heroku API keys wherever they appear, including ones the sandbox never issued.
_TOKEN = re.compile(r"HRKU-[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Fault:
    """A scripted misbehaviour for requests whose ``"METHOD /path"`` ``re.search``-matches.

    Every fault counts every matching request on its own, whichever fault ends up applying, so
    ``every=3`` means the 3rd, 6th, ... matching request. ``status`` replaces the service's answer
    (nothing is processed); ``drop_response`` closes the connection without a byte of response,
    after processing the request unless ``status`` is also set (then the request is lost).
    """

    match: str = ".*"
    status: int | None = None
    error_id: str | None = None
    message: str | None = None
    retry_after: str | None = None
    every: int = 1
    times: int | None = None
    delay_seconds: float = 0.0
    drop_response: bool = False
    headers: tuple[tuple[str, str], ...] = ()
    """Added to whatever answer goes out, e.g. a platform ``Warning-Message``."""
    hang: bool = False
    """Hold the answer until the sandbox stops (or ``release_hung``): a response that never
    comes, for clients that must give up on it (cancellation, deadlines)."""

    def __post_init__(self) -> None:
        re.compile(self.match)
        if self.status is not None and not 100 <= self.status <= 599:
            raise ValueError(f"{self.status} is not an HTTP status")
        if self.every < 1 or (self.times is not None and self.times < 0):
            raise ValueError("every must be at least 1 and times at least 0")


@dataclass(frozen=True)
class TlsConfig:
    """Serve HTTPS with this certificate chain and key, both PEM.

    With ``client_ca_pem`` every client must present a certificate that CA issued, or the TLS
    handshake fails before any HTTP is spoken, as on kintone's secure-access hosts
    (``{sub}.s.cybozu.com``); such refusals never reach the request log.
    """

    cert_pem: bytes
    key_pem: bytes = field(repr=False)
    client_ca_pem: bytes | None = None

    def context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        # The ssl module loads a key only from a file: a private directory, gone once loaded.
        with tempfile.TemporaryDirectory() as directory:
            cert, key = Path(directory, "cert.pem"), Path(directory, "key.pem")
            cert.write_bytes(self.cert_pem)
            key.write_bytes(self.key_pem)
            context.load_cert_chain(cert, key)
        if self.client_ca_pem is not None:
            context.load_verify_locations(cadata=self.client_ca_pem.decode())
            context.verify_mode = ssl.CERT_REQUIRED
        return context


@dataclass(frozen=True)
class LoggedRequest:
    """A request as it reached the sandbox, secrets replaced by ``[REDACTED]``.

    ``status`` is the status sent, or 0 when a fault dropped the response.
    """

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any
    status: int
    service: str
    received_at: float = field(default=0.0, compare=False)
    """time.monotonic() on arrival: benchmarks time the action against the fake's clock."""

    @property
    def is_write(self) -> bool:
        if self.method in _READ_METHODS:
            return False
        override = next(
            (v for k, v in self.headers.items() if k.lower() == "x-http-method-override"), ""
        )
        return not (self.method == "POST" and override.upper() == "GET")

    def line(self) -> str:
        target = f"{self.path}?{self.query}" if self.query else self.path
        return (
            f"{self.status} {self.service} {self.method} {target}"
            f" headers={json.dumps(self.headers)} body={json.dumps(self.body)}"
        )


@dataclass(frozen=True)
class _Mount:
    service: Service
    prefix: str
    host: str | None
    routes: tuple[Route, ...]

    def claims(self, host: str, path: str) -> bool:
        if self.host is not None and self.host != host:
            return False
        return path == self.prefix or path.startswith(f"{self.prefix}/")


@dataclass
class _FaultState:
    fault: Fault
    pattern: re.Pattern[str]
    seen: int = 0
    applied: int = 0


@dataclass
class _Entry:
    """A log slot taken on arrival, so the log keeps arrival order; filled once answered."""

    logged: LoggedRequest
    answered: bool = False


class Sandbox:
    """Fake services on one loopback port; a context manager that starts and stops the server.

    Heroku's API owns every path no other service claims; kintone lives under ``/k``, where a
    cybozu.com domain serves it (``/k/v1/...``, ``/k/guest/{space}/v1/...``). Heroku Connect's
    discovery host lives under ``/connect`` and its cells under ``/cells/us`` and ``/cells/eu``.
    GitHub's REST API lives under ``/github``, as GitHub Enterprise Server's lives under
    ``/api/v3``; the deployed apps' own endpoints, for health checks, under ``/web/{app}``.
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, tls: TlsConfig | None = None
    ) -> None:
        self._address = (host, port)
        self._tls = tls
        self._lock = threading.Lock()
        self._mounts: list[_Mount] = []
        self._faults: list[_FaultState] = []
        self._log: list[_Entry] = []
        self._in_flight: dict[Service, int] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._hung = threading.Event()
        self.heroku = FakeHeroku()
        self.mount(self.heroku)
        self.kintone = FakeKintone()
        self.mount(self.kintone, prefix="/k")
        self.connect = FakeConnect()
        for service, prefix in self.connect.mounts():
            self.mount(service, prefix=prefix)
        self.github = FakeGitHub()
        self.mount(self.github, prefix="/github")
        self.web = FakeWebApps()
        self.mount(self.web, prefix="/web")

    def mount(self, service: Service, *, prefix: str = "", host: str | None = None) -> None:
        """Serve ``service`` under a path prefix and/or only for one ``Host`` (port ignored)."""
        added = _Mount(service, prefix.rstrip("/"), host, tuple(service.routes()))
        with self._lock:
            # Most specific first: a Host-bound mount, then the longest prefix. A new list, so
            # connection threads can keep iterating the one they took.
            self._mounts = sorted(
                [*self._mounts, added], key=lambda m: (m.host is None, -len(m.prefix))
            )

    # Lifecycle.

    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError("sandbox already started")
        server = _Server(self._address, _Handler)
        server.sandbox = self
        server.tls = None if self._tls is None else self._tls.context()
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self.release_hung()
        server.shutdown()
        server.server_close()
        server.close_connections()
        thread.join()
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("sandbox not started")
        host, port = self._server.server_address[:2]
        return f"{self._scheme}://{host!s}:{port}"

    @property
    def _scheme(self) -> str:
        return "http" if self._tls is None else "https"

    # Request log.

    @property
    def requests(self) -> list[LoggedRequest]:
        with self._lock:
            return [e.logged for e in self._log if e.answered]

    def writes(self) -> list[LoggedRequest]:
        return [r for r in self.requests if r.is_write]

    def requests_in_flight(self) -> list[LoggedRequest]:
        """Requests that arrived and are not answered yet (status 0), slowed by a fault, say:
        a test can wait for one to act at a precise moment of a client's run."""
        with self._lock:
            return [e.logged for e in self._log if not e.answered]

    def clear_requests(self) -> None:
        with self._lock:
            self._log.clear()

    def request_log_text(self) -> str:
        return "".join(f"{r.line()}\n" for r in self.requests)

    # Faults.

    def add_fault(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(_FaultState(fault, re.compile(fault.match)))

    def release_hung(self) -> None:
        """Let every response held by a ``hang`` fault go (the service's own answer)."""
        self._hung.set()

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    # Serving, called from connection threads.

    def _control(self, method: str, path: str) -> Reply:
        if (method, path) == ("GET", f"{CONTROL_PREFIX}requests"):
            return Reply.json(200, [dataclasses.asdict(r) for r in self.requests])
        return Reply.text(404, f"no sandbox control route {method} {path}\n")

    def _exchange(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> Reply | None:
        """Route one request, apply any due fault, and log it; None means drop the response."""
        path, _, query = target.partition("?")
        if path.startswith(CONTROL_PREFIX):
            return self._control(method, path)
        host = next((v for k, v in headers.items() if k.lower() == "host"), "")
        mounts = self._mounts
        mount = next((m for m in mounts if m.claims(_hostname(host), path)), None)
        if mount is None:
            return Reply.text(404, f"no fake service serves {path}\n")
        local = path[len(mount.prefix) :]
        route, params = next(
            ((r, p) for r in mount.routes if (p := r.match(method, local)) is not None),
            (None, {}),
        )
        base_url = f"{self._scheme}://{host}{mount.prefix}" if host else f"{self.url}{mount.prefix}"
        request = Request(method, local, query, headers, body, base_url, params)
        entry, in_flight = self._arrive(request, mounts, mount, route)
        request = dataclasses.replace(request, in_flight=in_flight)
        fault = self._due_fault(f"{method} {path}")
        if fault is not None:
            time.sleep(fault.delay_seconds)
            if fault.hang:
                self._hung.wait()
        if fault is not None and fault.status is not None:
            reply = mount.service.error_reply(request, fault.status, fault.error_id, fault.message)
            if fault.retry_after is not None:
                reply = reply.with_headers(("Retry-After", fault.retry_after))
        elif route is None:
            reply = mount.service.error_reply(request, 404, None, None)
        else:
            reply = _call(mount.service, route, request)
        if fault is not None and fault.headers:
            reply = reply.with_headers(*fault.headers)
        dropped = fault is not None and fault.drop_response
        self._answer(entry, mount.service, 0 if dropped else reply.status)
        return None if dropped else reply

    def _arrive(
        self, request: Request, mounts: list[_Mount], mount: _Mount, route: Route | None
    ) -> tuple[_Entry, int]:
        """Log the request and count it in flight for its service; returns the slot and count."""
        secrets = sorted(
            {s for m in mounts for s in m.service.secrets() if s}, key=len, reverse=True
        )

        def scrub(text: str) -> str:
            for secret in secrets:
                text = text.replace(secret, REDACTED)
            return _TOKEN.sub(REDACTED, text)

        local = request.path if route is None else route.redact(request.path)
        text = scrub(request.body.decode("utf-8", errors="replace"))
        try:
            body: Any = json.loads(text) if text else None
        except ValueError:
            body = text
        logged = LoggedRequest(
            method=request.method,
            path=scrub(mount.prefix + local),
            query=scrub(request.query),
            headers={
                k: REDACTED if _SECRET_HEADER.fullmatch(k) else scrub(v)
                for k, v in request.headers.items()
            },
            body=body,
            status=0,
            service=mount.service.name,
            received_at=time.monotonic(),
        )
        entry = _Entry(logged)
        with self._lock:
            self._log.append(entry)
            in_flight = self._in_flight[mount.service] = self._in_flight.get(mount.service, 0) + 1
        return entry, in_flight

    def _answer(self, entry: _Entry, service: Service, status: int) -> None:
        with self._lock:
            entry.logged = dataclasses.replace(entry.logged, status=status)
            entry.answered = True
            self._in_flight[service] -= 1

    def _due_fault(self, target: str) -> Fault | None:
        due = None
        with self._lock:
            for state in self._faults:
                if not state.pattern.search(target):
                    continue
                state.seen += 1
                limit = state.fault.times
                if (
                    due is None
                    and state.seen % state.fault.every == 0
                    and (limit is None or state.applied < limit)
                ):
                    state.applied += 1
                    due = state.fault
        return due


def _hostname(host: str) -> str:
    return re.sub(r":\d+$", "", host)


def _call(service: Service, route: Route, request: Request) -> Reply:
    """Run a handler; a bug in a fake answers 500 loudly instead of hanging the client."""
    try:
        return route.handler(request)
    except Exception:
        traceback.print_exc()
        return service.error_reply(request, 500, None, "The sandbox failed; see its stderr.")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    sandbox: Sandbox
    tls: ssl.SSLContext | None

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def track(self, connection: socket.socket, *, alive: bool) -> None:
        with self._connections_lock:
            if alive:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def finish_request(self, request: Any, client_address: Any) -> None:
        """With TLS, shake hands here, in the connection's own thread, so a slow or refused
        client never holds up the accept loop."""
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        # The TLS socket takes over the connection's descriptor: closing it is ours to do.
        with self.tls.wrap_socket(request, server_side=True) as secure:
            super().finish_request(secure, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that exits with keep-alive connections open resets them, and one without
        an acceptable certificate fails its handshake: that is normal for a client, not a
        sandbox failure worth a traceback."""
        if isinstance(sys.exc_info()[1], ConnectionError | ssl.SSLError):
            return
        super().handle_error(request, client_address)

    def close_connections(self) -> None:
        """Wake connection threads idling on keep-alive so a stopped sandbox leaves no socket."""
        with self._connections_lock:
            for connection in self._connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in separate writes; with Nagle on, delayed ACKs add ~40 ms to each.
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, alive=True)

    def finish(self) -> None:
        self.server.track(self.connection, alive=False)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: the sandbox keeps its own, redacted, request log."""

    def _serve(self) -> None:
        body = self._read_body()
        # One entry per field, however many lines and whatever case it came in: a repeated
        # field's values joined with ", " mean the same (RFC 9110 5.3).
        names = {name.lower(): name for name in self.headers}
        headers = {name: ", ".join(self.headers.get_all(name, [])) for name in names.values()}
        reply = self.server.sandbox._exchange(self.command, self.path, headers, body)
        if reply is None:
            self.close_connection = True
            return
        try:
            self._send(reply)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _serve

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts = []
            while size := int(self.rfile.readline().split(b";")[0], 16):
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailer fields
            return b"".join(parts)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        if reply.chunks is None:
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for chunk in reply.chunks:
            if chunk:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")
