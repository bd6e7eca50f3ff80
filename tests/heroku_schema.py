"""The official Platform API schema (subset, MIT; see the LICENSE file beside it), prepared
for validating both the sandbox's responses and our client's requests."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator, FormatChecker

SCHEMA = json.loads((Path(__file__).parent / "heroku-platform-api.schema.json").read_text())
ERROR_SCHEMA = {
    "type": "object",
    "required": ["id", "message"],
    "properties": {
        "id": {"type": "string", "pattern": "^[a-z_]+$"},
        "message": {"type": "string", "minLength": 1},
        "url": {"type": "string"},
        "resource": {"type": "string"},
    },
    "additionalProperties": False,
}

FORMATS = FormatChecker()


@FORMATS.checks("date-time")
def _is_heroku_timestamp(value: object) -> bool:
    return not isinstance(value, str) or bool(
        re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", value)
    )


def _resolvable(ref: str) -> bool:
    node: Any = SCHEMA
    for escaped in ref.removeprefix("#/").split("/"):
        token = escaped.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or token not in node:
            return False
        node = node[token]
    return True


def _prepare(node: Any) -> Any:
    """Missing ``$ref`` targets (the subset omits stack, team, ...) become permissive ``{}``;
    Heroku's ``strictProperties`` becomes what it means: all properties, nothing else."""
    if isinstance(node, list):
        return [_prepare(item) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node and not _resolvable(node["$ref"]):
        return {}
    prepared = {key: _prepare(value) for key, value in node.items()}
    if prepared.get("strictProperties") and "properties" in prepared:
        prepared["additionalProperties"] = False
        prepared["required"] = sorted(prepared["properties"])
    return prepared


DEFINITIONS = _prepare(SCHEMA["definitions"])


def _links() -> list[tuple[str, re.Pattern[str], dict[str, Any]]]:
    links = []
    for definition in DEFINITIONS.values():
        for link in definition.get("links", []):
            if "targetSchema" in link:
                pattern = re.sub(r"\\\{.*?\\\}", "[^/]+", re.escape(link["href"]))
                links.append((link["method"], re.compile(pattern), link["targetSchema"]))
    return links


LINKS = _links()


def target_schema(method: str, path: str) -> dict[str, Any]:
    found = [schema for m, pattern, schema in LINKS if m == method and pattern.fullmatch(path)]
    assert found, f"the schema documents no {method} {path}"
    return found[0]


def validate(schema: dict[str, Any], body: Any) -> None:
    Draft4Validator({"definitions": DEFINITIONS, **schema}, format_checker=FORMATS).validate(body)


def request_schemas(method: str, path: str) -> list[dict[str, Any]]:
    """Body schemas of every link documenting `method path` (POST releases has two: create
    and rollback); empty when the schema documents no such request."""
    found = []
    for definition in DEFINITIONS.values():
        for link in definition.get("links", []):
            pattern = re.sub(r"\\\{.*?\\\}", "[^/]+", re.escape(link["href"]))
            if link["method"] == method and re.fullmatch(pattern, path):
                found.append(link.get("schema", {}))
    return found


OUTSIDE_THE_SUBSET = [
    ("GET", re.compile(r"/apps/[^/]+/config-vars")),
    ("GET", re.compile(r"/pipelines/[^/]+/latest-releases")),
]
"""Documented in the full Platform API schema (config-var "Info for App", pipeline-release
"List") but not in the subset shipped here."""


def validate_request(method: str, path: str, body: Any) -> None:
    """The request is documented, and its body matches at least one documented form."""
    if any(m == method and p.fullmatch(path) for m, p in OUTSIDE_THE_SUBSET):
        return
    schemas = request_schemas(method, path)
    assert schemas, f"the schema documents no {method} {path}"
    if body is None:
        return
    errors = [
        list(Draft4Validator({"definitions": DEFINITIONS, **schema}).iter_errors(body))
        for schema in schemas
    ]
    assert any(not e for e in errors), f"{method} {path} body {body} matches no form: {errors}"
