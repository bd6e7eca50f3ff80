"""Plan signatures: canonical JSON, derived keys, constant-time checks, survival through outputs."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel

from promote_action import plans
from promote_action.errors import UsageError, remote_text


class Plan(BaseModel):
    name: str
    count: int


KEY = plans.derive_key("plan-key", "s3cret")


def test_a_signed_plan_authenticates_and_any_edit_does_not():
    text = plans.encode("slug-copy", Plan(name="a", count=1), KEY)
    plans.authenticate(plans.decode(text), KEY)
    envelope = json.loads(text)
    envelope["plan"]["count"] = 2
    with pytest.raises(UsageError, match="has no valid signature"):
        plans.authenticate(plans.decode(json.dumps(envelope)), KEY)


def test_the_signature_covers_canonical_json_not_formatting():
    envelope = json.loads(plans.encode("slug-copy", Plan(name="a", count=1), KEY))
    reformatted = json.dumps(dict(reversed(envelope.items())), indent=2)
    plans.authenticate(plans.decode(reformatted), KEY)


def test_keys_are_derived_per_kind_of_secret_and_never_the_secret_itself():
    assert plans.derive_key("heroku-api-key", "x") != plans.derive_key("plan-key", "x")
    assert b"x" not in plans.derive_key("plan-key", "x")
    text = plans.encode("slug-copy", Plan(name="a", count=1), KEY)
    with pytest.raises(UsageError):
        plans.authenticate(plans.decode(text), plans.derive_key("plan-key", "other"))


def test_c1_characters_survive_the_output_filter_and_the_signature_holds():
    text = plans.encode("slug-copy", Plan(name="a\x85b\x9b日本", count=1), KEY)
    assert remote_text(text, limit=len(text)) == text
    decoded = plans.decode(text)
    plans.authenticate(decoded, KEY)
    assert decoded.plan["name"] == "a\x85b\x9b日本"


def test_differences_name_each_field_and_skip_exempt_ones():
    planned = {"a": {"b": [1, 2]}, "state": "IDLE", "m": {"x": "ok"}}
    fresh = {"a": {"b": [1, 3]}, "state": "POLLING", "m": {"x": "bad"}}
    assert plans.differences(planned, fresh, frozenset({"state", "m"})) == [
        "a.b[1]: the plan has 2, now 3"
    ]
