"""Fakes of the services promote-action talks to, served over real HTTP on loopback."""

from __future__ import annotations

import signal
import threading

from .fixtures import demo_fixture
from .foreign import ForeignHost
from .server import Fault, LoggedRequest, Sandbox, TlsConfig

__all__ = [
    "Fault",
    "ForeignHost",
    "LoggedRequest",
    "Sandbox",
    "TlsConfig",
    "demo_fixture",
    "serve_forever",
]


def serve_forever(host: str = "127.0.0.1", port: int = 0) -> None:
    """Run the demo sandbox for out-of-process clients until SIGTERM or SIGINT."""
    stopped = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _signum, _frame: stopped.set())
    with Sandbox(host, port) as sb:
        demo_fixture(sb)
        print(f"sandbox listening on {sb.url}", flush=True)
        stopped.wait()
