"""Ready-made sandbox states, shared by the demo and by tests that want a realistic start."""

from __future__ import annotations

import hashlib
from typing import Any

from .server import Sandbox

_STAGING_HISTORY = ("Initial import", "Add product list", "Add checkout page")
_TARGETS = ("demo-production-eu", "demo-production-us")


def demo_fixture(sb: Sandbox, token: str | None = None) -> dict[str, str]:
    """Staging three releases ahead of production, whose release phase takes a visible moment."""
    heroku = sb.heroku
    token = heroku.add_user("demo@example.com", token=token)
    heroku.add_app("demo-staging", owner_token=token)
    slugs = []
    for description in _STAGING_HISTORY:
        commit = hashlib.sha1(description.encode(), usedforsecurity=False).hexdigest()
        slug = heroku.add_slug("demo-staging", commit=commit, commit_description=description)
        heroku.add_release("demo-staging", slug_id=slug, status="succeeded")
        slugs.append(slug)
    for target in _TARGETS:
        heroku.add_app(target, owner_token=token)
        heroku.add_release(target, slug_id=slugs[0], status="succeeded")
        heroku.set_release_behaviour(
            target,
            pending_seconds=0.6,
            outcome="succeeded",
            release_phase_lines=[
                "Running release command...",
                "Applying database migrations: 3 pending",
                "Migrations complete",
            ],
            stream_delay_seconds=0.1,
        )
    return {"token": token, "source_app": "demo-staging", "targets": ",".join(_TARGETS)}


DEMO_PIPELINE = "demo"
DEMO_REPOSITORY = "acme/shop"
DEMO_KINTONE_USER = "demo"
DEMO_KINTONE_APPS = (1, 2, 3)
_MAIN_COMMIT = hashlib.sha1(b"main", usedforsecurity=False).hexdigest()
_RELEASE_COMMIT = hashlib.sha1(b"v1.4.0", usedforsecurity=False).hexdigest()


def _mapping(object_name: str, fields: list[str], access: str = "read_only") -> dict[str, Any]:
    """A Connect mapping in export form."""
    mapping: dict[str, Any] = {
        "object_name": object_name,
        "config": {
            "access": access,
            "sf_notify_enabled": False,
            "sf_polling_seconds": 600,
            "sf_max_daily_api_calls": 30000,
            "fields": {name: {} for name in ["Id", *fields, "SystemModstamp"]},
            "indexes": {"Id": {"unique": True}},
        },
    }
    if access == "read_write":
        mapping["config"]["upsert_field"] = "External_Id__c"
    return mapping


def full_demo_fixture(sb: Sandbox, token: str) -> dict[str, str]:
    """Something to try for every operation, all reachable with the one ``token``.

    Heroku: `demo_fixture`, its apps coupled in pipeline `demo` (staging ahead of the two
    production apps). kintone: apps 1, 2 and 3 with preview changes not yet deployed, managed by
    user `demo` whose password is ``token``. Heroku Connect: connections on demo-staging and
    demo-production-eu whose mappings differ (staging also maps Contact and Account.Phone).
    GitHub: repository `acme/shop` (writable with ``token``) with `main` and tag `v1.4.0`.
    """
    fixture = demo_fixture(sb, token)
    heroku = sb.heroku
    pipeline = heroku.add_pipeline(DEMO_PIPELINE, owner_token=token)
    heroku.couple(fixture["source_app"], pipeline.id, "staging")
    for target in fixture["targets"].split(","):
        heroku.couple(target, pipeline.id, "production")

    kintone = sb.kintone
    kintone.add_user(DEMO_KINTONE_USER, token)
    for app_id in DEMO_KINTONE_APPS:
        kintone.add_app(
            app_id,
            name=f"Orders {app_id}",
            managers=[DEMO_KINTONE_USER],
            preview_revision=6,
            live_revision=5,
        )

    # Loads last long enough for a client polling every 0.25 s on a busy machine to see them
    # (connect-reload is green only once it has seen the load it asked for).
    sb.connect.set_timing(mapping_sync_seconds=2.0)
    account = _mapping("Account", ["Name"])
    sb.connect.add_connection(
        fixture["source_app"],
        owner_token=token,
        cell="us",
        mappings=[
            _mapping("Account", ["Name", "Phone"]),
            _mapping("Contact", ["Email"], access="read_write"),
        ],
    )
    sb.connect.add_connection(
        "demo-production-eu", owner_token=token, cell="eu", mappings=[account]
    )

    sb.github.add_repo(DEMO_REPOSITORY, token)
    sb.github.add_ref(DEMO_REPOSITORY, "main", _MAIN_COMMIT, statuses=["success"])
    sb.github.add_ref(DEMO_REPOSITORY, "v1.4.0", _RELEASE_COMMIT, statuses=["success"])
    return fixture | {
        "pipeline": DEMO_PIPELINE,
        "repository": DEMO_REPOSITORY,
        "sha": _MAIN_COMMIT,
        "kintone_username": DEMO_KINTONE_USER,
        "kintone_apps": ",".join(str(app) for app in DEMO_KINTONE_APPS),
    }
