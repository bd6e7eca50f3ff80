"""kintone-deploy: publish apps' preview settings to production, pinned, waited and verified.

Plan (read-only): each app's preview and live settings revisions. An app whose preview equals
its live revision has nothing to deploy and is left alone. Every other app is deployed pinned
to the preview revision read here (or the one the user pinned), so settings someone changes
after the plan are refused by kintone instead of shipped unreviewed.

Apply: one deploy request for all apps (kintone applies it all-or-nothing), then one status
request per poll for all apps. Because an app with no deploy running reports SUCCESS, success
is only believed once production is at the deployed revision: read for one app when the deploy
was seen PROCESSING and then ended (all-or-nothing), for every app otherwise.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field

from promote_action.errors import (
    Cancelled,
    CancelledWrite,
    PromoteError,
    RemoteError,
    UsageError,
    VerificationError,
    WaitTimeout,
)
from promote_action.inputs import AppPin, Inputs
from promote_action.inputs.plan_fields import HttpUrl, KintoneAppId, RemoteText, Revision, from_plan
from promote_action.inputs.validators import MAX_KINTONE_APPS, kintone_url
from promote_action.kintone.auth import MAX_TOKENS
from promote_action.kintone.client import KintoneClient
from promote_action.kintone.diff import SETTING_KINDS, describe_difference
from promote_action.kintone.models import DeployStatus
from promote_action.operations.base import Services, failure_of, read_all, write_once
from promote_action.operations.kintone_credentials import auth_from
from promote_action.report import markdown as md
from promote_action.report.common import DRY_RUN, compact_json, footer, status_cell
from promote_action.report.model import Result, Summary
from promote_action.status import Status
from promote_action.waiting import PollSchedule, wait_for

log = logging.getLogger("promote_action.kintone")

KINTONE_SCHEDULE = PollSchedule(
    first_delay=0.25, dense_for=10.0, min_interval=0.5, fraction=0.1, max_interval=10.0
)
"""A deploy takes about 2 s when trivial and 5-10 s typically, and each poll is one request for
up to 300 apps: every 0.25 s for the first 10 s sees its end at once, then 0.5 s growing to 10 s."""

PROCESSING_SHOWS_WITHIN = 1.0
"""kintone was observed showing PROCESSING about 0.8 s after the deploy request: an all-SUCCESS
status before that may be the previous deploy's, and is not worth reading every app for."""

STALE_STATUS_SECONDS = 5.0
"""How long after the deploy request a FAIL/CANCEL may still be the previous deploy's
(kintone was observed showing PROCESSING about 0.8 s after the request)."""

USAGE_CODES = {"GAIA_AP01": "kintone-apps", "GAIA_IL23": "kintone-guest-space-id"}
"""Errors while planning that mean the inputs name the wrong thing (exit 2)."""


def remote_usage(app: str, exc: RemoteError, name: str = "kintone-apps") -> UsageError | None:
    """Errors that mean an input names the wrong app or space (exit 2): the app's error names
    `name` (kintone-apps, or kintone-source-app for a source app)."""
    if exc.code in USAGE_CODES:
        return UsageError(
            name if USAGE_CODES[exc.code] == "kintone-apps" else USAGE_CODES[exc.code],
            f"app {app}: {exc}",
        )
    return None


"""Errors while planning that mean the inputs name the wrong thing (exit 2)."""


class KintoneAppPlan(BaseModel):
    app: KintoneAppId
    name: RemoteText
    preview_revision: Revision
    """What will be deployed (the pin sent with the deploy)."""
    live_revision: Revision
    change: bool
    url: HttpUrl
    differences: list[RemoteText] = []
    """Mode plan: what differs between preview and production, per kind of setting."""


def _each_app_once(apps: list[KintoneAppPlan]) -> list[KintoneAppPlan]:
    if len({a.app for a in apps}) != len(apps):
        raise ValueError("each app may be listed once")
    return apps


class KintonePlan(BaseModel):
    base_url: Annotated[str, from_plan(kintone_url)]
    guest_space_id: Annotated[int, Field(ge=1)] | None
    revert: bool
    auth_method: RemoteText
    apps: Annotated[
        list[KintoneAppPlan],
        Field(min_length=1, max_length=MAX_KINTONE_APPS),
        AfterValidator(_each_app_once),
    ]
    findings: list[RemoteText] = []


@dataclass
class KintoneOutcome:
    status: Status = Status.NOT_STARTED
    app_status: dict[str, str] = field(default_factory=dict)
    live_after: dict[str, int] = field(default_factory=dict)
    inferred: set[str] = field(default_factory=set)
    """Apps whose `live_after` was not read but inferred: the deployed revision, once one app
    proved kintone's all-or-nothing deploy done."""
    preview_after: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    duration: float | None = None
    requested: bool = False
    """The deploy request left for kintone (its answer may have been lost)."""


class KintoneDeploy:
    name = "kintone-deploy"
    plan_type = KintonePlan

    def __init__(self, inputs: Inputs, services: Services) -> None:
        inputs.require("kintone-base-url", "kintone-apps")
        auth = auth_from(inputs, services.ca_file)
        try:
            services.reporter.mask_all(auth.derived_secrets)
            apps = len(inputs.kintone_apps)
            if auth.method == "API token" and apps > auth.token_count:
                raise UsageError(
                    "kintone-api-token",
                    f"an API token authorises one app: {apps} apps need {apps} tokens, got "
                    f"{auth.token_count} (at most {MAX_TOKENS} per request; use "
                    "kintone-username/kintone-password or kintone-oauth-token for more apps)",
                )
        except UsageError:
            auth.close()
            raise
        self.inputs = inputs
        self.services = services
        self.auth = auth
        self.kintone = KintoneClient.connect(
            str(inputs.kintone_base_url),
            auth,
            guest_space_id=inputs.kintone_guest_space_id,
            deadline=services.deadline,
            cancel=services.cancel,
            transport=services.transport,
            verify=services.tls,
        )

    def close(self) -> None:
        self.kintone.close()
        self.auth.close()

    # -- plan -------------------------------------------------------------------------------------

    def plan(self) -> KintonePlan:
        apps = read_all(self._app_plan, self.inputs.kintone_apps)
        plan = KintonePlan(
            base_url=str(self.inputs.kintone_base_url),
            guest_space_id=self.inputs.kintone_guest_space_id,
            revert=self.inputs.kintone_revert,
            auth_method=self.auth.method,
            apps=apps,
        )
        for line in plan_lines(plan):
            log.info("%s", line)
        return plan

    @staticmethod
    def pinned_inputs(plan: KintonePlan) -> dict[str, Any]:
        """The plan's apps. Revisions are not pinned as inputs: mode apply compares them with
        the plan and lists every drift instead of stopping at the first. The domain is not
        taken from the plan either: credentials go only where the (validated) input says."""
        return {
            "kintone_apps": [AppPin(app=int(a.app)) for a in plan.apps],
            "kintone_guest_space_id": plan.guest_space_id,
            "kintone_revert": plan.revert,
        }

    def drift(self, planned: KintonePlan, fresh: KintonePlan) -> list[str]:
        if planned.base_url != fresh.base_url:
            return [f"the plan was made for {planned.base_url}, not {fresh.base_url}"]
        now = {a.app: a for a in fresh.apps}
        drifts = []
        for app in planned.apps:
            current = now[app.app]
            if current.preview_revision != app.preview_revision:
                drifts.append(
                    f"app {app.app}: preview settings are now at revision "
                    f"{current.preview_revision} (the plan deploys {app.preview_revision})"
                )
            if current.live_revision != app.live_revision:
                drifts.append(
                    f"app {app.app}: production is now at revision {current.live_revision} "
                    f"(planned from {app.live_revision})"
                )
        return drifts

    def _app_plan(self, pin: AppPin) -> KintoneAppPlan:
        app = str(pin.app)
        try:
            preview = self.kintone.preview_settings(app)
            live = self.kintone.live_settings(app)
        except RemoteError as exc:
            raise remote_usage(app, exc) or exc from None
        if pin.revision is not None and pin.revision != preview.revision:
            raise PromoteError(
                f"app {app}: its preview settings are at revision {preview.revision}, not the "
                f"pinned {pin.revision}; someone changed them, so nothing was deployed"
            )
        change = preview.revision != live.revision
        return KintoneAppPlan(
            app=app,
            name=preview.name,
            preview_revision=preview.revision,
            live_revision=live.revision,
            change=change,
            url=self.app_url(app),
            differences=self._differences(app) if change and self.services.mode == "plan" else [],
        )

    def _differences(self, app: str) -> list[str]:
        """Which kinds of settings a deploy would change, compared document by document (ten
        reads per app, so only when a reviewer asked for a plan)."""
        found = []
        for kind, label in SETTING_KINDS.items():
            preview = self.kintone.document(app, kind, preview=True)
            live = self.kintone.document(app, kind, preview=False)
            if detail := describe_difference(kind, preview, live):
                found.append(f"{label}: {detail}")
        return found

    def app_url(self, app: str) -> str:
        space = self.inputs.kintone_guest_space_id
        base = str(self.inputs.kintone_base_url)
        return f"{base}/k/guest/{space}/{app}/" if space else f"{base}/k/{app}/"

    # -- apply ------------------------------------------------------------------------------------

    def apply(self, plan: KintonePlan) -> KintoneOutcome:
        outcome = KintoneOutcome()
        changing = [a for a in plan.apps if a.change]
        if not changing:
            outcome.status = Status.UNCHANGED
            return outcome
        started = time.monotonic()
        try:
            self._start(plan, changing, outcome)
            if not self.inputs.wait:
                outcome.status = Status.CREATED
                return outcome
            self._wait(plan, changing, outcome)
        except Cancelled as exc:
            outcome.status = Status.CANCELLED
            outcome.error = (
                f"cancelled after the {_action(plan)} of {len(changing)} app(s) was sent: "
                "kintone completes it on its own"
                if outcome.requested or isinstance(exc, CancelledWrite)
                else f"cancelled before the {_action(plan)} was sent: nothing was changed"
            )
        except WaitTimeout as exc:
            outcome.status, outcome.error = Status.TIMED_OUT, str(exc)
        except PromoteError as exc:
            outcome.status, outcome.error = Status.FAILED, str(exc)
        finally:
            outcome.duration = time.monotonic() - started
        return outcome

    def _start(
        self, plan: KintonePlan, changing: list[KintoneAppPlan], outcome: KintoneOutcome
    ) -> None:
        """Send the deploy once, pinned. If the response is lost, the deploy took effect when an
        app is PROCESSING or already live at the planned revision; only otherwise is it resent
        (safe: the pins stop anything else from being deployed)."""
        pins = [(a.app, a.preview_revision) for a in changing]

        def send() -> bool:
            outcome.requested = True
            self.kintone.deploy(pins, revert=plan.revert)
            return True

        def started() -> bool | None:
            return True if self._deploy_took_effect(plan, changing) else None

        try:
            write_once(send, started)
        except RemoteError as exc:
            if exc.code == "GAIA_CO03":
                raise PromoteError(self._mismatch(changing, exc)) from None
            raise
        log.info("%s of %d app(s) started", _action(plan), len(changing))

    def _deploy_took_effect(self, plan: KintonePlan, changing: list[KintoneAppPlan]) -> bool:
        statuses = self.kintone.deploy_status([a.app for a in changing])
        if any(s.status == "PROCESSING" for s in statuses):
            return True
        if plan.revert:
            return False
        live = read_all(lambda a: self.kintone.live_settings(a.app).revision, changing)
        return all(rev == a.preview_revision for rev, a in zip(live, changing, strict=True))

    def _mismatch(self, changing: list[KintoneAppPlan], exc: RemoteError) -> str:
        """Name the app and both revisions: kintone's message only names the app."""
        now = read_all(lambda a: self.kintone.preview_settings(a.app).revision, changing)
        moved = [
            f"app {a.app} planned at revision {a.preview_revision}, now {rev}"
            for a, rev in zip(changing, now, strict=True)
            if rev != a.preview_revision
        ]
        detail = "; ".join(moved) or exc.message
        return f"kintone refused the deploy ({exc.code}): settings changed since the plan: {detail}"

    def _wait(
        self, plan: KintonePlan, changing: list[KintoneAppPlan], outcome: KintoneOutcome
    ) -> None:
        ids = [a.app for a in changing]
        verified: set[str] = set()
        started = time.monotonic()
        seen_processing = False

        def settled() -> list[DeployStatus] | None:
            nonlocal seen_processing
            statuses = self.kintone.deploy_status(ids)
            outcome.app_status = {s.app: s.status for s in statuses}
            if any(s.status == "PROCESSING" for s in statuses):
                seen_processing = True
                return None
            waited = time.monotonic() - started
            if any(s.status in ("FAIL", "CANCEL") for s in statuses):
                # kintone shows the last deploy's end state until the new one shows
                # PROCESSING: a FAIL seen before that may be the previous deploy's.
                stale = not seen_processing and waited < STALE_STATUS_SECONDS
                return None if stale else statuses
            if not seen_processing and waited < PROCESSING_SHOWS_WITHIN:
                return None
            if seen_processing and self._verify_completed(plan, changing, outcome, verified):
                return statuses
            return statuses if self._verify(plan, changing, outcome, verified) else None

        what = f"the kintone {_action(plan)} of {len(ids)} app(s)"
        statuses = wait_for(
            settled,
            what=what,
            deadline=self.services.deadline,
            cancel=self.services.cancel,
            schedule=KINTONE_SCHEDULE,
            settle_first=True,
            state=lambda: ", ".join(sorted(set(outcome.app_status.values()))) or "accepted",
        )
        failed = [s for s in statuses if s.status in ("FAIL", "CANCEL")]
        if failed:
            listed = ", ".join(f"app {s.app} {s.status}" for s in failed)
            raise PromoteError(
                f"the {_action(plan)} failed ({listed}); kintone deploys "
                f"all-or-nothing, so all {len(ids)} app(s) were rolled back to their previous "
                "settings"
            )
        outcome.status = Status.SUCCEEDED

    def _verify(
        self,
        plan: KintonePlan,
        changing: list[KintoneAppPlan],
        outcome: KintoneOutcome,
        verified: set[str],
    ) -> bool:
        """SUCCESS is also what an app with no deploy reports: believe it once the live
        revision is the deployed one (a revert must instead leave production untouched and
        reset the preview). Apps already verified are not read again."""
        pending = [a for a in changing if a.app not in verified]
        reads = read_all(self._revisions if plan.revert else self._live, pending)
        for app, (live, preview) in zip(pending, reads, strict=True):
            outcome.live_after[app.app] = live
            if preview is not None:
                outcome.preview_after[app.app] = preview
            if plan.revert:
                if live != app.live_revision:
                    raise VerificationError(
                        f"app {app.app}: production moved from revision {app.live_revision} to "
                        f"{live} during the revert: someone else deployed"
                    )
                if preview != app.preview_revision:
                    verified.add(app.app)
            elif live == app.preview_revision:
                verified.add(app.app)
            elif live > app.preview_revision:
                raise VerificationError(
                    f"app {app.app}: production is at revision {live}, newer than the deployed "
                    f"{app.preview_revision}: someone else deployed meanwhile"
                )
        return len(verified) == len(changing)

    def _verify_completed(
        self,
        plan: KintonePlan,
        changing: list[KintoneAppPlan],
        outcome: KintoneOutcome,
        verified: set[str],
    ) -> bool:
        """After our deploy was seen PROCESSING and every app then reports SUCCESS, kintone has
        applied it, to all apps or none: one app at the deployed revision proves the rest, so
        300 apps cost one read instead of 300. Anything else (a revert, the sample not at the
        revision) is left to `_verify`, which reads every app."""
        if plan.revert or not self._verify(plan, changing[:1], outcome, verified):
            return False
        for app in changing:
            if app.app not in outcome.live_after:
                outcome.live_after[app.app] = app.preview_revision
                outcome.inferred.add(app.app)
            verified.add(app.app)
        return True

    def _live(self, app: KintoneAppPlan) -> tuple[int, int | None]:
        return self.kintone.live_settings(app.app).revision, None

    def _revisions(self, app: KintoneAppPlan) -> tuple[int, int | None]:
        live = self.kintone.live_settings(app.app).revision
        return live, self.kintone.preview_settings(app.app).revision

    # -- report -----------------------------------------------------------------------------------

    def result(self, plan: KintonePlan, outcome: KintoneOutcome | None) -> Result:
        status = self.services.unapplied_status if outcome is None else outcome.status
        apps: list[dict[str, object]] = []
        for app in plan.apps:
            live_after = outcome.live_after.get(app.app) if outcome else None
            apps.append(
                {
                    "app": app.app,
                    "name": app.name,
                    "status": _app_status(app, outcome),
                    "deployed_revision": app.preview_revision if app.change else None,
                    "live_revision_before": app.live_revision,
                    "live_revision_after": live_after,
                    "live_revision_verified": _verified(app.app, outcome),
                }
            )
        revisions = {
            a.app: (
                outcome.live_after.get(a.app, a.live_revision) if outcome else a.preview_revision
            )
            for a in plan.apps
        }
        result = {
            "operation": self.name,
            "status": status,
            "revert": plan.revert,
            "guest_space_id": plan.guest_space_id,
            "apps": apps,
            "error": outcome.error if outcome else None,
        }
        outputs = {
            "status": status,
            "result": compact_json(result),
            "revisions": compact_json(revisions),
        }
        requests = self.kintone.http.requests_sent
        return Result(
            status=status,
            outputs=outputs,
            summary=render(
                plan, outcome, status, apps, footer(requests, self.services.run, "kintone")
            ),
            failure=failure_of(status, outcome.error if outcome else None),
            environment_url=plan.apps[0].url if plan.apps else None,
        )


def _app_status(app: KintoneAppPlan, outcome: KintoneOutcome | None) -> Status:
    if not app.change:
        return Status.UNCHANGED
    if outcome is None:
        return Status.PLANNED
    kintone_status = outcome.app_status.get(app.app)
    if outcome.status == Status.SUCCEEDED:
        return Status.SUCCEEDED
    if kintone_status in ("FAIL", "CANCEL"):
        return Status.FAILED if kintone_status == "FAIL" else Status.ROLLED_BACK
    return outcome.status


def _action(plan: KintonePlan) -> str:
    return "revert" if plan.revert else "deploy"


# -- rendering ------------------------------------------------------------------------------------


def plan_lines(plan: KintonePlan) -> list[str]:
    """The plan as log lines, printed before any write so the log shows intent first."""
    action = "revert (discard preview changes)" if plan.revert else "deploy"
    space = f" in guest space {plan.guest_space_id}" if plan.guest_space_id else ""
    lines = [f"kintone {action} on {plan.base_url}{space}, {plan.auth_method} auth"]
    for app in plan.apps:
        change = (
            f"preview revision {app.preview_revision} -> production (now {app.live_revision})"
            if app.change
            else f"no pending changes (revision {app.live_revision})"
        )
        lines.append(f"app {app.app} {app.name}: {change}")
        lines += [f"  {difference}" for difference in app.differences]
    return lines


NO_ROLLBACK = (
    "> kintone has no API to roll production back to earlier settings: a failed deploy is "
    "undone by kintone itself (all-or-nothing), but a successful one can only be reverted "
    "by deploying the old settings again."
)


def _verified(app: str, outcome: KintoneOutcome | None) -> bool | None:
    """Whether an app's live revision after the run was read (True) or inferred from another
    app's (False); None when there is none."""
    if outcome is None or app not in outcome.live_after:
        return None
    return app not in outcome.inferred


def render(
    plan: KintonePlan,
    outcome: KintoneOutcome | None,
    status: Status,
    apps: list[dict[str, object]],
    footer_line: str,
) -> Summary:
    rows = []
    for app, result in zip(plan.apps, apps, strict=True):
        after = result["live_revision_after"]
        if after is not None and result["live_revision_verified"] is False:
            after = f"{after} (inferred)"
        rows.append(
            [
                md.link(app.app, app.url),
                md.text(app.name),
                str(app.live_revision),
                str(app.preview_revision) if app.change else "—",
                str(after) if after is not None else "—",
                status_cell(Status(str(result["status"]))),
            ]
        )
    table = md.table(["App", "Name", "Live before", "Deploying", "Live after", "Status"], rows)
    changes = [
        f"- app {md.text(app.app)} {md.text(app.name)}: "
        + "; ".join(md.text(d) for d in app.differences)
        for app in plan.apps
        if app.differences
    ]
    blocks = [
        f"**Domain:** {md.text(plan.base_url)}"
        + (f" · guest space {plan.guest_space_id}" if plan.guest_space_id else "")
        + f" · {md.text(plan.auth_method)} auth",
        *([DRY_RUN] if outcome is None else []),
        table if len(rows) <= 30 else md.details(f"{len(rows)} apps", table),
        *(
            [md.details("What the deploy changes (preview vs production)", "\n".join(changes))]
            if changes
            else []
        ),
        *([f"**Failure:** {md.text(outcome.error)}"] if outcome and outcome.error else []),
        NO_ROLLBACK,
    ]
    title = "kintone revert of preview changes" if plan.revert else "kintone deploy"
    return Summary(title, status, tuple(blocks), footer_line)
