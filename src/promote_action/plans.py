"""The `plan` output and input: what a reviewer approved, carried from one job to the next.

`mode: plan` writes the operation's plan as compact JSON; `mode: apply` reads it back, re-reads
the live state, refuses if anything drifted, and then applies exactly the plan. The envelope
names the operation and a format version so a plan can never be applied by the wrong code.

Between the jobs the plan is data anyone with write access to the workflow's artifacts or
outputs could edit, so it is signed: an HMAC-SHA256 over its canonical JSON (sorted keys, no
whitespace), keyed from a secret both jobs hold (the `plan-key` input, else the platform
credential). A key is derived from that secret with a fixed context, so the raw credential is
never a MAC key and a plan signature reveals nothing usable elsewhere.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from promote_action.errors import UsageError
from promote_action.inputs import Inputs, reveal

PLAN_VERSION = 1
MAX_PLAN_BYTES = 900_000
"""GitHub caps a job's outputs at 1 MB in all; a plan must leave room for the others."""


_C1 = re.compile(r"[\x7f-\x9f]")
KEY_CONTEXT = b"promote-action plan signature v1"
"""Fixed context of the key derivation: a plan key is good for nothing but plan signatures."""

KINTONE_CREDENTIALS = ("kintone-api-token", "kintone-oauth-token", "kintone-password")


class PlanEnvelope(BaseModel):
    version: int
    operation: str
    created_at: str
    plan: dict[str, Any]
    signature: str = ""
    """Hex HMAC-SHA256 of the other fields' canonical JSON."""


def canonical(envelope: PlanEnvelope) -> bytes:
    """What is signed: every field but the signature, sorted keys, no whitespace."""
    body = envelope.model_dump(mode="json", exclude={"signature"})
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def signing_key(inputs: Inputs, operation: str) -> bytes:
    """The plan key: from `plan-key` when given, else from the credential of the platform the
    operation changes (Heroku's API key; kintone's token, OAuth token or password), through
    HMAC with a fixed context (HKDF-extract style)."""
    secret = reveal(inputs.plan_key)
    source = "plan-key"
    if not secret:
        names = KINTONE_CREDENTIALS if operation.startswith("kintone-") else ("heroku-api-key",)
        source = next((n for n in names if reveal(getattr(inputs, n.replace("-", "_")))), "")
        secret = reveal(getattr(inputs, source.replace("-", "_"))) if source else ""
    if not secret:
        raise UsageError("plan-key", "is required to sign or check a plan without a credential")
    return derive_key(source, secret)


def derive_key(source: str, secret: str) -> bytes:
    """HMAC with a fixed context, the secret's kind included: a kintone password and a
    plan-key of the same text give different keys."""
    return hmac.new(KEY_CONTEXT, f"{source}\0{secret}".encode(), hashlib.sha256).digest()


def sign(envelope: PlanEnvelope, key: bytes) -> str:
    return hmac.new(key, canonical(envelope), hashlib.sha256).hexdigest()


def encode(operation: str, plan: BaseModel, key: bytes) -> str:
    """One line of JSON (an output value can never inject another output), no secrets: plans
    hold ids, names, revisions and configuration, never credentials or config-var values."""
    envelope = PlanEnvelope(
        version=PLAN_VERSION,
        operation=operation,
        created_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        plan=plan.model_dump(mode="json"),
    )
    envelope.signature = sign(envelope, key)
    text = json.dumps(envelope.model_dump(mode="json"), separators=(",", ":"), ensure_ascii=False)
    # Outputs lose C1 control characters; escaped, they survive and the signature still holds.
    text = _C1.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
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


def authenticate(envelope: PlanEnvelope, key: bytes) -> None:
    """Refuse a plan not signed with this key: edited since mode plan, or made by someone who
    does not hold the secret (compared in constant time)."""
    if not hmac.compare_digest(envelope.signature, sign(envelope, key)):
        raise UsageError(
            "plan",
            "has no valid signature: it was changed after mode plan, or signed with another "
            "plan-key or credential (give both jobs the same)",
        )


def differences(
    planned: Mapping[str, Any], fresh: Mapping[str, Any], exempt: frozenset[str] = frozenset()
) -> list[str]:
    """Every field where the approved plan and a fresh plan of the same inputs differ, one
    readable line each: apply ships the plan only when the world still matches all of it.
    Fields named in `exempt` (anywhere along the path) differ by design and are skipped."""
    return [
        f"{path}: the plan has {_shown(old)}, now {_shown(new)}"
        for path, old, new in _diff(planned, fresh, "")
        if not exempt.intersection(_names(path))
    ]


def _diff(old: Any, new: Any, path: str) -> Iterator[tuple[str, Any, Any]]:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in sorted(set(old) | set(new)):
            yield from _diff(old.get(key), new.get(key), f"{path}.{key}" if path else key)
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            yield from _diff(a, b, f"{path}[{index}]")
    elif old != new:
        yield path, old, new


def _names(path: str) -> set[str]:
    """The field names along `targets[0].app.name`: targets, app, name."""
    return {part.split("[", maxsplit=1)[0] for part in path.split(".")}


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."
