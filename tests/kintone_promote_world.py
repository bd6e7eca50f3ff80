"""kintone-promote's sandbox world: a development app built up from a fresh one, and two
production apps still as fresh as the day they were created."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from promote_sandbox import Sandbox

WIDGET_JS = b"kintone.events.on('app.record.index.show', () => console.log('orders'));\n"

FIELDS: dict[str, Any] = {
    "Title": {
        "type": "SINGLE_LINE_TEXT",
        "code": "Title",
        "label": "Order title",
        "noLabel": False,
        "required": True,
        "unique": False,
        "maxLength": "64",
        "minLength": "",
        "defaultValue": "",
        "expression": "",
        "hideExpression": False,
    },
    "Amount": {"type": "NUMBER", "code": "Amount", "label": "Amount", "required": False},
    "Customer": {"type": "SINGLE_LINE_TEXT", "code": "Customer", "label": "Customer"},
}
LAYOUT = [
    {"type": "ROW", "fields": [{"type": "SINGLE_LINE_TEXT", "code": "Title"}]},
    {
        "type": "ROW",
        "fields": [
            {"type": "NUMBER", "code": "Amount"},
            {"type": "SINGLE_LINE_TEXT", "code": "Customer"},
        ],
    },
]
VIEWS = {
    "All records": {
        "type": "LIST",
        "name": "All records",
        "index": "0",
        "fields": ["Record_number", "Title", "Amount"],
        "filterCond": "",
        "sort": "Record_number desc",
    },
    "Big orders": {
        "type": "LIST",
        "name": "Big orders",
        "index": "1",
        "fields": ["Title", "Amount"],
        "filterCond": "Amount > 1000",
        "sort": "Amount desc",
    },
}


@dataclass
class PromoteWorld:
    sandbox: Sandbox
    source: str
    targets: list[str]

    def inputs(self, **overrides: str) -> dict[str, str]:
        values = {
            "operation": "kintone-promote",
            "kintone-base-url": self.sandbox.url,
            "kintone-apps": ",".join(self.targets),
            "kintone-source-app": self.source,
            "kintone-username": "deployer",
            "kintone-password": "s3cret pass",
            "timeout": "30s",
        }
        values.update({k.replace("_", "-"): v for k, v in overrides.items()})
        return {k: v for k, v in values.items() if v != "<unset>"}

    def settings_writes(self) -> list[tuple[str, str, str]]:
        """(method, path, app) of each preview settings write and upload, in order."""
        return [
            (r.method, r.path, str(r.body.get("app")) if isinstance(r.body, dict) else "")
            for r in self.sandbox.writes()
            if r.service == "kintone" and not r.path.endswith("/deploy.json")
        ]

    def deploy_posts(self) -> list[Any]:
        return [
            r
            for r in self.sandbox.writes()
            if r.service == "kintone" and r.path.endswith("/deploy.json")
        ]


def build_source(sandbox: Sandbox, name: str = "Orders (dev)", app_id: int | None = None) -> str:
    """A development app with fields, a layout, two views, process management and a JS file,
    all deployed to its production side."""
    k = sandbox.kintone
    app = k.add_app(app_id, name=name, managers=["deployer"]).id
    file_key = k.add_file("orders.js", WIDGET_JS)
    fields = {"Record_number": k.app(app).preview["form/fields"]["properties"]["Record_number"]}
    k.change_preview(
        app,
        fields={**fields, **FIELDS},
        layout=LAYOUT,
        views=VIEWS,
        status={"enable": True},
        customize={
            "desktop": {
                "js": [
                    {"type": "URL", "url": "https://cdn.example.test/lib.js"},
                    {"type": "FILE", "file": {"fileKey": file_key}},
                ],
                "css": [],
            }
        },
    )
    k.publish(app)
    return app


@pytest.fixture(name="promote")
def promote_world_fixture(sandbox: Sandbox) -> PromoteWorld:
    k = sandbox.kintone
    k.add_user("deployer", "s3cret pass")
    source = build_source(sandbox)
    targets = [k.add_app(name=f"Orders {n}", managers=["deployer"]).id for n in ("EU", "US")]
    k.set_deploy_behaviour(processing_seconds=0.2)
    return PromoteWorld(sandbox, source, targets)
