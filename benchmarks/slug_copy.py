"""Measure slug-copy against the sandbox: overhead, API requests and how late we notice.

Each scenario runs the action in a child process exactly as the runner does, against an
in-process sandbox whose releases settle a known time after they are created:

- overhead: our wall time (interpreter start included) minus the release's own duration
- requests per release: every API request of the run, divided by the number of targets
- noticed late: our exit minus the moment the last release became live
- plan: the first request to the first release created (resolving source and targets)
- waiting per minute: requests after the releases were created, per target, per minute of the
  release's duration (the cost model of benchmarks/README.md)

Run `python benchmarks/slug_copy.py` (about 2.5 minutes) or `--quick` (the short scenarios).
Numbers vary between machines and runs; quote ratios from a single run.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from harness import run_timed
from promote_sandbox import Sandbox


@dataclass(frozen=True)
class Scenario:
    name: str
    targets: int
    release_seconds: float
    release_phase: bool


SCENARIOS = [
    Scenario("no release phase, 0.2s", 1, 0.2, release_phase=False),
    Scenario("no release phase, 1s", 1, 1.0, release_phase=False),
    Scenario("no release phase, 3s", 1, 3.0, release_phase=False),
    Scenario("no release phase, 1s, 50 targets", 50, 1.0, release_phase=False),
    Scenario("release phase, 2s", 1, 2.0, release_phase=True),
    Scenario("release phase, 2s, 20 targets", 20, 2.0, release_phase=True),
    Scenario("release phase, 60s", 1, 60.0, release_phase=True),
    Scenario("no release phase (polling only), 60s", 1, 60.0, release_phase=False),
]


def run(scenario: Scenario) -> dict[str, float]:
    with Sandbox() as sandbox:
        h = sandbox.heroku
        token = h.add_user("bench@example.com")
        h.add_app("bench-staging", owner_token=token)
        slug = h.add_slug("bench-staging", commit="a" * 40)
        h.add_release("bench-staging", slug_id=slug)
        targets = [f"bench-prod-{i:02d}" for i in range(scenario.targets)]
        lines = [f"step {n}" for n in range(10)] if scenario.release_phase else None
        for name in targets:
            h.add_app(name, owner_token=token)
            h.set_release_behaviour(
                name,
                pending_seconds=scenario.release_seconds,
                release_phase_lines=lines,
                stream_delay_seconds=min(1.0, scenario.release_seconds / 4),
            )
        started, exited = run_timed(
            {
                "operation": "slug-copy",
                "heroku-api-key": token,
                "heroku-api-url": sandbox.url,
                "source-app": "bench-staging",
                "target-apps": ",".join(targets),
            }
        )
        requests = sandbox.requests
        posts = [r for r in requests if r.method == "POST"]
        live = max(r.received_at for r in posts) + scenario.release_seconds
        waiting = [r for r in requests if r.received_at > posts[0].received_at]
        return {
            "wall": exited - started,
            "overhead": exited - started - scenario.release_seconds,
            "requests": len(requests) / scenario.targets,
            "late": exited - live,
            "plan": posts[0].received_at - requests[0].received_at,
            "per_minute": len(waiting) / scenario.targets / (scenario.release_seconds / 60),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the 60 s scenarios")
    args = parser.parse_args()
    header = (
        f"{'scenario':<40} {'wall':>7} {'overhead':>9} {'req/release':>12} {'late':>7} "
        f"{'plan':>6} {'waiting/min':>12}"
    )
    print(header)
    print("-" * len(header))
    for scenario in SCENARIOS:
        if args.quick and scenario.release_seconds > 10:
            continue
        m = run(scenario)
        print(
            f"{scenario.name:<40} {m['wall']:>6.2f}s {m['overhead']:>8.2f}s "
            f"{m['requests']:>12.1f} {m['late']:>6.2f}s {m['plan']:>5.2f}s "
            f"{m['per_minute']:>12.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
