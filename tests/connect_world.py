"""Shared by the integration and end-to-end tests: the sandbox state they start from."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from promote_sandbox import Sandbox

ACCOUNT = {
    "object_name": "Account",
    "config": {
        "access": "read_only",
        "sf_notify_enabled": False,
        "sf_polling_seconds": 600,
        "sf_max_daily_api_calls": 30000,
        "fields": {"Id": {}, "Name": {}, "SystemModstamp": {}},
        "indexes": {"Id": {"unique": True}},
    },
}


CONTACT = {
    "object_name": "Contact",
    "config": {
        "access": "read_write",
        "sf_notify_enabled": False,
        "sf_polling_seconds": 600,
        "sf_max_daily_api_calls": 30000,
        "fields": {"Id": {}, "Email": {}, "SystemModstamp": {}},
        "indexes": {"Id": {"unique": True}},
        "upsert_field": "External_Id__c",
    },
}


LEAD = {
    "object_name": "Lead",
    "config": {
        "access": "read_only",
        "sf_notify_enabled": False,
        "sf_polling_seconds": 600,
        "sf_max_daily_api_calls": 30000,
        "fields": {"Id": {}, "SystemModstamp": {}},
        "indexes": {},
    },
}


def with_field(mapping: dict, field: str) -> dict:
    changed = json.loads(json.dumps(mapping))
    changed["config"]["fields"][field] = {}
    return changed


@dataclass
class ConnectWorld:
    """Staging (cell us) maps Account + Contact (+Phone on Account); production (cell eu) maps
    Account and Lead."""

    sandbox: Sandbox
    token: str
    staging: str
    production: str

    def inputs(self, operation: str = "connect-promote", **overrides: str) -> dict[str, str]:
        values = {
            "operation": operation,
            "heroku-api-key": self.token,
            "connect-api-url": f"{self.sandbox.url}/connect",
            "target-apps": "shop-prod",
            "timeout": "60s",
        }
        if operation == "connect-promote":
            values["source-app"] = "shop-staging"
        values.update({k.replace("_", "-"): v for k, v in overrides.items()})
        return values

    def writes(self) -> list:
        return [r for r in self.sandbox.writes() if r.path.startswith(("/connect", "/cells"))]


@pytest.fixture(name="world")
def connect_world_fixture(sandbox: Sandbox) -> ConnectWorld:
    token = sandbox.heroku.add_user("ops@example.com")
    c = sandbox.connect
    c.set_timing(
        lag_seconds=0.3,
        import_seconds=0.3,
        mapping_sync_seconds=0.3,
        pause_seconds=0.2,
        resume_seconds=0.2,
        diagnose_polls=1,
    )
    staging = c.add_connection(
        "shop-staging",
        owner_token=token,
        cell="us",
        mappings=[with_field(ACCOUNT, "Phone"), CONTACT],
    )
    production = c.add_connection(
        "shop-prod", owner_token=token, cell="eu", mappings=[ACCOUNT, LEAD]
    )
    return ConnectWorld(sandbox, token, staging, production)


def objects(world: ConnectWorld) -> dict[str, dict]:
    return {m["object_name"]: m for m in world.sandbox.connect.export(world.production)["mappings"]}
