"""kintone-export and kintone-promote: an app's settings as a committed snapshot, and shipped
from a development app (or that snapshot) to production apps.

kintone-export reads an app's production settings into a normalised snapshot directory
(kintone/snapshot.py) that can be committed and diffed in pull requests.

kintone-promote plans, per target app, the diff between the source snapshot and the target's
production settings, and refuses what must not happen silently: fields whose data would be lost
(unless kintone-allow-field-deletion), changes kintone cannot make (a field's type), a target
with undeployed preview changes of someone else (they would ship too). Apply writes each target's
preview settings in dependency order (general, fields, layout, views, process, customization,
permissions), each write pinned to the revision the previous one returned, then deploys all
targets at once through kintone-deploy's pinned deploy/wait/verify, and re-reads production to
check it equals the source. A failure before or during the deploy reverts the written previews
so preview and production agree again.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import time
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, Field

from promote_action.errors import Cancelled, PromoteError, RemoteError, UsageError
from promote_action.inputs import AppPin, Inputs
from promote_action.inputs.plan_fields import (
    HttpUrl,
    KintoneAppId,
    RemoteText,
    Revision,
    from_plan,
)
from promote_action.inputs.validators import MAX_KINTONE_APPS, kintone_url
from promote_action.kintone.client import KintoneClient
from promote_action.kintone.snapshot import (
    PERMISSIONS,
    PLATFORMS,
    Changes,
    Snapshot,
    SnapshotError,
    compare,
    read_app,
)
from promote_action.operations.base import (
    Services,
    failure_of,
    read_all,
    workspace_path,
    write_once,
)
from promote_action.operations.kintone_credentials import source_auth_from
from promote_action.operations.kintone_deploy import (
    KintoneAppPlan,
    KintoneDeploy,
    KintonePlan,
    remote_usage,
)
from promote_action.report import markdown as md
from promote_action.report.common import DRY_RUN, compact_json, footer, status_cell
from promote_action.report.model import Result, Summary
from promote_action.status import Status

log = logging.getLogger("promote_action.kintone")


def _origin(url: str) -> tuple[str, str, int | None]:
    """scheme, host and port: where credentials end up."""
    parts = urlsplit(url.strip())
    default = {"https": 443, "http": 80}.get(parts.scheme.lower())
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port or default


# -- kintone-export -------------------------------------------------------------------------------


class ExportPlan(BaseModel):
    base_url: Annotated[str, from_plan(kintone_url)]
    app: KintoneAppId
    name: RemoteText
    path: str
    digest: str
    permissions: bool
    files: list[str]
    """The snapshot's files (relative paths)."""
    changed: list[str]
    """Files the export creates, changes or removes in the directory."""
    findings: list[str] = []


class KintoneExport:
    name = "kintone-export"
    plan_type = ExportPlan

    def __init__(self, inputs: Inputs, services: Services) -> None:
        inputs.require("kintone-snapshot-path")
        if len(inputs.kintone_apps) > 1:
            raise UsageError("kintone-apps", "kintone-export reads one app: give one app id")
        self.directory = workspace_path(
            services, "kintone-snapshot-path", str(inputs.kintone_snapshot_path)
        )
        self.session = KintoneDeploy(inputs, services)
        self.inputs = inputs
        self.services = services
        self.snapshot: Snapshot | None = None

    def close(self) -> None:
        self.session.close()

    def plan(self) -> ExportPlan:
        app = str(self.inputs.kintone_apps[0].app)
        client = self.session.kintone
        try:
            snapshot = read_app(
                client,
                app,
                preview=False,
                permissions=self.inputs.kintone_app_permissions,
                parallel=read_all,
            )
        except RemoteError as exc:
            raise remote_usage(app, exc) or exc from None
        self.snapshot = snapshot
        name = str(snapshot.sections["settings"].get("name", ""))
        plan = ExportPlan(
            base_url=str(self.inputs.kintone_base_url),
            app=app,
            name=name,
            path=str(self.inputs.kintone_snapshot_path),
            digest=snapshot.digest,
            permissions=self.inputs.kintone_app_permissions,
            files=list(snapshot.encoded()),
            changed=sorted(itertools.chain(*self._changes(snapshot))),
        )
        log.info(
            "app %s %s: snapshot %s, %d file(s) to write", app, name, plan.digest, len(plan.changed)
        )
        return plan

    @staticmethod
    def pinned_inputs(plan: ExportPlan) -> dict[str, Any]:
        return {
            "kintone_apps": [AppPin(app=int(plan.app))],
            "kintone_snapshot_path": plan.path,
            "kintone_app_permissions": plan.permissions,
        }

    def drift(self, planned: ExportPlan, fresh: ExportPlan) -> list[str]:
        if planned.digest != fresh.digest:
            return [f"app {planned.app}'s settings changed since the plan ({fresh.digest})"]
        return []

    def apply(self, plan: ExportPlan) -> list[str]:
        """Write the directory; the snapshot read by the plan is the one that was approved."""
        if self.snapshot is None or self.snapshot.digest != plan.digest:
            raise PromoteError("the snapshot read does not match the plan; nothing was written")
        self._changes(self.snapshot)
        return self.snapshot.write(self.directory)

    def _changes(self, snapshot: Snapshot) -> tuple[list[str], list[str]]:
        try:
            return snapshot.changes_to(self.directory)
        except SnapshotError as exc:
            raise UsageError("kintone-snapshot-path", str(exc)) from None

    def result(self, plan: ExportPlan, outcome: list[str] | None) -> Result:
        if outcome is None:
            status = self.services.unapplied_status
        else:
            status = Status.SUCCEEDED if outcome else Status.UNCHANGED
        written = plan.changed if outcome is None else outcome
        result = {
            "operation": self.name,
            "status": status,
            "app": plan.app,
            "path": plan.path,
            "digest": plan.digest,
            "files": plan.files,
            "changed": written,
        }
        rows = [
            [md.code(path), "changes" if path in written else "unchanged"] for path in plan.files
        ]
        blocks = [
            f"**App:** {md.text(plan.app)} {md.text(plan.name)} on {md.text(plan.base_url)}",
            f"**Snapshot:** {md.code(plan.path)} · {md.code(plan.digest)}",
            *([DRY_RUN] if outcome is None else []),
            md.details(
                f"{len(plan.files)} files, {len(written)} changed", md.table(["File", ""], rows)
            ),
        ]
        requests = self.session.kintone.http.requests_sent
        return Result(
            status=status,
            outputs={
                "status": status,
                "result": compact_json(result),
                "snapshot-digest": plan.digest,
            },
            summary=Summary(
                "kintone export",
                status,
                tuple(blocks),
                footer(requests, self.services.run, "kintone"),
            ),
            failure=None,
        )


# -- kintone-promote ------------------------------------------------------------------------------


class PromoteTarget(BaseModel):
    app: KintoneAppId
    name: RemoteText
    url: HttpUrl
    revision: Revision
    """Preview and production revision at plan time (they must be equal: nothing pending)."""
    changes: Changes
    refusals: list[str] = []

    @property
    def change(self) -> bool:
        return not self.changes.empty


class PromotePlan(BaseModel):
    base_url: Annotated[str, from_plan(kintone_url)]
    guest_space_id: Annotated[int, Field(ge=1)] | None
    auth_method: RemoteText
    source: str
    """`app N on URL` or `snapshot PATH`, for people."""
    source_digest: str
    permissions: bool
    allow_field_deletion: bool
    targets: Annotated[list[PromoteTarget], Field(min_length=1, max_length=MAX_KINTONE_APPS)]
    findings: list[str] = []

    @property
    def refusals(self) -> list[str]:
        return [f"app {t.app}: {r}" for t in self.targets for r in t.refusals]


@dataclass
class PromoteOutcome:
    status: Status = Status.NOT_STARTED
    app_status: dict[str, Status] = field(default_factory=dict)
    written: dict[str, int] = field(default_factory=dict)
    """Each target whose preview was written, and its preview revision afterwards."""
    live_after: dict[str, int] = field(default_factory=dict)
    inferred: set[str] = field(default_factory=set)
    """Targets whose `live_after` is inferred, not read (see KintoneOutcome.inferred)."""
    notes: list[str] = field(default_factory=list)
    """What happened besides the main error: reverts, verification."""
    error: str | None = None
    duration: float | None = None


class KintonePromote:
    name = "kintone-promote"
    plan_type = PromotePlan

    def __init__(self, inputs: Inputs, services: Services) -> None:
        if bool(inputs.kintone_source_app) == bool(inputs.kintone_source_snapshot):
            raise UsageError(
                "kintone-source-app",
                "kintone-promote needs kintone-source-app or kintone-source-snapshot (one of them)",
            )
        source_url = inputs.kintone_source_base_url
        if (
            inputs.kintone_source_app
            and source_url
            and _origin(str(source_url)) != _origin(str(inputs.kintone_base_url))
            and not (inputs.kintone_source_api_token or inputs.kintone_source_username)
        ):
            raise UsageError(
                "kintone-source-base-url",
                f"{source_url} is another domain than kintone-base-url: it needs "
                "kintone-source-api-token or kintone-source-username/kintone-source-password "
                "(the target's credentials go only to kintone-base-url)",
            )
        self.snapshot_dir = (
            workspace_path(services, "kintone-source-snapshot", inputs.kintone_source_snapshot)
            if inputs.kintone_source_snapshot
            else None
        )
        self.target = KintoneDeploy(inputs, services)
        self.kintone = self.target.kintone
        self.inputs = inputs
        self.services = services
        self.source_client: KintoneClient | None = None
        self.source_auth = None
        try:
            self.source_auth = source_auth_from(inputs, services.ca_file)
        except UsageError:
            self.target.close()
            raise
        if self.source_auth is not None:
            services.reporter.mask_all(self.source_auth.derived_secrets)
        self.source_snapshot: Snapshot | None = None

    def close(self) -> None:
        if self.source_client is not None and self.source_client is not self.kintone:
            self.source_client.close()
        if self.source_auth is not None:
            self.source_auth.close()
        self.target.close()

    # -- plan -------------------------------------------------------------------------------------

    def _source(self) -> tuple[str, Snapshot]:
        permissions = self.inputs.kintone_app_permissions
        if self.snapshot_dir is not None:
            try:
                snapshot = Snapshot.read(self.snapshot_dir, permissions=permissions)
            except SnapshotError as exc:
                raise UsageError("kintone-source-snapshot", str(exc)) from None
            return f"snapshot {self.inputs.kintone_source_snapshot}", snapshot
        base_url = str(self.inputs.kintone_source_base_url or self.inputs.kintone_base_url)
        if self.source_client is None:
            if self.source_auth is None and base_url == str(self.inputs.kintone_base_url):
                self.source_client = self.kintone
            else:
                self.source_client = KintoneClient.connect(
                    base_url,
                    self.source_auth or self.target.auth,
                    guest_space_id=None,
                    deadline=self.services.deadline,
                    cancel=self.services.cancel,
                    transport=self.services.transport,
                    verify=self.services.tls,
                )
        app = str(self.inputs.kintone_source_app)
        try:
            snapshot = read_app(
                self.source_client, app, preview=False, permissions=permissions, parallel=read_all
            )
        except RemoteError as exc:
            raise remote_usage(app, exc, "kintone-source-app") or exc from None
        return f"app {app} on {base_url}", snapshot

    def plan(self) -> PromotePlan:
        source_name, source = self._source()
        self.source_snapshot = source
        targets = read_all(
            lambda pin: self._target_plan(str(pin.app), source), self.inputs.kintone_apps
        )
        plan = PromotePlan(
            base_url=str(self.inputs.kintone_base_url),
            guest_space_id=self.inputs.kintone_guest_space_id,
            auth_method=self.target.auth.method,
            source=source_name,
            source_digest=source.digest,
            permissions=self.inputs.kintone_app_permissions,
            allow_field_deletion=self.inputs.kintone_allow_field_deletion,
            targets=targets,
        )
        for line in plan_lines(plan):
            log.info("%s", line)
        return plan

    def _target_plan(self, app: str, source: Snapshot) -> PromoteTarget:
        try:
            preview = self.kintone.preview_settings(app)
            live = self.kintone.live_settings(app)
            target = read_app(
                self.kintone,
                app,
                preview=False,
                permissions=self.inputs.kintone_app_permissions,
                parallel=read_all,
            )
        except RemoteError as exc:
            raise remote_usage(app, exc) or exc from None
        changes = compare(source, target)
        refusals = list(changes.refusals)
        if preview.revision != live.revision:
            refusals.append(
                f"has undeployed preview changes (preview revision {preview.revision}, production "
                f"{live.revision}) that would ship with the promotion: deploy or discard them first"
            )
        if changes.fields_removed and not self.inputs.kintone_allow_field_deletion:
            refusals.append(
                f"would remove field(s) {', '.join(changes.fields_removed)} and their data: set "
                "kintone-allow-field-deletion: true to allow it"
            )
        return PromoteTarget(
            app=app,
            name=live.name,
            url=self.target.app_url(app),
            revision=live.revision,
            changes=changes,
            refusals=refusals,
        )

    @staticmethod
    def pinned_inputs(plan: PromotePlan) -> dict[str, Any]:
        """The targets and switches of the plan; the source is read again from the inputs and
        must still have the plan's digest."""
        return {
            "kintone_apps": [AppPin(app=int(t.app)) for t in plan.targets],
            "kintone_guest_space_id": plan.guest_space_id,
            "kintone_app_permissions": plan.permissions,
            "kintone_allow_field_deletion": plan.allow_field_deletion,
        }

    def drift(self, planned: PromotePlan, fresh: PromotePlan) -> list[str]:
        if planned.base_url != fresh.base_url:
            return [f"the plan was made for {planned.base_url}, not {fresh.base_url}"]
        drifts = []
        if planned.source_digest != fresh.source_digest:
            drifts.append(
                f"the source ({fresh.source}) is now {fresh.source_digest}, not the planned "
                f"{planned.source_digest}"
            )
        now = {t.app: t for t in fresh.targets}
        for target in planned.targets:
            current = now[target.app]
            if current.revision != target.revision or current.refusals != target.refusals:
                drifts.append(
                    f"app {target.app}: settings are now at revision {current.revision} "
                    f"(planned at {target.revision})"
                )
        return drifts

    # -- apply ------------------------------------------------------------------------------------

    def apply(self, plan: PromotePlan) -> PromoteOutcome:
        outcome = PromoteOutcome()
        started = time.monotonic()
        try:
            self._apply(plan, outcome)
        finally:
            outcome.duration = time.monotonic() - started
        return outcome

    def _apply(self, plan: PromotePlan, outcome: PromoteOutcome) -> None:
        if plan.refusals:
            outcome.status = Status.FAILED
            outcome.error = "refused: " + "; ".join(plan.refusals) + " (nothing was changed)"
            return
        source = self.source_snapshot
        if source is None or source.digest != plan.source_digest:
            raise PromoteError("the source read does not match the plan; nothing was changed")
        changing = [t for t in plan.targets if t.change]
        for target in plan.targets:
            outcome.app_status[target.app] = (
                Status.UNCHANGED if not target.change else Status.PENDING
            )
        if not changing:
            outcome.status = Status.UNCHANGED
            return
        try:
            failures = [
                f for f in read_all(lambda t: self._write_target(t, source, outcome), changing) if f
            ]
        except Cancelled:
            outcome.status = Status.CANCELLED
            outcome.error = "cancelled while writing preview settings"
            self._leftover_note(outcome)
            return
        if failures:
            outcome.status = Status.FAILED
            outcome.error = "; ".join(failures)
            self._revert(plan, outcome)
            return
        deployed = self.target.apply(self._deploy_plan(plan, changing, outcome, revert=False))
        outcome.live_after.update(deployed.live_after)
        outcome.inferred.update(deployed.inferred)
        if deployed.status != Status.SUCCEEDED:
            outcome.status = deployed.status
            outcome.error = deployed.error
            for target in changing:
                outcome.app_status[target.app] = deployed.status
            if deployed.status != Status.CANCELLED:
                self._revert(plan, outcome)
            elif deployed.requested:
                outcome.notes.append(
                    "production was not verified against the source: run kintone-promote "
                    "again to check it (it changes nothing when production equals the source)"
                )
            else:
                self._leftover_note(outcome)
            return
        try:
            self._verify(changing, source, outcome)
        except Cancelled:
            outcome.status = Status.CANCELLED
            outcome.error = "cancelled after the deploy succeeded, before production was verified"

    def _write_target(
        self, target: PromoteTarget, source: Snapshot, outcome: PromoteOutcome
    ) -> str | None:
        """Write one target's preview, section by section in dependency order; returns what
        failed, or None."""
        writer = _PreviewWriter(self.kintone, target.app, target.revision)
        try:
            for method, kind, body in _writes(
                target.changes, source, _Uploader(self.kintone, source)
            ):
                writer.write(method, kind, body)
        except RemoteError as exc:
            outcome.app_status[target.app] = Status.FAILED
            return (
                f"app {target.app}: kintone refused the {exc.request} ({exc.code}: {exc.message})"
            )
        except PromoteError as exc:
            outcome.app_status[target.app] = Status.FAILED
            return f"app {target.app}: {exc}"
        finally:
            if writer.revision != target.revision:
                outcome.written[target.app] = writer.revision
        return None

    def _deploy_plan(
        self,
        plan: PromotePlan,
        targets: list[PromoteTarget],
        outcome: PromoteOutcome,
        *,
        revert: bool,
    ) -> KintonePlan:
        """The written targets as a kintone-deploy plan: deploying (or reverting) exactly the
        revision our last write returned."""
        return KintonePlan(
            base_url=plan.base_url,
            guest_space_id=plan.guest_space_id,
            revert=revert,
            auth_method=plan.auth_method,
            apps=[
                KintoneAppPlan(
                    app=t.app,
                    name=t.name,
                    preview_revision=outcome.written[t.app],
                    live_revision=t.revision,
                    change=True,
                    url=t.url,
                )
                for t in targets
                if t.app in outcome.written
            ],
        )

    def _revert(self, plan: PromotePlan, outcome: PromoteOutcome) -> None:
        """Discard the written previews (deploy with revert) so preview equals production.

        Only apps whose preview is still at the revision we wrote are reverted: the revert is
        pinned, and one app changed by someone else meanwhile would make kintone refuse it for
        all of them (and discarding their change is not ours to do)."""
        written = [t for t in plan.targets if t.app in outcome.written]
        if not written:
            outcome.notes.append("nothing had been written: no app was changed")
            return
        now = read_all(lambda t: self.kintone.preview_settings(t.app).revision, written)
        moved = [
            (t, rev) for t, rev in zip(written, now, strict=True) if rev != outcome.written[t.app]
        ]
        for target, revision in moved:
            outcome.notes.append(
                f"app {target.app}: someone else changed its preview meanwhile (revision "
                f"{revision}, ours {outcome.written[target.app]}): it was left as it is; review it "
                "before deploying"
            )
        ours = [t for t in written if all(t.app != m.app for m, _ in moved)]
        if not ours:
            return
        reverted = self.target.apply(self._deploy_plan(plan, ours, outcome, revert=True))
        apps = ", ".join(t.app for t in ours)
        if reverted.status == Status.SUCCEEDED:
            outcome.notes.append(
                f"the preview settings written to app(s) {apps} were discarded (revert): "
                "production was not changed"
            )
            for target in ours:
                if outcome.app_status[target.app] == Status.PENDING:
                    outcome.app_status[target.app] = Status.NOT_STARTED
        else:
            outcome.notes.append(
                f"discarding the preview settings written to app(s) {apps} failed "
                f"({reverted.error}): their preview differs from production; discard it with "
                "operation kintone-deploy and kintone-revert: true"
            )

    def _leftover_note(self, outcome: PromoteOutcome) -> None:
        if outcome.written:
            outcome.notes.append(
                f"the preview of app(s) {', '.join(outcome.written)} holds promoted settings that "
                "were not deployed: discard them with operation kintone-deploy and "
                "kintone-revert: true"
            )

    def _verify(
        self, changing: list[PromoteTarget], source: Snapshot, outcome: PromoteOutcome
    ) -> None:
        """Production must now equal the source: re-read it and compare normalised."""
        permissions = self.inputs.kintone_app_permissions

        def differences(target: PromoteTarget) -> Changes:
            live = read_app(
                self.kintone, target.app, preview=False, permissions=permissions, parallel=read_all
            )
            return compare(source, live)

        mismatched = []
        for target, changes in zip(changing, read_all(differences, changing), strict=True):
            if changes.empty:
                outcome.app_status[target.app] = Status.SUCCEEDED
            else:
                outcome.app_status[target.app] = Status.FAILED
                mismatched.append(f"app {target.app}: {'; '.join(changes.details)}")
        if mismatched:
            outcome.status = Status.FAILED
            outcome.error = "deployed, but production differs from the source: " + "; ".join(
                mismatched
            )
        else:
            outcome.status = Status.SUCCEEDED

    # -- report -----------------------------------------------------------------------------------

    def result(self, plan: PromotePlan, outcome: PromoteOutcome | None) -> Result:
        if outcome is None:
            status = Status.FAILED if plan.refusals else self.services.unapplied_status
            error = ("refused: " + "; ".join(plan.refusals)) if plan.refusals else None
        else:
            status, error = outcome.status, outcome.error
        apps = [
            {
                "app": t.app,
                "name": t.name,
                "status": _target_status(t, outcome),
                "revision_before": t.revision,
                "written_revision": outcome.written.get(t.app) if outcome else None,
                "live_revision_after": outcome.live_after.get(t.app) if outcome else None,
                "live_revision_verified": (
                    t.app not in outcome.inferred
                    if outcome and t.app in outcome.live_after
                    else None
                ),
                "fields_added": t.changes.fields_added,
                "fields_changed": t.changes.fields_changed,
                "fields_removed": t.changes.fields_removed,
                "sections": t.changes.sections,
                "refusals": t.refusals,
            }
            for t in plan.targets
        ]
        result = {
            "operation": self.name,
            "status": status,
            "source": plan.source,
            "source_digest": plan.source_digest,
            "apps": apps,
            "notes": outcome.notes if outcome else [],
            "error": error,
        }
        revisions = {
            t.app: (outcome.live_after.get(t.app, t.revision) if outcome else t.revision)
            for t in plan.targets
        }
        failure = failure_of(status, error)
        if failure and outcome and outcome.notes:
            failure = f"{failure}; {'; '.join(outcome.notes)}"
        requests = self.kintone.http.requests_sent + (
            self.source_client.http.requests_sent
            if self.source_client is not None and self.source_client is not self.kintone
            else 0
        )
        return Result(
            status=status,
            outputs={
                "status": status,
                "result": compact_json(result),
                "revisions": compact_json(revisions),
                "snapshot-digest": plan.source_digest,
            },
            summary=render(plan, outcome, status, footer(requests, self.services.run, "kintone")),
            failure=failure,
            environment_url=plan.targets[0].url if plan.targets else None,
        )


def _target_status(target: PromoteTarget, outcome: PromoteOutcome | None) -> Status:
    if target.refusals:
        return Status.FAILED
    if not target.change:
        return Status.UNCHANGED
    if outcome is None:
        return Status.PLANNED
    return outcome.app_status.get(target.app, outcome.status)


# -- writing --------------------------------------------------------------------------------------


class _PreviewWriter:
    """One app's preview writes, each pinned to the revision the previous one returned."""

    def __init__(self, kintone: KintoneClient, app: str, revision: int) -> None:
        self.kintone = kintone
        self.app = app
        self.revision = revision

    def write(self, method: str, kind: str, body: dict[str, Any]) -> None:
        """A write whose answer is lost is settled by the preview revision: one step further
        means it took effect (each write bumps the app's revision once: API_NOTES 2.4), the
        same means it did not and it is sent again (the pin makes a duplicate impossible),
        anything else means someone else changed the app."""
        sent = self.revision

        def send() -> int:
            return self.kintone.write_document(method, self.app, kind, sent, body)

        def took_effect() -> int | None:
            now = self.kintone.preview_settings(self.app).revision
            if now == sent:
                return None
            if now == sent + 1:
                return now
            raise PromoteError(
                f"its preview settings moved to revision {now} while {kind} was written: "
                "someone else is changing the app"
            )

        self.revision = write_once(send, took_effect)


class _Uploader:
    """Uploads a target's customization files from the snapshot, checked against their hash:
    an upload's key is valid for one settings write, so each target uploads its own."""

    def __init__(self, kintone: KintoneClient, source: Snapshot) -> None:
        self.kintone = kintone
        self.source = source

    def entry(self, entry: dict[str, Any]) -> dict[str, Any]:
        if entry.get("type") != "FILE":
            return entry
        file = entry["file"]
        data = self.source.files[file["sha256"]]
        if hashlib.sha256(data).hexdigest() != file["sha256"]:
            raise PromoteError(f"customization file {file['name']} does not match its hash")
        key = self.kintone.upload_file(file["name"], data, file.get("contentType") or "text/plain")
        return {"type": "FILE", "file": {"fileKey": key}}


WRITE_ORDER = ("settings", "form/layout", "views", "status", "customize", PERMISSIONS)
"""Documents written whole, in dependency order (fields come first, before the layout)."""


def _writes(
    changes: Changes, source: Snapshot, uploader: _Uploader
) -> list[tuple[str, str, dict[str, Any]]]:
    """The writes that make a target's preview equal the source, in dependency order: general
    settings, fields (added, changed, removed), layout, views, process, customization,
    permissions. Customization files are uploaded as the list is built."""
    fields = source.sections["form/fields"].get("properties", {})
    writes: list[tuple[str, str, dict[str, Any]]] = []
    if "settings" in changes.sections:
        writes.append(("PUT", "settings", dict(source.sections["settings"])))
    if changes.fields_added:
        writes.append(
            ("POST", "form/fields", {"properties": {c: fields[c] for c in changes.fields_added}})
        )
    if changes.fields_changed:
        writes.append(
            ("PUT", "form/fields", {"properties": {c: fields[c] for c in changes.fields_changed}})
        )
    if changes.fields_removed:
        writes.append(("DELETE", "form/fields", {"fields": changes.fields_removed}))
    for kind in WRITE_ORDER[1:]:
        if kind not in changes.sections:
            continue
        body = dict(source.sections[kind])
        if kind == "customize":
            for platform in PLATFORMS:
                body[platform] = {
                    k: [uploader.entry(e) for e in entries] for k, entries in body[platform].items()
                }
        writes.append(("PUT", kind, body))
    return writes


# -- rendering ------------------------------------------------------------------------------------


def plan_lines(plan: PromotePlan) -> list[str]:
    lines = [f"kintone promote from {plan.source} ({plan.source_digest}) to {plan.base_url}"]
    for target in plan.targets:
        what = "; ".join(target.changes.details) or "already equal to the source"
        lines.append(f"app {target.app} {target.name} (revision {target.revision}): {what}")
        lines += [f"  refused: {r}" for r in target.refusals]
    return lines


def render(
    plan: PromotePlan, outcome: PromoteOutcome | None, status: Status, footer_line: str
) -> Summary:
    rows = [
        [
            md.link(t.app, t.url),
            md.text(t.name),
            str(t.revision),
            md.text(" · ".join(t.changes.details) or "—"),
            status_cell(_target_status(t, outcome)),
        ]
        for t in plan.targets
    ]
    table = md.table(["App", "Name", "Revision", "Changes", "Status"], rows)
    blocks = [
        f"**Source:** {md.text(plan.source)} · {md.code(plan.source_digest)}",
        f"**Targets:** {md.text(plan.base_url)}"
        + (f" · guest space {plan.guest_space_id}" if plan.guest_space_id else "")
        + f" · {md.text(plan.auth_method)} auth",
        *([DRY_RUN] if outcome is None and not plan.refusals else []),
        table if len(rows) <= 30 else md.details(f"{len(rows)} apps", table),
        *[f"**Refused:** {md.text(r)}" for r in plan.refusals],
        *([f"**Failure:** {md.text(outcome.error)}"] if outcome and outcome.error else []),
        *[f"- {md.text(note)}" for note in (outcome.notes if outcome else [])],
    ]
    return Summary("kintone promote", status, tuple(blocks), footer_line)
