"""Measure pipeline-promote against the sandbox, next to a one-second poller.

Scenario (issue 3): the promotion takes 2 s to create the target releases, each release then
runs a 1 s release phase (`--long` adds 30 s phases). Measured for 1 and 20 production targets:

- wall: our run, interpreter start included
- late: our exit minus the moment the last target release became live
- requests: every API request of the run, and those spent waiting (after the POST)
- 1s poller: what a loop that polls the targets every second and then every target release
  every second (the official CLI's cadence, extended to wait for the releases) spends waiting
  on the same scenario
- official CLI: `heroku pipelines:promote` itself; a negative `late` means it reported
  success that long before the releases were live

Run `python benchmarks/pipeline_promote.py`. Quote ratios from one run: machines are noisy.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from harness import run_timed
from promote_sandbox import Sandbox

PROMOTION_SECONDS = 2.0
CLI = Path(__file__).resolve().parent.parent / ".tools/heroku-cli/node_modules/.bin/heroku"
ACCEPT = "application/vnd.heroku+json; version=3"


def scenario(
    sandbox: Sandbox, targets: int, release_phase: float, log: bool = True
) -> tuple[str, list[str]]:
    h = sandbox.heroku
    token = h.add_user("bench@example.com")
    pipeline = h.add_pipeline("bench", owner_token=token)
    h.add_app("bench-staging", owner_token=token)
    slug = h.add_slug("bench-staging", commit="b" * 40)
    h.add_release("bench-staging", slug_id=slug)
    h.couple("bench-staging", pipeline.id, "staging")
    names = [f"bench-prod-{i:02d}" for i in range(targets)]
    for name in names:
        h.add_app(name, owner_token=token)
        h.couple(name, pipeline.id, "production")
        h.set_release_behaviour(
            name,
            pending_seconds=release_phase,
            release_phase_lines=["migrating", "done"] if log else None,
            stream_delay_seconds=0.1,
        )
    h.set_promotion_behaviour(pending_seconds=PROMOTION_SECONDS)
    return token, names


def ours(targets: int, release_phase: float, log: bool = True) -> dict[str, float]:
    with Sandbox() as sandbox:
        token, _ = scenario(sandbox, targets, release_phase, log)
        started, exited = run_timed(
            {
                "operation": "pipeline-promote",
                "heroku-api-key": token,
                "heroku-api-url": sandbox.url,
                "source-app": "bench-staging",
            }
        )
        requests = sandbox.requests
        post = next(r for r in requests if r.path == "/pipeline-promotions")
        live = post.received_at + PROMOTION_SECONDS + release_phase
        return {
            "wall": exited - started,
            "late": exited - live,
            "requests": len(requests),
            "waiting": sum(1 for r in requests if r.received_at > post.received_at),
        }


def one_second_poller(targets: int, release_phase: float) -> dict[str, float]:
    """The reference cadence: poll every second, no backoff, then each release every second."""
    with Sandbox() as sandbox:
        token, names = scenario(sandbox, targets, release_phase)
        h = sandbox.heroku
        headers = {"Accept": ACCEPT, "Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=sandbox.url, headers=headers) as api:
            body = {
                "pipeline": {"id": h.pipelines()[0].id},
                "source": {"app": {"id": h.app("bench-staging").id}},
                "targets": [{"app": {"id": h.app(n).id}} for n in names],
            }
            promotion = api.post("/pipeline-promotions", json=body).json()
            waited = 0
            while True:
                time.sleep(1)
                found = api.get(f"/pipeline-promotions/{promotion['id']}/promotion-targets")
                waited += 1
                if all(t["status"] != "pending" for t in found.json()):
                    break
            for target in found.json():
                while True:
                    release = api.get(
                        f"/apps/{target['app']['id']}/releases/{target['release']['id']}"
                    ).json()
                    waited += 1
                    if release["status"] != "pending":
                        break
                    time.sleep(1)
        return {"waiting": waited}


def official_cli(targets: int, release_phase: float) -> dict[str, float] | None:
    """`heroku pipelines:promote` (installed by `make unit`) on the same scenario: how long it
    runs, what it spends, and how long before the releases are live it already says success."""
    if not CLI.exists():
        return None
    with Sandbox() as sandbox, tempfile.TemporaryDirectory() as tmp:
        token, _ = scenario(sandbox, targets, release_phase)
        home, work = Path(tmp, "home"), Path(tmp, "work")
        home.mkdir()
        work.mkdir()
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(home),
            "HEROKU_HOST": sandbox.url,
            "HEROKU_API_KEY": token,
            "DISABLE_TELEMETRY": "true",
            "HEROKU_SKIP_NEW_VERSION_CHECK": "true",
            "HEROKU_DISABLE_AUTOUPDATE": "true",
            "HEROKU_PARTICLEBOARD_URL": sandbox.url,
        }
        started = time.monotonic()
        subprocess.run(
            [str(CLI), "pipelines:promote", "-a", "bench-staging"],
            env=env,
            cwd=work,
            capture_output=True,
            timeout=300,
            check=False,
        )
        exited = time.monotonic()
        requests = sandbox.requests
        post = next(r for r in requests if r.path == "/pipeline-promotions")
        live = post.received_at + PROMOTION_SECONDS + release_phase
        return {"wall": exited - started, "late": exited - live, "requests": len(requests)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long", action="store_true", help="also 30 s release phases")
    args = parser.parse_args()
    print(
        f"{'targets':>7} {'phase':>6} {'wall':>7} {'late':>6} {'requests':>9} "
        f"{'waiting':>8} {'1s poller':>10}   official CLI: wall, late, requests"
    )
    for targets in (3,):
        for log in (False, True):
            m = ours(targets, 1.0, log)
            print(
                f"{targets:>7} {1:>5.0f}s {m['wall']:>6.2f}s {m['late']:>5.2f}s "
                f"{m['requests']:>9.0f} {m['waiting']:>8.0f}   "
                f"({'with' if log else 'without'} a release-phase log; ours only)",
                flush=True,
            )
    phases = (1.0, 30.0) if args.long else (1.0,)
    for release_phase in phases:
        for targets in (1, 20):
            m = ours(targets, release_phase)
            reference = one_second_poller(targets, release_phase)
            cli = official_cli(targets, release_phase)
            cli_text = (
                f"{cli['wall']:.2f}s, {cli['late']:+.2f}s, {cli['requests']:.0f}"
                if cli
                else "not installed (make unit)"
            )
            print(
                f"{targets:>7} {release_phase:>5.0f}s {m['wall']:>6.2f}s {m['late']:>5.2f}s "
                f"{m['requests']:>9.0f} {m['waiting']:>8.0f} {reference['waiting']:>10.0f}   "
                f"{cli_text}",
                flush=True,
            )


if __name__ == "__main__":
    main()
