"""Measure connect-promote (import, wait, verify, diagnose) against the sandbox.

The sandbox applies an import `lag` after the request and takes `import` seconds to do it
(the connection is then IDLE again, with the new configuration); a new mapping then reloads its
table. The diagnosis answers 202 to its first read, then its result.

- late: our exit minus the moment the import was applied (the connection healthy again with the
  new configuration): what is left is seeing it, the diagnosis and the report
- requests: every request of the run, and those after the import request

Run `python benchmarks/connect_promote.py`. Quote ratios from one run: machines are noisy.
"""

from __future__ import annotations

import statistics

from harness import run_timed
from promote_sandbox import Sandbox

LAG, IMPORT, SYNC = 0.5, 0.5, 0.5
MAPPING = {
    "access": "read_only",
    "sf_notify_enabled": False,
    "sf_polling_seconds": 600,
    "sf_max_daily_api_calls": 30000,
    "fields": {"Id": {}, "Name": {}, "SystemModstamp": {}},
    "indexes": {"Id": {"unique": True}},
}


def run() -> dict[str, float]:
    with Sandbox() as sandbox:
        token = sandbox.heroku.add_user("bench@example.com")
        c = sandbox.connect
        c.set_timing(lag_seconds=LAG, import_seconds=IMPORT, mapping_sync_seconds=SYNC)
        account = {"object_name": "Account", "config": MAPPING}
        contact = {"object_name": "Contact", "config": MAPPING}
        c.add_connection("bench-staging", owner_token=token, mappings=[account, contact])
        c.add_connection("bench-prod", owner_token=token, mappings=[account])
        started, exited = run_timed(
            {
                "operation": "connect-promote",
                "heroku-api-key": token,
                "connect-api-url": f"{sandbox.url}/connect",
                "source-app": "bench-staging",
                "target-apps": "bench-prod",
            }
        )
        requests = sandbox.requests
        post = next(r for r in requests if r.path.endswith("/actions/import"))
        applied = post.received_at + LAG + IMPORT
        return {
            "wall": exited - started,
            "late": exited - applied,
            "requests": len(requests),
            "after": sum(1 for r in requests if r.received_at > post.received_at),
        }


def main() -> None:
    runs = [run() for _ in range(3)]
    print("connect-promote: import of one new mapping, then diagnosis (medians of 3 runs)")
    for key, unit in (("wall", "s"), ("late", "s"), ("requests", ""), ("after", "")):
        value = statistics.median(r[key] for r in runs)
        print(f"{key:>9}: {value:.2f}{unit}" if unit else f"{key:>9}: {value:.0f}")


if __name__ == "__main__":
    main()
