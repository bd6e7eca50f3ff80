"""Measure how fast the action gets going and how fast it leaves, as the runner starts it.

- first request: the sandbox's receipt of the first API request minus the process start
  (interpreter, imports, inputs, TLS context, the operation's module)
- after last request: our exit minus the sandbox's receipt of the last request (summary,
  outputs, shutdown)

A slug-copy of one target whose release is live at once; medians of `--runs` runs.
Run `python benchmarks/startup.py`. Quote ratios from one run: machines are noisy.
"""

from __future__ import annotations

import argparse
import statistics

from harness import run_timed
from promote_sandbox import Sandbox


def run() -> tuple[float, float]:
    with Sandbox() as sandbox:
        h = sandbox.heroku
        token = h.add_user("bench@example.com")
        h.add_app("bench-staging", owner_token=token)
        h.add_release("bench-staging", slug_id=h.add_slug("bench-staging", commit="c" * 40))
        h.add_app("bench-prod", owner_token=token)
        h.set_release_behaviour("bench-prod", pending_seconds=0.0)
        started, exited = run_timed(
            {
                "operation": "slug-copy",
                "heroku-api-key": token,
                "heroku-api-url": sandbox.url,
                "source-app": "bench-staging",
                "target-apps": "bench-prod",
            }
        )
        requests = sandbox.requests
        return requests[0].received_at - started, exited - requests[-1].received_at


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    firsts, lasts = zip(*(run() for _ in range(args.runs)), strict=True)
    print(f"runs: {args.runs}")
    print(f"process start -> first request: median {statistics.median(firsts):.3f}s")
    print(f"last request -> exit: median {statistics.median(lasts):.3f}s")


if __name__ == "__main__":
    main()
