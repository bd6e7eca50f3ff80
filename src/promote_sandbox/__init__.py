"""Fakes of the services promote-action talks to, served over real HTTP on loopback."""

from __future__ import annotations

from .fixtures import demo_fixture, full_demo_fixture
from .foreign import ForeignHost
from .server import Fault, LoggedRequest, Sandbox, TlsConfig

__all__ = [
    "Fault",
    "ForeignHost",
    "LoggedRequest",
    "Sandbox",
    "TlsConfig",
    "demo_fixture",
    "full_demo_fixture",
]
