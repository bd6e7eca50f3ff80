"""Types of the fields of a plan, validated like the inputs they came from.

A plan crosses from one job to the next as data; before mode apply trusts a field it is held to
the rule of the input it stands for (an app name or id, a slug UUID, a description, a kintone
app id, at most 300 apps), so a malformed plan is a usage error naming the field, never a
crash or a request. The rules apply when a plan is read back (`PLAN_CONTEXT`); a plan built
from what the platform answered is not refused for, say, a long commit message.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo

from promote_action.errors import REMOTE_TEXT_LIMIT
from promote_action.errors import remote_text as clean_remote_text
from promote_action.inputs import validators as v
from promote_action.inputs.parsers import UUID, check_app

PLAN_CONTEXT = {"plan-input": True}
"""Validation context of a plan read from the `plan` input."""
_STACK = re.compile(r"^[a-z0-9][a-z0-9-]{0,49}$")


def uuid_id(value: str) -> str:
    if not UUID.match(value):
        raise ValueError("expected an id (a lowercase UUID)")
    return value


def app_name_or_id(value: str) -> str:
    return check_app(value)


def stack(value: str) -> str:
    if not _STACK.match(value):
        raise ValueError("expected a stack name such as heroku-24")
    return value


def remote_text(value: object) -> str:
    """Text a platform returned (names, commit messages, findings), made fit for a plan when
    the plan is built and again when it is read back: bounded, no control characters. Cleaning
    is idempotent, so a plan mode plan wrote is one mode apply accepts as it is."""
    return clean_remote_text(value, limit=REMOTE_TEXT_LIMIT)


def http_url(value: str) -> str:
    v.health_url(value)
    return value


def kintone_app_id(value: str) -> str:
    if not re.fullmatch(r"[1-9]\d{0,9}", value):
        raise ValueError("expected a kintone app id (a positive number)")
    return value


def from_plan(check: Callable[[Any], Any]) -> AfterValidator:
    """`check` applied to a field of a plan read from the `plan` input only."""

    def validate(value: Any, info: ValidationInfo) -> Any:
        context = info.context
        return check(value) if isinstance(context, dict) and context.get("plan-input") else value

    return AfterValidator(validate)


Id = Annotated[str, from_plan(uuid_id)]
AppName = Annotated[str, from_plan(app_name_or_id)]
Version = Annotated[int, Field(ge=1)]
Revision = Annotated[int, Field(ge=0)]
Count = Annotated[int, Field(ge=0)]
Description = Annotated[str, from_plan(v.description)]
Stack = Annotated[str, from_plan(stack)]
RemoteText = Annotated[str, BeforeValidator(remote_text)]
HttpUrl = Annotated[str, from_plan(http_url)]
KintoneAppId = Annotated[str, from_plan(kintone_app_id)]
Stage = Annotated[str, from_plan(v.stage)]
Findings = Annotated[list[RemoteText], Field(max_length=1000)]
