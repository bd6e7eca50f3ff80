"""`promote-sandbox` (`python -m promote_sandbox`): every fake, seeded for every operation, until
SIGINT or SIGTERM, for a person trying the action offline and for the self-test workflow's
container.

On start it says where it listens (stderr) and prints, on stdout, one `export KEY=value` line per
variable the action's CLI falls back to, so `promote-sandbox > sandbox.env &` then
`. ./sandbox.env` is all the setup a shell needs. The one secret (Heroku API key, kintone
password, GitHub token) comes from `--token`, else PROMOTE_SANDBOX_TOKEN (which shows in no
process list), else is random.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shlex
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from typing import TextIO

from .fixtures import full_demo_fixture
from .server import Sandbox

TOKEN_VARIABLE = "PROMOTE_SANDBOX_TOKEN"  # noqa: S105 - the name of a variable, not a key


SIGNAL_CHECK_SECONDS = 0.2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="promote-sandbox",
        description="Serve fakes of Heroku (apps, pipeline `demo`, release phases), Heroku "
        "Connect, kintone (apps 1-3) and GitHub (acme/shop) on one HTTP port, seeded so that "
        "every promote-action operation has something to do. Prints `export KEY=value` lines "
        "for the variables promote-action reads; stops on Ctrl-C or SIGTERM.",
        epilog="Example: promote-sandbox > sandbox.env & sleep 1; . ./sandbox.env; "
        "promote-action --operation slug-copy --source-app demo-staging "
        "--target-apps demo-production-eu",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind (default: any free one)")
    parser.add_argument(
        "--token",
        default=None,
        help=f"the secret every fake accepts (default: ${TOKEN_VARIABLE}, else random)",
    )
    return parser


def environment(sb: Sandbox, fixture: Mapping[str, str], token: str) -> dict[str, str]:
    """The variables promote-action's CLI falls back to, pointing at ``sb``."""
    return {
        "HEROKU_API_URL": sb.url,
        "HEROKU_API_KEY": token,
        "KINTONE_BASE_URL": sb.url,
        "KINTONE_USERNAME": fixture["kintone_username"],
        "KINTONE_PASSWORD": token,
        "CONNECT_API_URL": f"{sb.url}/connect",
        "GITHUB_API_URL": f"{sb.url}/github",
        "GITHUB_TOKEN": token,
        "GITHUB_REPOSITORY": fixture["repository"],
        "GITHUB_SHA": fixture["sha"],
    }


def serve(
    host: str, port: int, token: str, stopped: threading.Event, *, stdout: TextIO, stderr: TextIO
) -> None:
    """Serve the seeded fakes until ``stopped`` is set."""
    with Sandbox(host, port) as sb:
        fixture = full_demo_fixture(sb, token)
        print(f"sandbox listening on {sb.url}", file=stderr, flush=True)
        for key, value in environment(sb, fixture, token).items():
            print(f"export {key}={shlex.quote(value)}", file=stdout, flush=True)
        # Woken now and then: a signal delivered to a server thread only runs its Python
        # handler once the main thread is back in the interpreter.
        while not stopped.wait(SIGNAL_CHECK_SECONDS):
            pass


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] = os.environ) -> int:
    parser = build_parser()
    options = parser.parse_args(argv)
    if not 0 <= options.port <= 65535:
        parser.error(f"--port {options.port} is not a port")
    token = (options.token or environ.get(TOKEN_VARIABLE, "")).strip()
    token = token or "HRKU-" + secrets.token_hex(30)
    stopped = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _signum, _frame: stopped.set())
    serve(options.host, options.port, token, stopped, stdout=sys.stdout, stderr=sys.stderr)
    return 0
