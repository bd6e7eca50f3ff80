"""Ready-made sandbox states, shared by the demo and by tests that want a realistic start."""

from __future__ import annotations

import hashlib

from .server import Sandbox

_STAGING_HISTORY = ("Initial import", "Add product list", "Add checkout page")
_TARGETS = ("demo-production-eu", "demo-production-us")


def demo_fixture(sb: Sandbox) -> dict[str, str]:
    """Staging three releases ahead of production, whose release phase takes a visible moment."""
    heroku = sb.heroku
    token = heroku.add_user("demo@example.com")
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
