"""Planning helpers of the Heroku operations: resolve apps and releases with read-only calls,
and map what the platform says to the inputs that named it (a 404 on an app the user named is a
usage error)."""

from __future__ import annotations

from promote_action.errors import RemoteError, UsageError
from promote_action.heroku.client import HerokuClient
from promote_action.heroku.models import App, Release
from promote_action.inputs import Inputs, reveal
from promote_action.operations.base import Services, read_all
from promote_action.operations.heroku.targets import AppRef, TargetPlan


def connect(inputs: Inputs, services: Services) -> HerokuClient:
    """The Platform API client for the run: plain values from the inputs, the run's HTTP seams."""
    return HerokuClient.connect(
        inputs.heroku_api_url,
        reveal(inputs.heroku_api_key),
        deadline=services.deadline,
        cancel=services.cancel,
        transport=services.transport,
        verify=services.tls,
    )


def resolve_app(heroku: HerokuClient, input_name: str, name: str, *, slugs: bool = True) -> App:
    """A 404 means the input names an app that does not exist: a usage error (exit 2)."""
    try:
        app = heroku.app(name)
    except RemoteError as exc:
        if exc.code == "not_found":
            raise UsageError(input_name, f"app '{name}' not found ({exc})") from None
        raise
    if slugs and app.is_fir:
        raise UsageError(
            input_name, f"app '{app.name}' is a Fir app: it runs OCI images, not slugs"
        )
    return app


def pinned_release(heroku: HerokuClient, app: App, pinned: str) -> Release:
    """The release the user pinned (`release` input) must exist, have succeeded, have a slug."""
    try:
        release = heroku.release(app.id, pinned)
    except RemoteError as exc:
        if exc.code == "not_found":
            raise UsageError(
                "release", f"release {pinned} not found on {app.name} ({exc})"
            ) from None
        raise
    if release.status != "succeeded":
        raise UsageError(
            "release",
            f"release v{release.version} of {app.name} is {release.status}, "
            "only a succeeded release can be deployed",
        )
    if not release.slug_id:
        raise UsageError("release", no_slug(app, release))
    return release


def no_slug(app: App, release: Release) -> str:
    return (
        f"release v{release.version} of {app.name} has no slug (a container or Fir release); "
        "only apps built with buildpacks can be promoted this way"
    )


def target_plan(heroku: HerokuClient, app: App, *, deploys_slug: str | None) -> TargetPlan:
    """What the target runs now (and its commit, for the summary), and whether a release is
    still pending there, from the newest releases page."""
    recent = heroku.recent_releases(app.id)
    current = next((r for r in recent if r.current), None) or heroku.current_release(app.id)
    pending = next((r for r in recent if r.status == "pending"), None)
    commit = heroku.slug(app.id, current.slug_id).commit if current and current.slug_id else None
    return TargetPlan(
        app=AppRef.of(app),
        current_release_id=current.id if current else None,
        current_version=current.version if current else None,
        current_slug_id=current.slug_id if current else None,
        current_commit=commit,
        stack=app.stack.name if app.stack else None,
        pending_version=pending.version if pending else None,
        pending_release_id=pending.id if pending else None,
        pending_slug_id=pending.slug_id if pending else None,
        newest_version=max((r.version for r in recent), default=None),
        change=not (current and deploys_slug and current.slug_id == deploys_slug),
    )


def preflight(
    heroku: HerokuClient,
    source: App,
    source_stack: str | None,
    targets: list[TargetPlan],
) -> list[str]:
    """Findings a reviewer should see before approving: config var names the targets lack
    (never values), a stack the slug was not built for, a release still pending."""
    findings = []
    source_keys = heroku.config_var_keys(source.id)
    target_keys = read_all(lambda t: heroku.config_var_keys(t.app.id), targets)
    for target, keys in zip(targets, target_keys, strict=True):
        if missing := sorted(source_keys - keys):
            findings.append(
                f"{target.app.name} lacks config vars set on {source.name}: {', '.join(missing)}"
            )
        if target.stack and source_stack and target.stack != source_stack:
            findings.append(
                f"{target.app.name} runs stack {target.stack} but the slug was built for "
                f"{source_stack}"
            )
        if target.pending_version is not None:
            findings.append(
                f"{target.app.name} has release v{target.pending_version} still pending"
            )
    return findings


def target_drift(planned: list[TargetPlan], fresh: list[TargetPlan]) -> list[str]:
    """Targets that changed release since the plan (someone deployed meanwhile)."""
    now = {t.app.id: t for t in fresh}
    drifts = []
    for target in planned:
        current = now.get(target.app.id)
        if current is None:
            drifts.append(f"{target.app.name} is no longer a target")
        elif current.current_release_id != target.current_release_id:
            drifts.append(
                f"{target.app.name} now runs v{current.current_version} "
                f"(the plan was made when it ran v{target.current_version})"
            )
    return drifts
