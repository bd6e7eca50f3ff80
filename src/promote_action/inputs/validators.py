"""One validator per kind of input: what the `Inputs` fields declare as `BeforeValidator`s.

Each takes the raw value (a string from the runner or a flag) and returns the parsed value, or
raises ValueError saying what is accepted; secrets are never echoed.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pydantic import BaseModel, SecretStr

from promote_action.inputs.parsers import (
    CONTROL_CHARS,
    PIPELINE_NAME,
    UUID,
    check_app,
    parse_bool,
    parse_duration,
    printable,
    split_list,
)
from promote_action.registry import OPERATION_NAMES
from promote_action.urls import check_api_url

STAGES = ("test", "review", "development", "staging", "production")
"""Pipeline stages, in the order the Platform API schema lists them."""
MAX_TARGETS = 100
MAX_DESCRIPTION = 500
MAX_KINTONE_APPS = 300
KINTONE_PIN = re.compile(r"^(\d{1,10})(?::(\d{1,10}))?$")
MODES = ("run", "plan", "apply")


class AppPin(BaseModel):
    """A kintone app id, with the preview revision the user expects to deploy, if given."""

    app: int
    revision: int | None = None


def operation(value: object) -> object:
    if isinstance(value, str) and value.strip() not in OPERATION_NAMES:
        raise ValueError(f"expected one of: {', '.join(OPERATION_NAMES)}")
    return value.strip() if isinstance(value, str) else value


def mode(value: object) -> str:
    text = str(value).strip()
    if text not in MODES:
        raise ValueError("expected run, plan or apply")
    return text


def boolean(value: object) -> bool:
    return parse_bool(value)


def duration(value: object) -> float:
    return parse_duration(value)


def health_url(value: object) -> str:
    text = str(value).strip()
    parts = urlsplit(text.replace("{app}", "app"))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected an http(s) URL, optionally with {app}")
    return text


def http_status(value: object) -> int:
    text = str(value).strip()
    if not text.isdigit() or not 100 <= int(text) <= 599:
        raise ValueError("expected an HTTP status such as 200")
    return int(text)


def environment(value: object) -> str:
    text = str(value).strip()
    if CONTROL_CHARS.search(text) or len(text) > 255:
        raise ValueError("expected a GitHub environment name (one line, at most 255)")
    return text


def api_url(value: object) -> str:
    return check_api_url(str(value))


def kintone_url(value: object) -> str:
    url = check_api_url(str(value))
    if urlsplit(url).path not in ("", "/"):
        raise ValueError("expected the domain only, e.g. https://example.cybozu.com")
    return url


def kintone_apps(value: object) -> list[AppPin]:
    """`ID` or `ID:REVISION` items."""
    pins: list[AppPin] = []
    for item in split_list(value):
        match = KINTONE_PIN.match(item.replace(" ", ""))
        if not match or int(match.group(1)) < 1:
            raise ValueError(f"'{printable(item)}' is not an app id or ID:REVISION")
        revision = int(match.group(2)) if match.group(2) else None
        pins.append(AppPin(app=int(match.group(1)), revision=revision))
    ids = [pin.app for pin in pins]
    if len(set(ids)) != len(ids):
        raise ValueError("each app may be listed once")
    if len(pins) > MAX_KINTONE_APPS:
        raise ValueError(f"expected at most {MAX_KINTONE_APPS} apps, got {len(pins)}")
    return pins


def addon_resource(value: object) -> str:
    text = str(value).strip()
    if not re.fullmatch(r"[a-z][a-z0-9-]{0,99}", text):
        raise ValueError(f"'{printable(text)}' is not an add-on resource name")
    return text


def file_path(value: object) -> str:
    text = str(value).strip()
    if CONTROL_CHARS.search(text):
        raise ValueError("expected a file path")
    return text


def write_error_count(value: object) -> int:
    text = str(value).strip()
    if not text.isdigit():
        raise ValueError("expected a number of write errors (0 or more)")
    return int(text)


def kintone_app(value: object) -> int:
    text = str(value).strip()
    if not text.isdigit() or int(text) < 1:
        raise ValueError("expected an app id (a positive number)")
    return int(text)


def guest_space(value: object) -> int:
    text = str(value).strip()
    if not text.isdigit() or int(text) < 1:
        raise ValueError("expected a guest space id (a positive number)")
    return int(text)


def app(value: object) -> str:
    return check_app(str(value).strip())


def target_apps(value: object) -> list[str]:
    apps = [check_app(app) for app in split_list(value)]
    if len(apps) > MAX_TARGETS:
        raise ValueError(f"expected at most {MAX_TARGETS} apps, got {len(apps)}")
    return apps


def stage(value: object) -> str:
    text = str(value).strip()
    if text not in STAGES:
        raise ValueError(f"expected one of: {', '.join(STAGES)}")
    return text


def pipeline(value: object) -> str:
    text = str(value).strip()
    if PIPELINE_NAME.match(text) or UUID.match(text.lower()):
        return text if PIPELINE_NAME.match(text) else text.lower()
    raise ValueError(
        f"'{printable(text)}' is not a pipeline name (lowercase letters, digits and "
        "dashes, 3-30 characters, starting with a letter) or pipeline id"
    )


def release(value: object) -> str:
    text = str(value).strip()
    number = text[1:] if text[:1] in ("v", "V") else text
    if number.isdigit() and int(number) >= 1:
        return str(int(number))
    if UUID.match(text.lower()):
        return text.lower()
    raise ValueError(f"'{printable(text)}' is not a release version (42 or v42) or release id")


def slug(value: object) -> str:
    text = str(value).strip().lower()
    if not UUID.match(text):
        raise ValueError(f"'{printable(text)}' is not a slug id (a UUID)")
    return text


def description(value: object) -> str:
    text = str(value).strip()
    if CONTROL_CHARS.search(text):
        raise ValueError("expected a single line without control characters")
    if len(text) > MAX_DESCRIPTION:
        raise ValueError(f"expected at most {MAX_DESCRIPTION} characters")
    return text


def api_key(value: object) -> object:
    text = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
    if CONTROL_CHARS.search(text.strip()) or " " in text.strip():
        raise ValueError("expected an API key without spaces or control characters")
    return text.strip()
