"""Measure a kintone-promote of an app with 100 fields and 10 views to 3 production apps.

- requests: every kintone request of the run, split into the plan's reads (source and
  targets), the preview writes and uploads, the deploy with its status polls, and the
  verification of production
- overhead: wall time minus the time the sandbox takes to process the deploy

Run `python benchmarks/kintone_promote.py`. Quote ratios from one run: machines are noisy.
"""

from __future__ import annotations

from harness import run_timed
from promote_sandbox import Sandbox

FIELDS = 100
VIEWS = 10
TARGETS = 3
DEPLOY_SECONDS = 2.0


def main() -> None:
    with Sandbox() as sandbox:
        k = sandbox.kintone
        k.add_user("bench", "bench-password")
        source = k.add_app(name="Orders (dev)", managers=["bench"]).id
        properties = dict(k.app(source).preview["form/fields"]["properties"])
        for n in range(FIELDS):
            code = f"Field_{n:03}"
            properties[code] = {"type": "NUMBER", "code": code, "label": f"Field {n}"}
        codes = [c for c in properties if c != "Record_number"]
        layout = [
            {"type": "ROW", "fields": [{"type": properties[c]["type"], "code": c} for c in row]}
            for row in (codes[i : i + 4] for i in range(0, len(codes), 4))
        ]
        views = {
            f"View {n}": {
                "type": "LIST",
                "name": f"View {n}",
                "index": str(n),
                "fields": codes[n * 5 : n * 5 + 8],
                "filterCond": f"Field_{n:03} > {n}",
                "sort": "Record_number desc",
            }
            for n in range(VIEWS)
        }
        script = k.add_file("orders.js", b"console.log('orders');\n" * 200)
        customize = {"desktop": {"js": [{"type": "FILE", "file": {"fileKey": script}}], "css": []}}
        k.change_preview(source, fields=properties, layout=layout, views=views, customize=customize)
        k.publish(source)
        targets = [k.add_app(name=f"Orders {n}", managers=["bench"]).id for n in range(TARGETS)]
        k.set_deploy_behaviour(processing_seconds=DEPLOY_SECONDS)

        started, exited = run_timed(
            {
                "operation": "kintone-promote",
                "kintone-base-url": sandbox.url,
                "kintone-apps": ",".join(targets),
                "kintone-source-app": source,
                "kintone-username": "bench",
                "kintone-password": "bench-password",
            }
        )
        requests = sandbox.requests
        deploy = next(r for r in requests if r.is_write and r.path.endswith("/deploy.json"))
        first_write = next(r for r in requests if r.is_write)
        before_writes = [r for r in requests if r.received_at < first_write.received_at]
        writes = [r for r in requests if r.is_write and r is not deploy]
        polls = [r for r in requests if r.path.endswith("/deploy.json") and not r.is_write]
        after = [r for r in requests if r.received_at > deploy.received_at + DEPLOY_SECONDS]
        verify = [r for r in after if not r.path.endswith("/deploy.json")]
        wall = exited - started
        print(f"{FIELDS} fields, {VIEWS} views, {TARGETS} targets, deploy {DEPLOY_SECONDS:.1f}s")
        print(f"wall: {wall:.2f}s, overhead beyond the deploy: {wall - DEPLOY_SECONDS:.2f}s")
        print(
            f"requests: {len(requests)} (plan reads {len(before_writes)}, writes and uploads "
            f"{len(writes)}, deploy 1 + status polls {len(polls)}, verification {len(verify)})"
        )


if __name__ == "__main__":
    main()
