"""Heroku Connect operations: promote mappings with the code, pause/resume sync, health gate,
recover, reload mappings, export the configuration for review.

The Connect CLI plugin is awkward in CI (fixed export names, prompts, `connect:diagnose`
exiting 0 with errors, no waiting) and an import is accepted at once but fails later. Here every
step is waited for and verified through the API: after an import the target must have left
IMPORT_CONFIGURATION, its exported configuration must match what was imported, every mapping
must be healthy and the diagnosis must have no errors.

An import into a PAUSED connection is applied but loads nothing until sync resumes: it is
verified by re-export alone, and `connect-resume` then waits until every mapping loads.
Writes whose answer was lost are settled by reading the connection (`settled_write`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

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
    Mapping,
    WriteError,
    WriteErrors,
)
from promote_action.context import RunContext
from promote_action.errors import (
    Cancelled,
    PromoteError,
    RemoteError,
    UsageError,
    VerificationError,
    WaitTimeout,
)
from promote_action.inputs import Inputs, reveal
from promote_action.inputs.parsers import printable
from promote_action.inputs.validators import WriteErrorLimit
from promote_action.operations.base import Services, failure_of, workspace_path, write_once
from promote_action.report import markdown as md
from promote_action.report.common import (
    DRY_RUN,
    compact_json,
    findings,
    footer,
    heroku_app_link,
)
from promote_action.report.model import Result, Summary
from promote_action.status import Status
from promote_action.waiting import PollSchedule, wait_for

log = logging.getLogger("promote_action.connect")

CONNECT_SCHEDULE = PollSchedule(first_delay=0.25, min_interval=2, fraction=0.25, max_interval=30)
"""An import of a few mappings applies within a second or two, so a round every 0.25 s for the
first 2 s notices it at once; the Connect API budget is small and long states lag, so after
that the rounds back off from 2 s to 10 s and more as the wait grows."""
CONNECT_DIAGNOSIS_SCHEDULE = PollSchedule(
    first_delay=0.25, dense_for=3.0, min_interval=1.0, fraction=0.25, max_interval=10.0
)
"""A diagnosis result is one request per poll and usually ready within seconds (the plugin
polls every 0.5 s): every 0.25 s for 3 s, then backing off from 1 s to 10 s."""

WRITE_ERRORS_SHOWN = 10
"""Write errors listed per mapping (newest first) in the output and the summary."""
MAPPING_TRANSITIONAL = frozenset({"INITIAL", "SCHEMA_CHANGED", "RECOVERY", "RELOAD_TABLE"})
"""Mapping states still on their way to synced (RELOAD_TABLE counts as loading here)."""
MAPPING_LOADING = frozenset({"RELOAD_TABLE", "RESYNC", "WAIT_BULK_LOAD", "LOADING_BULK_JOB"})
"""States of a mapping whose table is being (re)loaded (API_NOTES 3.5): seeing one after a
reload request is the proof that the reload ran. A polling state (POLLING_SF_CHANGES) is the
routine Salesforce poll and proves nothing."""
T = TypeVar("T")


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
    mappings: list[str] = []
    """connect-reload: the mapped objects to reload."""
    export_path: str | None = None
    """connect-export: the workspace-relative file the export goes to."""

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
    notes: list[str] = field(default_factory=list)
    """What the user must know besides the status (e.g. sync loads on resume)."""
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
            "connect_config_file": plan.source_file or plan.export_path,
            "connect_mappings": plan.mappings,
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
        found = self.connect.connections(app)
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
        log.info("connection %s of %s", found[0].resource_name, app)
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

    # -- writing ----------------------------------------------------------------------------------

    def settled_write(
        self, send: Callable[[], None], took_effect: Callable[[], bool], what: str
    ) -> None:
        """Send a Connect write whose repetition is not harmless (pause, resume, import,
        restart, a mapping's deletion). When its answer is lost, read the connection: if the action
        shows, it took effect; if not (its effect lags), send it once more. Connect refuses an
        action while another runs (409): on a resend, that refusal is the first one running,
        and the caller's wait for the end state verifies it."""
        sent = 0

        def attempt() -> bool:
            nonlocal sent
            sent += 1
            try:
                send()
            except RemoteError as exc:
                if sent > 1 and exc.status == 409:
                    log.info("%s is already under way (%s)", what, exc.message)
                    return True
                raise
            return True

        write_once(attempt, lambda: True if took_effect() else None)

    def state_is(self, ref: ConnectionRef, accept: Callable[[str], bool]) -> Callable[[], bool]:
        """A `took_effect` for settled_write: the connection's state now shows the action."""
        return lambda: accept(self.connect.connection(ref).state)

    # -- waiting ----------------------------------------------------------------------------------

    def wait_mappings(
        self,
        ref: ConnectionRef,
        ready: Callable[[Mapping], bool],
        what: str,
        *,
        names: Iterable[str] | None = None,
        errors_fail: bool = True,
    ) -> Connection:
        """Poll until the connection is healthy and each mapping (or each of `names`) is
        `ready`. A mapping in an error state fails at once, or with `errors_fail` False (while
        recovering) is waited on; at the deadline the mappings still in error are named."""
        wanted = {n.lower() for n in names} if names is not None else None
        last: list[Connection] = []

        def probe() -> Connection | None:
            connection = self.connect.connection(ref)
            last[:] = [connection]
            self.refuse_needing_a_human(self.target_app, connection)
            mappings = [
                m for m in connection.mappings if wanted is None or m.object_name.lower() in wanted
            ]
            broken = _in_error(mappings)
            if broken and errors_fail:
                raise PromoteError(f"mappings of {self.target_app} in error: {broken}")
            if connection.state not in HEALTHY_CONNECTION:
                return None
            # Every mapping is judged on every read (no short cut): `ready` may remember what
            # it saw (connect-reload's load states).
            judged = [ready(m) for m in mappings]
            return connection if all(judged) else None

        def at_deadline() -> str | None:
            if not last:
                return None
            broken = _in_error(last[0].mappings)
            return f"connection {last[0].state}" + (
                f"; mappings still in error: {broken}" if broken else ""
            )

        return self.wait_explained(probe, what, at_deadline)

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

        return self.wait_explained(
            probe,
            what,
            lambda: f"last state: {seen[-1] if seen else 'unknown'}",
            state=lambda: seen[-1] if seen else "",
        )

    def wait_explained(
        self,
        probe: Callable[[], T | None],
        what: str,
        at_deadline: Callable[[], str | None],
        *,
        state: Callable[[], str] | None = None,
    ) -> T:
        """wait_for on the Connect schedule; a timeout says, in brackets, what `at_deadline`
        finds still wrong (nothing added when it returns None)."""
        try:
            return wait_for(
                probe,
                what=what,
                deadline=self.services.deadline,
                cancel=self.services.cancel,
                schedule=CONNECT_SCHEDULE,
                settle_first=True,
                state=state,
            )
        except WaitTimeout as exc:
            why = at_deadline()
            if why is None:
                raise
            raise WaitTimeout(f"{exc} ({why})") from None

    def diagnose(self, ref: ConnectionRef) -> Diagnosis:
        result_url = self.connect.start_diagnosis(ref)
        return wait_for(
            lambda: self.connect.diagnosis(ref, result_url),
            what="the Heroku Connect diagnosis",
            deadline=self.services.deadline,
            cancel=self.services.cancel,
            schedule=CONNECT_DIAGNOSIS_SCHEDULE,
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
            "notes": outcome.notes if outcome else [],
            "error": outcome.error if outcome else None,
        }
        changed = [c.object_name for c in plan.changes if c.change != "removed" or plan.prune]
        outputs = {
            "status": status,
            "result": compact_json(result),
            "changed-mappings": compact_json(changed),
        }
        if write_errors is not None:
            outputs["write-errors"] = compact_json(
                errors_by_mapping(write_errors, connection.mappings if connection else [])
            )
        if plan.operation == "connect-export" and plan.config is not None:
            outputs["connect-config"] = compact_json(plan.config)
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
            findings=self._preflight(ref, connection, config),
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

    def _preflight(
        self, ref: ConnectionRef, connection: Connection, config: dict[str, Any]
    ) -> list[str]:
        """Checks before import, where the API can answer them: for each source mapping the
        target already maps, the fields its Salesforce org lacks (the mapping's `schema_url`)
        and the mapping's own diagnosis (`connect:mapping:diagnose`). An object the target does
        not map yet has neither, so it can only be checked after the import."""
        on_target = {m.object_name.lower(): m for m in connection.mappings}
        findings: list[str] = []
        unchecked: list[str] = []
        for item in normalise(config)["mappings"]:
            name = str(item.get("object_name"))
            mapping = on_target.get(name.lower())
            if mapping is None:
                unchecked.append(name)
                continue
            offered = self.connect.mapping_schema(ref, mapping)
            wanted = set(item.get("config", {}).get("fields", {}))
            if offered is not None and wanted - offered:
                findings.append(
                    f"{name}: fields the Salesforce org of {self.target_app} lacks: "
                    + ", ".join(sorted(wanted - offered))
                )
            for error in self.connect.mapping_validations(ref, mapping.id).all_errors():
                check = error.get("display_name") or error.get("rule_id") or "check"
                findings.append(f"{name}: {check} failed: {error.get('message') or 'no detail'}")
        if unchecked:
            log.info(
                "not mapped on %s yet, so checked only after the import: %s",
                self.target_app,
                ", ".join(unchecked),
            )
        return findings

    def _source_config(self) -> dict[str, Any]:
        path = self.inputs.connect_config_file
        if path:
            try:
                source = workspace_path(self.services, "connect-config-file", path)
                config = json.loads(source.read_text(encoding="utf-8"))
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
        config = plan.config
        paused = self.connect.connection(ref).state == "PAUSED"
        self.settled_write(
            lambda: self.connect.import_config(ref, config),
            lambda: self._shows_import(ref, config),
            "the import",
        )
        outcome.changed.append("configuration imported")
        for name in plan.prune:
            mapping = next(
                (m for m in self.connect.connection(ref).mappings if m.object_name == name), None
            )
            if mapping:
                self._delete(ref, mapping)
                outcome.changed.append(f"mapping {name} deleted")
        if not self.inputs.wait:
            outcome.status = Status.CREATED
            return
        outcome.connection = self._wait_imported(ref, plan, paused=paused)
        if paused:
            # Nothing loads while paused, so there is no sync to diagnose yet.
            outcome.notes.append(
                "the connection is paused: the import is verified by re-export; its mappings "
                "load when sync resumes (connect-resume waits for that)"
            )
            outcome.status = Status.SUCCEEDED
            return
        outcome.diagnosis = self.diagnose(ref)
        self.check_health(self.target_app, outcome.connection, outcome.diagnosis)
        outcome.status = Status.SUCCEEDED

    def _delete(self, ref: ConnectionRef, mapping: Mapping) -> None:
        """A deletion whose answer was lost took effect if the mapping is gone."""
        self.settled_write(
            lambda: self.connect.delete_mapping(ref, mapping.id),
            lambda: all(m.id != mapping.id for m in self.connect.connection(ref).mappings),
            f"the deletion of mapping {mapping.object_name}",
        )

    def _shows_import(self, ref: ConnectionRef, config: dict[str, Any]) -> bool:
        """Whether an import whose answer was lost is visible: being applied, or applied."""
        if self.connect.connection(ref).state == "IMPORT_CONFIGURATION":
            return True
        return _contains(self.connect.export(ref), config)

    def _wait_imported(
        self, ref: ConnectionRef, plan: ConnectPlan, *, paused: bool = False
    ) -> Connection:
        """Done when the connection is healthy again, its exported configuration contains what
        was imported (a state read too early still shows the old configuration), and every
        mapping of the source is in a healthy state. Into a paused connection: done when it
        is PAUSED again with the configuration exported back and no mapping in error (nothing
        loads until sync resumes)."""
        assert plan.config is not None
        config = plan.config
        wanted = {m["object_name"].lower(): m for m in normalise(config)["mappings"]}
        settled = frozenset({"PAUSED"}) if paused else HEALTHY_CONNECTION
        seen: list[str] = []

        def imported() -> Connection | None:
            connection = self.connect.connection(ref)
            seen.append(connection.state)
            self.refuse_needing_a_human(self.target_app, connection)
            if connection.state in ERROR_CONNECTION:
                raise PromoteError(
                    f"the connection is in state {connection.state} after the import"
                )
            if connection.state not in settled:
                return None
            mappings = {m.object_name.lower(): m for m in connection.mappings}
            broken = _in_error(mappings.values())
            if broken:
                # Read every 0.25 s at first, the connection may not show the import yet: a
                # mapping already broken before it is only the import's failure once applied.
                if not _contains(self.connect.export(ref), config):
                    return None
                raise PromoteError(f"mappings in error after the import: {broken}")
            if any(k not in mappings for k in wanted):
                return None
            if not paused and any(mappings[k].state not in OK_MAPPING for k in wanted):
                return None
            if not _contains(self.connect.export(ref), config):
                return None
            pruned = {p.lower() for p in plan.prune} & set(mappings)
            if pruned:
                raise VerificationError(
                    f"pruned mappings are still there: {', '.join(sorted(pruned))}"
                )
            return connection

        def at_deadline() -> str | None:
            try:
                differing = _differing(self.connect.export(ref), config)
            except PromoteError:
                return None  # the timeout itself is the failure to report
            if not differing:
                return None
            return f"the exported configuration still differs for: {', '.join(differing)}"

        return self.wait_explained(
            imported,
            "the import to be applied and every mapping to be healthy",
            at_deadline,
            state=lambda: seen[-1] if seen else "",
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
    loads_mappings: bool = False
    """Wait, after the action, until no mapping waits to load (an import while paused)."""


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
        loads_mappings=True,
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
        self.settled_write(
            lambda: self.connect.action(ref, toggle.action),
            self.state_is(ref, lambda state: not toggle.needed(state)),
            f"the {toggle.action}",
        )
        outcome.changed.append(toggle.changed)
        if not self.inputs.wait:
            outcome.status = Status.CREATED
            return
        outcome.connection = self.wait_state(ref, self.target_app, toggle.done, toggle.done_what)
        if toggle.loads_mappings:
            outcome.connection = self.wait_mappings(
                ref, _loaded, "every mapping to load again after the resume"
            )
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
        over = write_errors_over_limit(
            outcome.write_errors, connection.mappings, self.inputs.connect_max_write_errors
        )
        if over:
            raise PromoteError(over)
        outcome.status = Status.SUCCEEDED


class ConnectRecover(ConnectOperation):
    """The plugin's `connect:recover`: restart a connection or mappings in an error state,
    then wait (bounded by the timeout) until the connection and every mapping are healthy."""

    name = "connect-recover"

    def plan(self) -> ConnectPlan:
        ref = self.find("target-apps", self.target_app)
        connection = self.connect.connection(ref)
        self.refuse_needing_a_human(self.target_app, connection)
        broken = _in_error(connection.mappings)
        needed = connection.state in ERROR_CONNECTION or bool(broken)
        log.info(
            "connection %s of %s is %s%s",
            ref.resource_name,
            self.target_app,
            connection.state,
            f"; mappings in error: {broken}" if broken else "",
        )
        return ConnectPlan(
            operation=self.name, target=self.info(self.target_app, ref, connection), change=needed
        )

    def run(self, plan: ConnectPlan, outcome: ConnectOutcome) -> None:
        ref = self.find("target-apps", self.target_app)
        if not plan.change:
            outcome.connection = self.connect.connection(ref)
            outcome.status = Status.UNCHANGED
            log.info("nothing in an error state: nothing to recover")
            return
        self.settled_write(
            lambda: self.connect.restart(ref),
            self.state_is(ref, lambda state: state == "RECOVERY"),
            "the recovery",
        )
        outcome.changed.append("recovery started")
        outcome.connection = self.wait_mappings(
            ref,
            _loaded,
            "the connection and every mapping to recover",
            errors_fail=False,
        )
        outcome.status = Status.SUCCEEDED


class ConnectReload(ConnectOperation):
    """The plugin's `connect:mapping:reload` for the mappings in `connect-mappings` (or all):
    reload each from Salesforce, then wait until each is synced again."""

    name = "connect-reload"

    def plan(self) -> ConnectPlan:
        ref = self.find("target-apps", self.target_app)
        connection = self.connect.connection(ref)
        self.refuse_needing_a_human(self.target_app, connection)
        mapped = {m.object_name.lower(): m.object_name for m in connection.mappings}
        asked = self.inputs.connect_mappings
        unknown = [name for name in asked if name.lower() not in mapped]
        if unknown:
            raise UsageError(
                "connect-mappings",
                f"the connection of {self.target_app} maps no {', '.join(unknown)} "
                f"(it maps: {', '.join(sorted(mapped.values())) or 'nothing'})",
            )
        names = [mapped[n.lower()] for n in asked] or sorted(mapped.values())
        if not names:
            raise UsageError(
                "connect-mappings", f"the connection of {self.target_app} maps nothing"
            )
        log.info("reloading %s on %s", ", ".join(names), self.target_app)
        return ConnectPlan(
            operation=self.name,
            target=self.info(self.target_app, ref, connection),
            mappings=names,
        )

    def run(self, plan: ConnectPlan, outcome: ConnectOutcome) -> None:
        ref = self.find("target-apps", self.target_app)
        current = {m.object_name: m for m in self.connect.connection(ref).mappings}
        missing = [n for n in plan.mappings if n not in current]
        if missing:
            raise PromoteError(f"mappings gone since the plan: {', '.join(missing)}")
        for name in plan.mappings:
            self.connect.reload_mapping(ref, current[name].id)
            outcome.changed.append(f"{name} reload started")
        if not self.inputs.wait:
            outcome.status = Status.CREATED
            return
        loading: set[str] = set()

        def reloaded(mapping: Mapping) -> bool:
            """Synced after a load that was seen running since the request. A routine
            Salesforce poll (POLLING_SF_CHANGES, which also moves `times.sf_poll`) is no proof:
            the state lags the request by seconds, so DATA_SYNCED alone may predate the load."""
            if mapping.state in MAPPING_LOADING:
                loading.add(mapping.object_name)
                return False
            return mapping.state == "DATA_SYNCED" and mapping.object_name in loading

        outcome.connection = self.wait_mappings(
            ref, reloaded, "the reloaded mappings to be synced again", names=plan.mappings
        )
        outcome.status = Status.SUCCEEDED


class ConnectExport(ConnectOperation):
    """The connection's mapping configuration, normalised (no export time, sorted), written to
    a workspace file and an output: committed, it makes mapping changes reviewable."""

    name = "connect-export"

    def validate(self, inputs: Inputs) -> None:
        inputs.require("connect-config-file")
        path = Path(str(inputs.connect_config_file))
        if path.is_absolute() or ".." in path.parts:
            raise UsageError(
                "connect-config-file",
                "expected a path relative to the workspace, without '..' (e.g. connect/prod.json)",
            )
        super().validate(inputs)

    def plan(self) -> ConnectPlan:
        ref = self.find("target-apps", self.target_app)
        connection = self.connect.connection(ref)
        self.refuse_needing_a_human(self.target_app, connection)
        config = normalise(self.connect.export(ref))
        path = str(self.inputs.connect_config_file)
        try:
            committed = workspace_path(self.services, "connect-config-file", path).read_text(
                encoding="utf-8"
            )
        except OSError:
            committed = None
        return ConnectPlan(
            operation=self.name,
            target=self.info(self.target_app, ref, connection),
            config=config,
            export_path=path,
            change=committed != export_text(config),
        )

    def drift(self, planned: ConnectPlan, fresh: ConnectPlan) -> list[str]:
        """The reviewed plan's configuration is what gets written: not if the connection's has
        moved on since."""
        if planned.config and fresh.config and digest(planned.config) != digest(fresh.config):
            return [f"the configuration of {planned.target.app} changed since the plan"]
        return []

    def run(self, plan: ConnectPlan, outcome: ConnectOutcome) -> None:
        assert plan.config is not None
        assert plan.export_path is not None
        if not plan.change:
            outcome.status = Status.UNCHANGED
            log.info("%s already holds this configuration", plan.export_path)
            return
        target = workspace_path(self.services, "connect-config-file", plan.export_path)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + ".partial")
            partial.write_text(export_text(plan.config), encoding="utf-8")
            os.replace(partial, target)
        except OSError as exc:
            raise PromoteError(f"cannot write {plan.export_path}: {exc.strerror}") from None
        outcome.changed.append(f"{plan.export_path} written")
        outcome.status = Status.SUCCEEDED


# -- helpers ---------------------------------------------------------------------------------------


def export_text(config: dict[str, Any]) -> str:
    """The committed form of an export: stable key order and indentation, one final newline,
    so the same configuration always gives the same bytes."""
    return json.dumps(normalise(config), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _contains(exported: dict[str, Any], config: dict[str, Any]) -> bool:
    """Whether an export holds every mapping of `config` as configured there."""
    return not _differing(exported, config)


def _differing(exported: dict[str, Any], config: dict[str, Any]) -> list[str]:
    """The mappings of `config` the export lacks or configures otherwise. Only the keys
    `config` gives are compared (recursively): Connect fills in its defaults on import, so a
    file that omits one still matches its re-export."""
    have = {m["object_name"].lower(): m for m in normalise(exported)["mappings"]}
    return [
        str(m["object_name"])
        for m in normalise(config)["mappings"]
        if not _subset(m.get("config"), have.get(str(m["object_name"]).lower(), {}).get("config"))
    ]


_NAMED_SETS = frozenset({"fields", "indexes"})
"""Config keys whose objects list names: the same names on both sides (a field dropped from
the source must be gone from the target), each entry compared as a subset."""


def _subset(wanted: Any, got: Any, *, same_keys: bool = False) -> bool:
    """`got` has every key of `wanted` with the same value, recursively (extra keys are
    Connect's defaults); under `fields` and `indexes` the names must match exactly."""
    if isinstance(wanted, dict):
        if not isinstance(got, dict) or (same_keys and wanted.keys() != got.keys()):
            return False
        return all(
            key in got and _subset(value, got[key], same_keys=key in _NAMED_SETS)
            for key, value in wanted.items()
        )
    return bool(wanted == got)


def _loaded(mapping: Mapping) -> bool:
    """Loaded and syncing: an OK state that is not still loading (RELOAD_TABLE, INITIAL, ...)
    nor a load that was given up (ABORTED)."""
    return (
        mapping.state in OK_MAPPING
        and mapping.state not in MAPPING_TRANSITIONAL
        and mapping.state != "ABORTED"
    )


def _in_error(mappings: Iterable[Mapping]) -> str:
    """`Account BAD_CONFIG, Contact SYSTEM_ERROR`, or "" when no mapping is in error."""
    return ", ".join(f"{m.object_name} {m.state}" for m in mappings if m.state in ERROR_MAPPING)


def _object_of(error: WriteError, mappings: Iterable[Mapping]) -> str:
    """Write errors name the Postgres table (`account`); show the mapped object's name."""
    table = (error.table_name or "").lower()
    return next(
        (m.object_name for m in mappings if m.object_name.lower() == table),
        error.table_name or "unknown",
    )


def errors_by_mapping(errors: WriteErrors, mappings: Iterable[Mapping]) -> dict[str, Any]:
    """The `write-errors` output: per mapped object its count and its newest errors."""
    known = list(mappings)
    grouped: dict[str, list[WriteError]] = {}
    for error in sorted(errors.results, key=lambda e: e.created_at or "", reverse=True):
        grouped.setdefault(_object_of(error, known), []).append(error)
    return {
        name: {
            "count": len(items),
            "errors": [
                {
                    "record_id": e.record_id,
                    "operation": e.action,
                    "message": printable(e.message, 300),
                    "created_at": e.created_at,
                }
                for e in items[:WRITE_ERRORS_SHOWN]
            ],
        }
        for name, items in sorted(grouped.items())
    }


def write_errors_over_limit(
    errors: WriteErrors, mappings: Iterable[Mapping], limit: WriteErrorLimit
) -> str | None:
    """Why the write errors fail the gate, or None: over the connection's total, or over a
    mapping's own limit."""
    grouped = errors_by_mapping(errors, mappings)
    if limit.total is not None:
        if errors.count > limit.total:
            counts = ", ".join(f"{name} {item['count']}" for name, item in grouped.items())
            return (
                f"{errors.count} write error(s) in the last 24 hours "
                f"(connect-max-write-errors is {limit.total}): {counts}"
            )
        return None
    over = [
        f"{name} {item['count']} (limit {limit.limit_for(name)})"
        for name, item in grouped.items()
        if item["count"] > limit.limit_for(name)
    ]
    if over:
        return f"write errors in the last 24 hours over connect-max-write-errors: {', '.join(over)}"
    return None


# -- rendering ------------------------------------------------------------------------------------

TITLES = {
    "connect-promote": "Heroku Connect mapping promotion",
    "connect-pause": "Heroku Connect pause",
    "connect-resume": "Heroku Connect resume",
    "connect-check": "Heroku Connect health check",
    "connect-recover": "Heroku Connect recovery",
    "connect-reload": "Heroku Connect mapping reload",
    "connect-export": "Heroku Connect configuration export",
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
    blocks += findings(plan.findings)
    if plan.mappings:
        blocks.append("**Mappings to reload:** " + ", ".join(md.text(n) for n in plan.mappings))
    if plan.export_path:
        verdict = "differs from" if plan.change else "matches"
        blocks.append(
            f"**Export file:** {md.code(plan.export_path)} ({verdict} the connection's "
            f"configuration, {len(plan.config['mappings']) if plan.config else 0} mapping(s))"
        )
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
        blocks.append(_write_errors_block(outcome.write_errors, connection))
    if outcome and outcome.notes:
        blocks.append("\n".join(f"- **Note:** {md.text(note)}" for note in outcome.notes))
    if outcome and outcome.error:
        blocks.append(f"**Failure:** {md.text(outcome.error)}")
    return Summary(
        TITLES[plan.operation], status, tuple(blocks), footer(requests, run, "Heroku Connect")
    )


def _write_errors_block(errors: WriteErrors, connection: Connection | None) -> str:
    """The count, then per mapping its newest errors (capped): which record failed, how."""
    lines = f"**Write errors (last 24 h):** {errors.count}"
    grouped = errors_by_mapping(errors, connection.mappings if connection else [])
    rows = [
        [
            md.text(name),
            md.text(e["record_id"] if e["record_id"] is not None else "—"),
            md.text(e["operation"] or "—"),
            md.text(e["message"]),
            md.text(e["created_at"] or "—"),
        ]
        for name, item in grouped.items()
        for e in item["errors"]
    ]
    if not rows:
        return lines
    hidden = [
        f"{n}: {i['count'] - len(i['errors'])}"
        for n, i in grouped.items()
        if i["count"] > len(i["errors"])
    ]
    table = md.table(["Object", "Record", "Operation", "Message", "When"], rows)
    more = f"\n\n*Not shown (older): {md.text(', '.join(hidden))}*" if hidden else ""
    return f"{lines}\n\n{table}{more}"
