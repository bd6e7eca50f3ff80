"""Heroku Connect operations: promote mappings with the code, pause/resume sync, health gate.

The Connect CLI plugin is awkward in CI (fixed export names, prompts, `connect:diagnose`
exiting 0 with errors, no waiting) and an import is accepted at once but fails later. Here every
step is waited for and verified through the API: after an import the target must have left
IMPORT_CONFIGURATION, its exported configuration must match what was imported, every mapping
must be healthy and the diagnosis must have no errors.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from promote_action.connect.client import ConnectClient
from promote_action.connect.models import (
    ERROR_CONNECTION,
    ERROR_MAPPING,
    HEALTHY_CONNECTION,
    NEEDS_HUMAN,
    OK_MAPPING,
    Connection,
    ConnectionRef,
    Diagnosis,
    WriteErrors,
)
from promote_action.context import RunContext
from promote_action.errors import (
    AmbiguousWriteError,
    Cancelled,
    PromoteError,
    UsageError,
    VerificationError,
    WaitTimeout,
)
from promote_action.inputs import Inputs, reveal
from promote_action.operations.base import Services, failure_of
from promote_action.report import markdown as md
from promote_action.report.common import DRY_RUN, compact_json, footer, heroku_app_link
from promote_action.report.model import Result, Summary
from promote_action.status import Status
from promote_action.waiting import PollSchedule, wait_for

log = logging.getLogger("promote_action.connect")

CONNECT_SCHEDULE = PollSchedule(first_delay=2.0, min_interval=2.0, fraction=0.25, max_interval=30.0)
"""The Connect API budget is small and its states lag: start after a short pause, then back off
to 10 s and more as the wait grows."""


# -- configuration diff ----------------------------------------------------------------------------


def normalise(config: dict[str, Any]) -> dict[str, Any]:
    """Comparable form of an export: no timestamps, mappings sorted by object, keys sorted."""
    connection = {k: v for k, v in config.get("connection", {}).items() if k != "exported_at"}
    mappings = sorted(config.get("mappings", []), key=lambda m: str(m.get("object_name")).lower())
    normalised: dict[str, Any] = json.loads(
        json.dumps(
            {"version": config.get("version", 1), "connection": connection, "mappings": mappings},
            sort_keys=True,
        )
    )
    return normalised


def digest(config: dict[str, Any]) -> str:
    """Fingerprint of a configuration, insensitive to order and export time."""
    return hashlib.sha256(json.dumps(normalise(config), sort_keys=True).encode()).hexdigest()


class MappingChange(BaseModel):
    object_name: str
    change: str
    """`added`, `changed` or `removed` (removed only happens with connect-prune)."""
    details: list[str]


def diff_mappings(source: dict[str, Any], target: dict[str, Any]) -> list[MappingChange]:
    """What importing `source` into `target` changes, object by object and field by field."""
    before = {str(m["object_name"]).lower(): m for m in normalise(target)["mappings"]}
    after = {str(m["object_name"]).lower(): m for m in normalise(source)["mappings"]}
    changes = []
    for key in sorted(after.keys() | before.keys()):
        old, new = before.get(key), after.get(key)
        name = str((new or old or {}).get("object_name"))
        if old is None:
            fields = sorted(new.get("config", {}).get("fields", {})) if new else []
            changes.append(MappingChange(object_name=name, change="added", details=fields))
        elif new is None:
            changes.append(MappingChange(object_name=name, change="removed", details=[]))
        elif old != new:
            changes.append(
                MappingChange(object_name=name, change="changed", details=_config_details(old, new))
            )
    return changes


def _config_details(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    before, after = old.get("config", {}), new.get("config", {})
    details = []
    old_fields, new_fields = set(before.get("fields", {})), set(after.get("fields", {}))
    details += [f"+ field {f}" for f in sorted(new_fields - old_fields)]
    details += [f"- field {f}" for f in sorted(old_fields - new_fields)]
    for key in sorted((before.keys() | after.keys()) - {"fields"}):
        if before.get(key) != after.get(key):
            details.append(f"{key}: {json.dumps(before.get(key))} -> {json.dumps(after.get(key))}")
    return details


# -- plans and outcomes ----------------------------------------------------------------------------


class ConnectionInfo(BaseModel):
    app: str
    id: str
    resource_name: str
    state: str
    mappings: dict[str, str]
    """object name -> mapping state"""


class ConnectPlan(BaseModel):
    operation: str
    target: ConnectionInfo
    source_app: str | None = None
    source_file: str | None = None
    changes: list[MappingChange] = []
    prune: list[str] = []
    config: dict[str, Any] | None = None
    target_digest: str | None = None
    """sha256 of the target's normalised configuration when the plan was made."""
    change: bool = True
    findings: list[str] = []

    @property
    def source(self) -> str:
        return f"app {self.source_app}" if self.source_app else f"file {self.source_file}"


@dataclass
class ConnectOutcome:
    status: Status = Status.NOT_STARTED
    connection: Connection | None = None
    diagnosis: Diagnosis | None = None
    write_errors: WriteErrors | None = None
    error: str | None = None
    changed: list[str] = field(default_factory=list)
    duration: float | None = None


# -- the operations --------------------------------------------------------------------------------


class ConnectOperation(ABC):
    """Shared by the four Connect operations: finding the connection, waiting on its state,
    diagnosing it, reporting."""

    name = "connect"
    plan_type = ConnectPlan
    drift_exempt = frozenset({"state", "mappings", "findings", "exported_at"})
    """Live states that move on their own (IDLE/POLLING, mapping sync states) and the export's
    own timestamp: each operation's drift check judges the states that matter to it; the rest
    of the plan must match."""

    @staticmethod
    def pinned_inputs(plan: ConnectPlan) -> dict[str, Any]:
        """The plan's connections again (mode apply)."""
        return {
            "target_apps": [plan.target.app],
            "connect_resource": plan.target.resource_name,
            "source_app": plan.source_app,
            "connect_config_file": plan.source_file,
        }

    def drift(self, planned: ConnectPlan, fresh: ConnectPlan) -> list[str]:
        """A pause or resume planned against one state must not be applied to another: a plan
        made while sync was paused would otherwise report 'already paused' while it runs."""
        if fresh.change != planned.change:
            return [
                f"the connection of {planned.target.app} is now {fresh.target.state} "
                f"(the plan was made when it was {planned.target.state})"
            ]
        return []

    def __init__(self, inputs: Inputs, services: Services) -> None:
        self.validate(inputs)
        self.inputs = inputs
        self.services = services
        self.connect = ConnectClient(
            reveal(inputs.heroku_api_key),
            inputs.connect_api_url,
            deadline=services.deadline,
            cancel=services.cancel,
            transport=services.transport,
            verify=services.tls,
        )

    def validate(self, inputs: Inputs) -> None:
        """Usage errors before any request (exit 2)."""
        inputs.require("heroku-api-key", "target-apps")
        if len(inputs.target_apps) > 1:
            raise UsageError("target-apps", "Heroku Connect operations take one target app")

    def close(self) -> None:
        self.connect.close()

    @property
    def target_app(self) -> str:
        return self.inputs.target_apps[0]

    # -- finding connections --------------------------------------------------------------------

    def find(self, input_name: str, app: str) -> ConnectionRef:
        """The app's Sync connection; `connect-resource` picks the target's when it has
        several (a source with several is better given as connect-config-file)."""
        resource = self.inputs.connect_resource if input_name == "target-apps" else None
        found = self.connect.connections(app, resource=resource)
        if resource:
            found = [c for c in found if c.resource_name == resource]
        if not found:
            which = f" named {self.inputs.connect_resource}" if self.inputs.connect_resource else ""
            raise UsageError(
                input_name,
                f"app '{app}' has no Heroku Connect connection{which} visible to this key "
                "(is the add-on provisioned, and may this user administer the app?)",
            )
        if len(found) > 1:
            names = ", ".join(sorted(c.resource_name for c in found))
            how = "pick one" if input_name == "target-apps" else "use connect-config-file"
            raise UsageError(
                "connect-resource" if input_name == "target-apps" else input_name,
                f"app '{app}' has {len(found)} connections ({names}); {how}",
            )
        return found[0]

    def info(self, app: str, ref: ConnectionRef, connection: Connection) -> ConnectionInfo:
        return ConnectionInfo(
            app=app,
            id=ref.id,
            resource_name=ref.resource_name,
            state=connection.state,
            mappings={m.object_name: m.state for m in connection.mappings},
        )

    def refuse_needing_a_human(self, app: str, connection: Connection) -> None:
        """Salesforce authorisation and database setup cannot be automated: fail at once."""
        if connection.state in NEEDS_HUMAN:
            raise PromoteError(
                f"the Heroku Connect connection of {app} is {connection.state}: "
                f"{NEEDS_HUMAN[connection.state]}"
            )

    # -- waiting ----------------------------------------------------------------------------------

    def wait_state(
        self, ref: ConnectionRef, app: str, accept: frozenset[str], what: str
    ) -> Connection:
        """Poll until the connection is in `accept`; an error state fails at once, any other
        state (transitional or unknown) is waited out and reported verbatim at the deadline."""
        seen: list[str] = []

        def probe() -> Connection | None:
            connection = self.connect.connection(ref)
            seen.append(connection.state)
            if connection.state in accept:
                return connection
            self.refuse_needing_a_human(app, connection)
            if connection.state in ERROR_CONNECTION:
                raise PromoteError(f"the connection of {app} is in state {connection.state}")
            return None

        try:
            return wait_for(
                probe,
                what=what,
                deadline=self.services.deadline,
                cancel=self.services.cancel,
                schedule=CONNECT_SCHEDULE,
                settle_first=True,
            )
        except WaitTimeout as exc:
            raise WaitTimeout(f"{exc} (last state: {seen[-1] if seen else 'unknown'})") from None

    def diagnose(self, ref: ConnectionRef) -> Diagnosis:
        result_url = self.connect.start_diagnosis(ref)
        return wait_for(
            lambda: self.connect.diagnosis(ref, result_url),
            what="the Heroku Connect diagnosis",
            deadline=self.services.deadline,
            cancel=self.services.cancel,
            schedule=CONNECT_SCHEDULE,
            settle_first=True,
        )

    def check_health(self, app: str, connection: Connection, diagnosis: Diagnosis) -> None:
        summary_state = connection.mappings_summary_state
        if summary_state not in (None, "OK"):
            raise PromoteError(f"Heroku Connect reports the mappings of {app} as {summary_state}")
        bad = [
            f"{m.object_name} {m.state}" for m in connection.mappings if m.state in ERROR_MAPPING
        ]
        if bad:
            raise PromoteError(f"mappings of {app} in error: {', '.join(bad)}")
        errors = diagnosis.all_errors()
        if errors:
            names = ", ".join(
                str(e.get("display_name") or e.get("rule_id") or e.get("message")) for e in errors
            )
            raise PromoteError(f"the diagnosis of {app} found {len(errors)} error(s): {names}")

    # -- running ---------------------------------------------------------------------------------

    def apply(self, plan: ConnectPlan) -> ConnectOutcome:
        outcome = ConnectOutcome()
        started = time.monotonic()
        try:
            self.run(plan, outcome)
        except Cancelled:
            outcome.status = Status.CANCELLED
            outcome.error = f"cancelled; changes made: {', '.join(outcome.changed) or 'none'}"
        except WaitTimeout as exc:
            outcome.status, outcome.error = Status.TIMED_OUT, str(exc)
        except PromoteError as exc:
            outcome.status, outcome.error = Status.FAILED, str(exc)
        finally:
            outcome.duration = time.monotonic() - started
        return outcome

    @abstractmethod
    def plan(self) -> ConnectPlan:
        """Read-only: find the connection(s), read states, and for a promotion the diff."""

    @abstractmethod
    def run(self, plan: ConnectPlan, outcome: ConnectOutcome) -> None:
        """Act on the plan, recording each change in `outcome.changed` as it is made."""

    def result(self, plan: ConnectPlan, outcome: ConnectOutcome | None) -> Result:
        status = self.services.unapplied_status if outcome is None else outcome.status
        connection = outcome.connection if outcome else None
        mappings = [
            {
                "object": m.object_name,
                "state": m.state,
                "counts": m.counts.model_dump(),
            }
            for m in (connection.mappings if connection else [])
        ]
        diagnosis = outcome.diagnosis if outcome else None
        write_errors = outcome.write_errors if outcome else None
        result = {
            "operation": self.name,
            "status": status,
            "connection": {
                "app": plan.target.app,
                "id": plan.target.id,
                "resource_name": plan.target.resource_name,
                "state_before": plan.target.state,
                "state": connection.state if connection else plan.target.state,
            },
            "mappings": mappings,
            "diagnosis": {
                "errors": len(diagnosis.all_errors()),
                "warnings": len(diagnosis.warnings),
                "passes": len(diagnosis.passes),
                "skips": len(diagnosis.skips),
            }
            if diagnosis
            else None,
            "write_errors": write_errors.count if write_errors else None,
            "changes": [c.model_dump() for c in plan.changes],
            "error": outcome.error if outcome else None,
        }
        changed = [c.object_name for c in plan.changes if c.change != "removed" or plan.prune]
        outputs = {
            "status": status,
            "result": compact_json(result),
            "changed-mappings": compact_json(changed),
        }
        return Result(
            status=status,
            outputs=outputs,
            summary=render(plan, outcome, status, self.connect.requests_sent, self.services.run),
            failure=failure_of(status, outcome.error if outcome else None),
        )


class ConnectPromote(ConnectOperation):
    name = "connect-promote"

    def validate(self, inputs: Inputs) -> None:
        if not (inputs.source_app or inputs.connect_config_file):
            raise UsageError(
                "source-app", "connect-promote needs source-app or connect-config-file"
            )
        if inputs.source_app and inputs.connect_config_file:
            raise UsageError("connect-config-file", "give either source-app or connect-config-file")
        super().validate(inputs)
        if inputs.source_app in inputs.target_apps:
            raise UsageError("target-apps", f"'{inputs.source_app}' is also the source app")

    def plan(self) -> ConnectPlan:
        config = self._source_config()
        ref = self.find("target-apps", self.target_app)
        connection = self.connect.connection(ref)
        self.refuse_needing_a_human(self.target_app, connection)
        target_config = self.connect.export(ref)
        changes = diff_mappings(config, target_config)
        removed = [c.object_name for c in changes if c.change == "removed"]
        if not self.inputs.connect_prune:
            changes = [c for c in changes if c.change != "removed"]
        plan = ConnectPlan(
            operation=self.name,
            target=self.info(self.target_app, ref, connection),
            source_app=self.inputs.source_app,
            source_file=self.inputs.connect_config_file,
            changes=changes,
            prune=removed if self.inputs.connect_prune else [],
            config=config,
            target_digest=digest(target_config),
            change=bool(changes),
        )
        if removed and not self.inputs.connect_prune:
            log.warning(
                "the target has mappings the source lacks (%s); import never deletes them: "
                "set connect-prune to delete them",
                ", ".join(removed),
            )
        for line in plan_lines(plan):
            log.info("%s", line)
        return plan

    def drift(self, planned: ConnectPlan, fresh: ConnectPlan) -> list[str]:
        drifts = []
        source_moved = (
            planned.config and fresh.config and digest(planned.config) != digest(fresh.config)
        )
        if source_moved:
            drifts.append(f"the source configuration ({planned.source}) changed since the plan")
        if planned.target_digest != fresh.target_digest:
            drifts.append(f"the configuration of {planned.target.app} changed since the plan")
        return drifts

    def _source_config(self) -> dict[str, Any]:
        path = self.inputs.connect_config_file
        if path:
            try:
                config = json.loads(Path(path).read_text(encoding="utf-8"))
            except OSError as exc:
                raise UsageError(
                    "connect-config-file", f"cannot read {path}: {exc.strerror}"
                ) from None
            except ValueError:
                raise UsageError("connect-config-file", f"{path} is not JSON") from None
            if not isinstance(config, dict) or not isinstance(config.get("mappings"), list):
                raise UsageError(
                    "connect-config-file", f"{path} is not a Heroku Connect export (no mappings)"
                )
            return dict(config)
        ref = self.find("source-app", str(self.inputs.source_app))
        return self.connect.export(ref)

    def run(self, plan: ConnectPlan, outcome: ConnectOutcome) -> None:
        ref = self.find("target-apps", self.target_app)
        if not plan.change:
            outcome.connection = self.connect.connection(ref)
            outcome.status = Status.UNCHANGED
            return
        assert plan.config is not None
        try:
            self.connect.import_config(ref, plan.config)
        except AmbiguousWriteError as exc:
            # Import is an upsert of the same configuration: sending it again cannot create
            # anything twice, so a lost response is settled by importing again.
            log.warning("%s; importing again (an import is idempotent)", exc)
            self.connect.import_config(ref, plan.config)
        outcome.changed.append("configuration imported")
        for name in plan.prune:
            mapping = next(
                (m for m in self.connect.connection(ref).mappings if m.object_name == name), None
            )
            if mapping:
                self.connect.delete_mapping(ref, mapping.id)
                outcome.changed.append(f"mapping {name} deleted")
        if not self.inputs.wait:
            outcome.status = Status.CREATED
            return
        outcome.connection = self._wait_imported(ref, plan)
        outcome.diagnosis = self.diagnose(ref)
        self.check_health(self.target_app, outcome.connection, outcome.diagnosis)
        outcome.status = Status.SUCCEEDED

    def _wait_imported(self, ref: ConnectionRef, plan: ConnectPlan) -> Connection:
        """Done when the connection is healthy again, its exported configuration contains what
        was imported (a state read too early still shows the old configuration), and every
        mapping of the source is in a healthy state."""
        assert plan.config is not None
        wanted = {m["object_name"].lower(): m for m in normalise(plan.config)["mappings"]}

        def imported() -> Connection | None:
            connection = self.connect.connection(ref)
            self.refuse_needing_a_human(self.target_app, connection)
            if connection.state in ERROR_CONNECTION:
                raise PromoteError(
                    f"the connection is in state {connection.state} after the import"
                )
            if connection.state not in HEALTHY_CONNECTION:
                return None
            mappings = {m.object_name.lower(): m for m in connection.mappings}
            bad = [m for m in mappings.values() if m.state in ERROR_MAPPING]
            if bad:
                listed = ", ".join(f"{m.object_name} {m.state}" for m in bad)
                raise PromoteError(f"mappings in error after the import: {listed}")
            if any(k not in mappings or mappings[k].state not in OK_MAPPING for k in wanted):
                return None
            exported = {
                m["object_name"].lower(): m for m in normalise(self.connect.export(ref))["mappings"]
            }
            if any(exported.get(k, {}).get("config") != m.get("config") for k, m in wanted.items()):
                return None
            pruned = {p.lower() for p in plan.prune} & set(mappings)
            if pruned:
                raise VerificationError(
                    f"pruned mappings are still there: {', '.join(sorted(pruned))}"
                )
            return connection

        return wait_for(
            imported,
            what="the import to be applied and every mapping to be healthy",
            deadline=self.services.deadline,
            cancel=self.services.cancel,
            schedule=CONNECT_SCHEDULE,
            settle_first=True,
        )


@dataclass(frozen=True)
class SyncToggle:
    """What distinguishes pausing from resuming: the action sent, which states need it, what to
    wait for before and after, and how the log says there is nothing to do."""

    action: str
    needed: Callable[[str], bool]
    """Whether a connection in this state needs the action."""
    ready: frozenset[str] | None
    """States the connection must be in before the action (waited for), None: any."""
    done: frozenset[str]
    done_what: str
    changed: str
    nothing_to_do: str


SYNC_TOGGLES = {
    "pause": SyncToggle(
        action="pause",
        needed=lambda state: state != "PAUSED",
        ready=frozenset({"IDLE"}),
        done=frozenset({"PAUSED"}),
        done_what="the connection to be PAUSED",
        changed="sync paused",
        nothing_to_do="already paused: nothing to do (and nothing to resume later)",
    ),
    "resume": SyncToggle(
        action="resume",
        needed=lambda state: state == "PAUSED",
        ready=None,
        done=HEALTHY_CONNECTION,
        done_what="the connection to sync again",
        changed="sync resumed",
        nothing_to_do="not paused ({state}): nothing to resume",
    ),
}


class ConnectSync(ConnectOperation):
    """connect-pause and connect-resume: one operation, parametrised by a SyncToggle."""

    def __init__(self, inputs: Inputs, services: Services, *, toggle: str) -> None:
        self.toggle = SYNC_TOGGLES[toggle]
        self.name = f"connect-{toggle}"
        super().__init__(inputs, services)

    def plan(self) -> ConnectPlan:
        ref = self.find("target-apps", self.target_app)
        connection = self.connect.connection(ref)
        self.refuse_needing_a_human(self.target_app, connection)
        log.info("connection %s of %s is %s", ref.resource_name, self.target_app, connection.state)
        return ConnectPlan(
            operation=self.name,
            target=self.info(self.target_app, ref, connection),
            change=self.toggle.needed(connection.state),
        )

    def run(self, plan: ConnectPlan, outcome: ConnectOutcome) -> None:
        toggle = self.toggle
        ref = self.find("target-apps", self.target_app)
        if not plan.change:
            outcome.connection = self.connect.connection(ref)
            outcome.status = Status.UNCHANGED
            log.info("%s", toggle.nothing_to_do.format(state=plan.target.state))
            return
        if toggle.ready is not None and plan.target.state not in toggle.ready:
            log.info(
                "waiting for pending work to finish (state %s) before pausing", plan.target.state
            )
            self.wait_state(ref, self.target_app, toggle.ready, "the connection to be IDLE")
        self.connect.action(ref, toggle.action)
        outcome.changed.append(toggle.changed)
        if not self.inputs.wait:
            outcome.status = Status.CREATED
            return
        outcome.connection = self.wait_state(ref, self.target_app, toggle.done, toggle.done_what)
        outcome.status = Status.SUCCEEDED


class ConnectCheck(ConnectOperation):
    """A health gate: states, diagnosis and the last 24 hours of write errors."""

    name = "connect-check"

    def plan(self) -> ConnectPlan:
        ref = self.find("target-apps", self.target_app)
        connection = self.connect.connection(ref)
        return ConnectPlan(
            operation=self.name, target=self.info(self.target_app, ref, connection), change=False
        )

    def run(self, plan: ConnectPlan, outcome: ConnectOutcome) -> None:
        ref = self.find("target-apps", self.target_app)
        connection = self.connect.connection(ref)
        outcome.connection = connection
        self.refuse_needing_a_human(self.target_app, connection)
        if connection.state in ERROR_CONNECTION:
            raise PromoteError(
                f"the connection of {self.target_app} is in state {connection.state}"
            )
        if connection.state not in HEALTHY_CONNECTION:
            raise PromoteError(
                f"the connection of {self.target_app} is {connection.state}, not syncing "
                "(expected IDLE or POLLING_DB_CHANGES)"
            )
        outcome.write_errors = self.connect.write_errors(ref)
        outcome.diagnosis = self.diagnose(ref)
        self.check_health(self.target_app, connection, outcome.diagnosis)
        unhealthy = [
            f"{m.object_name} {m.state}" for m in connection.mappings if m.state not in OK_MAPPING
        ]
        if unhealthy:
            raise PromoteError(f"mappings not synced: {', '.join(unhealthy)}")
        limit = self.inputs.connect_max_write_errors
        if outcome.write_errors.count > limit:
            raise PromoteError(
                f"{outcome.write_errors.count} write error(s) in the last 24 hours "
                f"(connect-max-write-errors is {limit})"
            )
        outcome.status = Status.SUCCEEDED


# -- rendering ------------------------------------------------------------------------------------

TITLES = {
    "connect-promote": "Heroku Connect mapping promotion",
    "connect-pause": "Heroku Connect pause",
    "connect-resume": "Heroku Connect resume",
    "connect-check": "Heroku Connect health check",
}


def plan_lines(plan: ConnectPlan) -> list[str]:
    """The plan as log lines, printed before any write so the log shows intent first."""
    target = plan.target
    lines = [
        f"target: {target.app} connection {target.resource_name} ({target.state})",
        f"source: {plan.source}",
    ]
    if not plan.changes:
        lines.append("the target already has the source configuration")
    for change in plan.changes:
        lines.append(f"{change.change}: {change.object_name} {'; '.join(change.details)}".rstrip())
    return lines


def render(
    plan: ConnectPlan,
    outcome: ConnectOutcome | None,
    status: Status,
    requests: int,
    run: RunContext,
) -> Summary:
    target = plan.target
    connection = outcome.connection if outcome else None
    state = connection.state if connection else target.state
    blocks = [
        f"**App:** {heroku_app_link(target.app)} · **Connection:** {md.text(target.resource_name)}"
        f" · **State:** {md.text(target.state)}"
        + (f" -> {md.text(state)}" if state != target.state else "")
    ]
    if outcome is None:
        blocks.append(DRY_RUN)
    if plan.operation == "connect-promote":
        blocks.append(f"**Source:** {md.text(plan.source)}")
        rows = [
            [md.text(c.object_name), md.text(c.change), md.text("; ".join(c.details)) or "—"]
            for c in plan.changes
        ]
        blocks.append(
            md.table(["Object", "Change", "Details"], rows)
            if rows
            else "*The target already has the source configuration.*"
        )
    if connection and connection.mappings:
        rows = [
            [
                md.text(m.object_name),
                md.text(m.state),
                *(
                    str(v) if v is not None else "—"
                    for v in (m.counts.db, m.counts.sf, m.counts.errors)
                ),
            ]
            for m in connection.mappings
        ]
        blocks.append(md.table(["Object", "State", "Rows (db)", "Rows (sf)", "Errors"], rows))
    if outcome and outcome.diagnosis:
        d = outcome.diagnosis
        lines = [
            f"**Diagnosis:** {len(d.all_errors())} error(s), {len(d.warnings)} warning(s), "
            f"{len(d.passes)} passed, {len(d.skips)} skipped"
        ]
        for item in d.all_errors():
            text = item.get("display_name") or item.get("rule_id") or "error"
            lines.append(f"- ❌ {md.text(text)}: {md.text(item.get('message', ''))}")
        blocks.append("\n".join(lines))
    if outcome and outcome.write_errors is not None:
        blocks.append(f"**Write errors (last 24 h):** {outcome.write_errors.count}")
    if outcome and outcome.error:
        blocks.append(f"**Failure:** {md.text(outcome.error)}")
    return Summary(
        TITLES[plan.operation], status, tuple(blocks), footer(requests, run, "Heroku Connect")
    )
