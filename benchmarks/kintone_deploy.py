"""Measure a 300-app kintone deploy against the sandbox.

- requests per poll: status requests while the deploy ran, each covering all 300 apps (target 1)
- overhead: our exit minus the moment the deploy finished in the sandbox (target under 0.5 s);
  it includes verifying every app's production revision (300 reads, a few at a time)

Run `python benchmarks/kintone_deploy.py`. Quote ratios from one run: machines are noisy.
"""

from __future__ import annotations

from harness import run_timed
from promote_sandbox import Sandbox

APPS = 300
DEPLOY_SECONDS = 5.0


def main() -> None:
    with Sandbox() as sandbox:
        k = sandbox.kintone
        k.add_user("bench", "bench-password")
        apps = [
            k.add_app(managers=["bench"], preview_revision=2, live_revision=1).id
            for _ in range(APPS)
        ]
        k.set_deploy_behaviour(processing_seconds=DEPLOY_SECONDS)
        started, exited = run_timed(
            {
                "operation": "kintone-deploy",
                "kintone-base-url": sandbox.url,
                "kintone-apps": ",".join(apps),
                "kintone-username": "bench",
                "kintone-password": "bench-password",
            }
        )
        requests = sandbox.requests
        deploy = next(r for r in requests if r.is_write and r.path.endswith("/deploy.json"))
        finished = deploy.received_at + DEPLOY_SECONDS
        polls = [r for r in requests if r.path.endswith("/deploy.json") and not r.is_write]
        apps_per_poll = {len(r.body["apps"]) if r.body else r.query.count("apps") for r in polls}
        print(f"apps: {APPS}, deploy time: {DEPLOY_SECONDS:.1f}s, wall: {exited - started:.2f}s")
        print(f"status polls: {len(polls)}, apps per poll: {sorted(apps_per_poll)}")
        print(f"overhead after the deploy finished: {exited - finished:.2f}s")
        plan = deploy.received_at - requests[0].received_at
        after = [r for r in requests if r.received_at > finished]
        print(f"plan (first request -> deploy request): {plan:.2f}s")
        print(f"requests after the deploy finished: {len(after)}")
        print(f"all requests: {len(requests)}")


if __name__ == "__main__":
    main()
