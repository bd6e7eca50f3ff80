"""The one table of operations: each one's name, the inputs it reads and where its code lives.

The `operation` input's accepted values, the import of an operation's code (on demand: a slug
copy never loads the kintone or Connect code), its plan type (a class attribute of the code the
row names) and the README's list of operations all derive from this table; a test checks
action.yml against it.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

COMMON_INPUTS = frozenset(
    {
        "operation",
        "mode",
        "plan",
        "plan-key",
        "dry-run",
        "strict",
        "timeout",
        "github-token",
        "environment",
        "transient-environment",
        "production-environment",
    }
)
"""Read by the runner for every operation: modes, the deadline, GitHub deployments."""

MODE_ONLY_INPUTS: Mapping[str, tuple[str, ...]] = {
    "plan": ("apply",),
    "plan-key": ("plan", "apply"),
}
"""Inputs read in some modes only: a plan is read by mode apply; its key signs (mode plan) and
authenticates (mode apply) it."""

NEEDS_WAIT = ("health-check", "rollback-on-failure")
"""Inputs that act after the wait for the change: meaningless with `wait: false`."""
HEALTH_CHECK_SETTINGS = (
    "health-check-url",
    "health-check-status",
    "health-check-text",
    "health-check-timeout",
)
"""Settings of the health check: meaningless unless `health-check` is true (the waves'
`health-check-soak` says so itself)."""

_HEALTH = frozenset(
    {
        "health-check",
        "health-check-url",
        "health-check-status",
        "health-check-text",
        "health-check-timeout",
        "rollback-on-failure",
    }
)
_WAVES = frozenset({"canary-apps", "waves", "health-check-soak"})
_HEROKU_RELEASES = (
    frozenset({"heroku-api-key", "heroku-api-url", "source-app", "target-apps", "release", "wait"})
    | _HEALTH
    | _WAVES
)
_KINTONE = frozenset(
    {
        "kintone-base-url",
        "kintone-apps",
        "kintone-guest-space-id",
        "kintone-api-token",
        "kintone-username",
        "kintone-password",
        "kintone-basic-auth",
        "kintone-client-cert",
        "kintone-client-cert-password",
        "kintone-oauth-token",
    }
)
_CONNECT = frozenset({"heroku-api-key", "connect-api-url", "connect-resource", "target-apps"})


@dataclass(frozen=True)
class OperationSpec:
    name: str
    summary: str
    """One line for `--help` and the README."""
    code: str
    """`module:Class` below promote_action.operations; the class has `plan_type`."""
    reads: frozenset[str]
    """Inputs this operation reads besides COMMON_INPUTS."""
    options: Mapping[str, str] = field(default_factory=dict)
    """Keyword arguments for the class: one class can serve several operations."""

    def load(self) -> Any:
        """The operation's class, imported now."""
        module, cls = self.code.split(":")
        return getattr(importlib.import_module(f"promote_action.operations.{module}"), cls)

    @property
    def inputs(self) -> frozenset[str]:
        return COMMON_INPUTS | self.reads


REGISTRY: tuple[OperationSpec, ...] = (
    OperationSpec(
        "slug-copy",
        "release a source app's slug on target apps, without a rebuild",
        "heroku.slug_copy:SlugCopy",
        _HEROKU_RELEASES | {"slug", "description"},
    ),
    OperationSpec(
        "pipeline-promote",
        "promote a release through a Heroku pipeline to the next stage or named apps",
        "heroku.pipeline_promote:PipelinePromote",
        _HEROKU_RELEASES | {"target-stage", "pipeline"},
    ),
    OperationSpec(
        "kintone-deploy",
        "deploy kintone apps' preview settings to production (or revert them)",
        "kintone_deploy:KintoneDeploy",
        _KINTONE | {"kintone-revert", "wait"},
    ),
    OperationSpec(
        "kintone-export",
        "write a kintone app's settings as a normalised snapshot directory, to commit and diff",
        "kintone_promote:KintoneExport",
        _KINTONE | {"kintone-snapshot-path", "kintone-app-permissions"},
    ),
    OperationSpec(
        "kintone-promote",
        "ship an app's (or a snapshot's) settings to production apps: reviewed diff, deployed, "
        "verified",
        "kintone_promote:KintonePromote",
        _KINTONE
        | {
            "kintone-source-app",
            "kintone-source-base-url",
            "kintone-source-api-token",
            "kintone-source-username",
            "kintone-source-password",
            "kintone-source-snapshot",
            "kintone-allow-field-deletion",
            "kintone-app-permissions",
        },
    ),
    OperationSpec(
        "connect-promote",
        "import a Heroku Connect mapping configuration from an app or a file",
        "connect:ConnectPromote",
        _CONNECT | {"source-app", "connect-config-file", "connect-prune", "wait"},
    ),
    OperationSpec(
        "connect-pause",
        "pause a Heroku Connect connection's sync",
        "connect:ConnectSync",
        _CONNECT | {"wait"},
        {"toggle": "pause"},
    ),
    OperationSpec(
        "connect-resume",
        "resume a paused Heroku Connect connection",
        "connect:ConnectSync",
        _CONNECT | {"wait"},
        {"toggle": "resume"},
    ),
    OperationSpec(
        "connect-check",
        "gate on a Heroku Connect connection's health",
        "connect:ConnectCheck",
        _CONNECT | {"connect-max-write-errors"},
    ),
    OperationSpec(
        "connect-recover",
        "recover a Heroku Connect connection or mappings in an error state, and wait until healthy",
        "connect:ConnectRecover",
        _CONNECT,
    ),
    OperationSpec(
        "connect-reload",
        "reload Heroku Connect mappings from Salesforce and wait until they are synced",
        "connect:ConnectReload",
        _CONNECT | {"connect-mappings", "wait"},
    ),
    OperationSpec(
        "connect-export",
        "write a Heroku Connect connection's normalised mapping configuration to a file",
        "connect:ConnectExport",
        _CONNECT | {"connect-config-file"},
    ),
)

OPERATIONS: dict[str, OperationSpec] = {spec.name: spec for spec in REGISTRY}


def unread_input(
    operation: str, mode: str, given: frozenset[str], *, wait: bool, health_check: bool = False
) -> tuple[str, str] | None:
    """The first given input that this operation in this mode would ignore, and why: a setting
    silently ignored is a setting the user believes in and does not get."""
    spec = OPERATIONS[operation]
    for name in sorted(given):
        if name not in spec.inputs:
            return name, f"is not read by operation {operation}; remove it"
        modes = MODE_ONLY_INPUTS.get(name, (mode,))
        if mode not in modes:
            return name, f"is only read in mode {' or '.join(modes)} (mode is {mode})"
        if name in NEEDS_WAIT and not wait and "wait" in spec.inputs:
            return name, "needs wait: true (with wait: false nothing is checked after the release)"
        if name in HEALTH_CHECK_SETTINGS and not health_check:
            return name, "is a setting of the health check: set health-check: true as well"
    return None


OPERATION_NAMES: tuple[str, ...] = tuple(OPERATIONS)
