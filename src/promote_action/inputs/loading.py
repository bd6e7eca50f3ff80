"""Inputs from the run's environment (`INPUT_*`, fallbacks such as HEROKU_API_KEY) and flags.

pydantic's messages are rewritten to one line naming the input, never echoing a secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import AliasChoices, ValidationError

from promote_action.errors import UsageError
from promote_action.inputs.fields import (
    OUTSIDE_ACTIONS_ONLY,
    SECRET_INPUTS,
    Inputs,
    env_names,
    input_name,
)


def variables_of(field: str) -> list[str]:
    """The environment variables field `field` may come from, in order of preference."""
    aliases = Inputs.model_fields[field].validation_alias
    return [str(a) for a in aliases.choices] if isinstance(aliases, AliasChoices) else []


def load_inputs(overrides: Mapping[str, str], environ: Mapping[str, str]) -> Inputs:
    """Read inputs from `environ`, `overrides` (command-line flags, by field name) winning.

    Variable names match case-insensitively and empty values mean unset, as the runner sets
    every declared input, empty when the workflow does not give it.
    """
    upper = {key.upper(): value for key, value in environ.items() if value != ""}
    if upper.get("GITHUB_ACTIONS") == "true":
        upper = {key: value for key, value in upper.items() if key not in OUTSIDE_ACTIONS_ONLY}
    values: dict[str, Any] = {}
    given = set()
    for field in Inputs.model_fields:
        if overrides.get(field, "") != "":
            values[field] = overrides[field]
            given.add(field)
            continue
        found = next((upper[v.upper()] for v in variables_of(field) if v.upper() in upper), None)
        if found is not None:
            values[field] = found
            if any(name.upper() in upper for name in env_names(input_name(field))):
                given.add(field)
    try:
        inputs = Inputs(**values)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = input_name(str(error["loc"][0]) if error["loc"] else "input")
        raise UsageError(name, _reason(error, name)) from None
    inputs._given = frozenset(given)
    return inputs


def _reason(error: Any, name: str) -> str:
    ctx = error.get("ctx") or {}
    if "error" in ctx:
        return str(ctx["error"])
    if name in SECRET_INPUTS:
        return "is invalid"
    return str(error["msg"])
