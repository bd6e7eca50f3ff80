"""The `plan` output and input: what a reviewer approved, carried from one job to the next.

`mode: plan` writes the operation's plan as compact JSON; `mode: apply` reads it back, re-reads
the live state, refuses if anything drifted, and then applies exactly the plan. The envelope
names the operation and a format version so a plan can never be applied by the wrong code.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from promote_action.errors import UsageError

PLAN_VERSION = 1
MAX_PLAN_BYTES = 900_000
"""GitHub caps a job's outputs at 1 MB in all; a plan must leave room for the others."""


class PlanEnvelope(BaseModel):
    version: int
    operation: str
    created_at: str
    plan: dict[str, Any]


def encode(operation: str, plan: BaseModel) -> str:
    """One line of JSON (an output value can never inject another output), no secrets: plans
    hold ids, names, revisions and configuration, never credentials or config-var values."""
    envelope = PlanEnvelope(
        version=PLAN_VERSION,
        operation=operation,
        created_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        plan=plan.model_dump(mode="json"),
    )
    text = json.dumps(envelope.model_dump(mode="json"), separators=(",", ":"), ensure_ascii=False)
    if len(text.encode()) > MAX_PLAN_BYTES:
        raise UsageError("mode", f"the plan is {len(text.encode())} bytes, over GitHub's limits")
    return text


def decode(text: str | None) -> PlanEnvelope:
    if not text:
        raise UsageError("plan", "is required with mode apply (the plan output of mode plan)")
    try:
        envelope = PlanEnvelope.model_validate_json(text)
    except ValidationError:
        raise UsageError("plan", "is not a plan written by mode plan (expected its JSON)") from None
    if envelope.version != PLAN_VERSION:
        raise UsageError(
            "plan",
            f"was written in plan format {envelope.version}; this version reads {PLAN_VERSION}",
        )
    return envelope
