"""The demo sandbox on a chosen address with a chosen API key, for clients in another process or
container that cannot be handed the random key of `promote-sandbox`.

    PROMOTE_SANDBOX_TOKEN=HRKU-... python -m promote_sandbox.fixed --host 0.0.0.0 --port 8080

The self-test workflow runs it in a container built from the action's own image, on Docker's
default bridge network, where the action's container (also on that network) reaches it by IP.
The key comes from the environment, not the command line, so it shows in no process list.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable, Mapping, Sequence

from .fixtures import demo_fixture
from .server import Sandbox

TOKEN_VARIABLE = "PROMOTE_SANDBOX_TOKEN"  # noqa: S105 - the name of a variable, not a key


def fixed_fixture(sb: Sandbox, token: str) -> dict[str, str]:
    """The demo fixture, with ``token`` also allowed on every demo app."""
    fixture = demo_fixture(sb)
    sb.heroku.add_user("self-test@example.com", token=token)
    for app in [fixture["source_app"], *fixture["targets"].split(",")]:
        sb.heroku.grant(token, app)
    return fixture | {"token": token}


def serve(
    host: str,
    port: int,
    token: str,
    stopped: threading.Event,
    announce: Callable[[str], None] = lambda line: print(line, flush=True),
) -> None:
    """Serve the fixed fixture until ``stopped`` is set."""
    with Sandbox(host, port) as sb:
        fixed_fixture(sb, token)
        announce(f"sandbox listening on {sb.url}")
        stopped.wait()


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] = os.environ) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m promote_sandbox.fixed",
        description="Serve the demo sandbox with a fixed Heroku API key (from "
        f"{TOKEN_VARIABLE}) on a chosen address, until SIGTERM or SIGINT.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind (default: any free one)")
    options = parser.parse_args(argv)
    token = environ.get(TOKEN_VARIABLE, "").strip()
    if not token:
        parser.error(f"set {TOKEN_VARIABLE} to the API key clients will use")
    if not 0 <= options.port <= 65535:
        parser.error(f"--port {options.port} is not a port")
    stopped = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _signum, _frame: stopped.set())
    serve(options.host, options.port, token, stopped)
    return 0


if __name__ == "__main__":
    sys.exit(main())
