"""Every status a run, a target or an app can be in: one enum for outputs, summaries and code.

Values are the exact strings of the `status` output and of `result` JSON, so a `Status` compares
equal to the text users script against.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    SUCCEEDED = "succeeded"
    """Applied, waited for and verified."""
    UNCHANGED = "unchanged"
    """The target already had what the plan ships: nothing was sent."""
    CREATED = "created"
    """Applied without waiting (`wait: false`): not verified."""
    PLANNED = "planned"
    """Mode plan: the plan was written, nothing changed."""
    DRY_RUN = "dry-run"
    DRIFTED = "drifted"
    """Mode apply refused a plan the world no longer matches."""
    PENDING = "pending"
    FAILED = "failed"
    TIMED_OUT = "timed-out"
    CANCELLED = "cancelled"
    NOT_STARTED = "not-started"
    ROLLED_BACK = "rolled back"
    """kintone: the app's deploy was cancelled by kintone's all-or-nothing rule. Heroku waves:
    the target was live, then rolled back because a wave failed."""

    @property
    def icon(self) -> str:
        return ICONS[self]


ICONS = {
    Status.SUCCEEDED: "✅",
    Status.UNCHANGED: "✅",
    Status.CREATED: "🟡",
    Status.PLANNED: "📝",
    Status.DRIFTED: "🚫",
    Status.DRY_RUN: "📝",
    Status.PENDING: "⏳",
    Status.FAILED: "❌",
    Status.TIMED_OUT: "⌛",
    Status.CANCELLED: "🛑",
    Status.NOT_STARTED: "⏸️",
    Status.ROLLED_BACK: "↩️",
}

SETTLED_OK = frozenset({Status.SUCCEEDED, Status.UNCHANGED, Status.CREATED})
"""End states of a run that applied its plan without a failure (created: wait false)."""

UNAPPLIED = frozenset({Status.PLANNED, Status.DRY_RUN})
"""A run that only planned."""
