"""Parsing of the runner's input strings: booleans, durations, lists, names and ids.

Each parser raises ValueError with what is accepted; loading turns that into one usage line
naming the input. User text echoed in an error goes through `printable` first.
"""

from __future__ import annotations

import re

APP_NAME = re.compile(r"^[a-z][a-z0-9-]{1,28}[a-z0-9]$")
PIPELINE_NAME = re.compile(r"^[a-z][a-z0-9-]{2,29}$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
MAX_TIMEOUT_SECONDS = 6 * 3600


def parse_bool(value: object) -> bool:
    """The runner's YAML 1.2 core-schema booleans, as `core.getBooleanInput` accepts them."""
    if isinstance(value, bool):
        return value
    text = str(value).strip()
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    raise ValueError("expected true or false")


def parse_duration(value: object) -> float:
    """`15m`, `90s`, `1h30m`, `500ms` or plain seconds; bounded so a typo cannot mean a day."""
    text = str(value).strip().lower().replace(" ", "")
    if re.fullmatch(r"\d+(\.\d+)?", text):
        seconds = float(text)
    elif text and DURATION_PART.sub("", text) == "":
        units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
        seconds = sum(float(n) * units[u] for n, u in DURATION_PART.findall(text))
    else:
        raise ValueError("expected a duration such as 90s, 15m or 1h30m")
    if not 1 <= seconds <= MAX_TIMEOUT_SECONDS:
        raise ValueError("expected a duration between 1s and 6h")
    return seconds


def split_list(value: object) -> list[str]:
    """Newline- or comma-separated list, blanks dropped, duplicates removed in order."""
    items = [str(v) for v in value] if isinstance(value, list) else re.split(r"[,\n]", str(value))
    seen: dict[str, None] = {}
    for item in items:
        if item.strip():
            seen.setdefault(item.strip(), None)
    return list(seen)


def printable(value: str, limit: int = 60) -> str:
    """Echo user input in an error without letting it inject lines or workflow commands."""
    shown = CONTROL_CHARS.sub("?", value)
    return shown if len(shown) <= limit else shown[:limit] + "..."


def check_app(value: str) -> str:
    """Heroku app identity: a name or a UUID (schema `app/definitions/identity`)."""
    if APP_NAME.match(value) or UUID.match(value.lower()):
        return value if APP_NAME.match(value) else value.lower()
    raise ValueError(
        f"'{printable(value)}' is not a Heroku app name (lowercase letters, digits and "
        "dashes, 3-30 characters, starting with a letter) or app id"
    )
