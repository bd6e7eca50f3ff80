"""One validator per kind of input: what the `Inputs` fields declare as `BeforeValidator`s.

Each takes the raw value (a string from the runner or a flag) and returns the parsed value, or
raises ValueError saying what is accepted; secrets are never echoed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
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
OBJECT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,79}$")
"""A Salesforce object's API name (Account, My_Object__c)."""
MAX_WAVES = 20
WAVE_SIZE = re.compile(r"^(\d{1,3})(%?)$")


class AppPin(BaseModel):
    """A kintone app id, with the preview revision the user expects to deploy, if given."""

    app: int
    revision: int | None = None


class WaveSize(BaseModel):
    """One cumulative size of the `waves` input: a number of targets, or a percentage."""

    value: int
    percent: bool


class WaveSpec(BaseModel):
    """The `waves` input: cumulative sizes (`1, 25%, 100%`) or explicit app lists (`a; b, c`).
    Exactly one of the two is set; which targets they mean is resolved when planning."""

    sizes: list[WaveSize] = []
    groups: list[list[str]] = []


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


@dataclass(frozen=True)
class WriteErrorLimit:
    """`connect-max-write-errors`: a number for the whole connection, or `Object=N` items for
    each mapping (mappings not named then tolerate none)."""

    total: int | None = 0
    per_mapping: tuple[tuple[str, int], ...] = ()

    def limit_for(self, object_name: str) -> int:
        wanted = object_name.lower()
        return next((n for name, n in self.per_mapping if name.lower() == wanted), 0)


def write_error_limit(value: object) -> WriteErrorLimit:
    text = str(value).strip()
    if text.isdigit():
        return WriteErrorLimit(total=int(text))
    limits: list[tuple[str, int]] = []
    for item in split_list(text):
        name, sep, count = (part.strip() for part in item.partition("="))
        if not sep or not OBJECT_NAME.fullmatch(name) or not count.isdigit():
            raise ValueError(
                "expected a number of write errors (0 or more), or Object=N items such as "
                "'Account=0, Contact=5'"
            )
        limits.append((name, int(count)))
    return WriteErrorLimit(total=None, per_mapping=tuple(limits))


def object_names(value: object) -> list[str]:
    """`connect-mappings`: Salesforce object names, comma- or newline-separated."""
    names = split_list(value)
    for name in names:
        if not OBJECT_NAME.fullmatch(name):
            raise ValueError(
                f"'{printable(name)}' is not a Salesforce object name (e.g. Account, Custom__c)"
            )
    return names


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


def waves(value: object) -> WaveSpec:
    """Sizes when every item is a number or a percentage (commas, `;` or newlines between them);
    otherwise app lists, one wave per `;` or line, apps separated by commas."""
    if isinstance(value, WaveSpec):
        return value
    text = str(value)
    items = [item.strip() for item in re.split(r"[,;\n]", text) if item.strip()]
    if not items:
        raise ValueError("expected sizes such as 1, 25%, 100% or app lists such as a; b, c")
    sized = [WAVE_SIZE.match(item.replace(" ", "")) for item in items]
    if all(sized):
        sizes = [WaveSize(value=int(m.group(1)), percent=bool(m.group(2))) for m in sized if m]
        for size in sizes:
            if size.value < 1 or (size.percent and size.value > 100):
                raise ValueError("expected sizes of at least 1 target and percentages up to 100%")
        if len(sizes) > MAX_WAVES:
            raise ValueError(f"expected at most {MAX_WAVES} waves, got {len(sizes)}")
        return WaveSpec(sizes=sizes)
    if any(sized):
        raise ValueError("expected either sizes (1, 25%, 100%) or app lists (a; b, c), not both")
    parts = [part for part in re.split(r"[;\n]", text) if part.strip(" ,")]
    groups = [[check_app(app) for app in split_list(part)] for part in parts]
    apps = [app for group in groups for app in group]
    if len(set(apps)) != len(apps):
        raise ValueError("each app may be in one wave only")
    if len(groups) > MAX_WAVES:
        raise ValueError(f"expected at most {MAX_WAVES} waves, got {len(groups)}")
    return WaveSpec(groups=groups)


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
