"""Action inputs, read exactly as the runner passes them to a Docker action.

The runner sets `INPUT_` + the upper-cased name with hyphens kept (`INPUT_SOURCE-APP`) for every
declared input, empty when unset, and never enforces `required:`. So: every field reads both the
hyphenated and the underscored spelling, empty means default, and requirements are checked here
per operation, before any API call. A person can pass the same inputs as `--source-app` flags.
"""

from __future__ import annotations

import ipaddress
import os
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AliasChoices,
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from promote_action.errors import UsageError

OPERATIONS = (
    "slug-copy",
    "pipeline-promote",
    "kintone-deploy",
    "connect-promote",
    "connect-pause",
    "connect-resume",
    "connect-check",
)
"""Every operation the action can run (the `operation` input)."""

Operation = Literal[
    "slug-copy",
    "pipeline-promote",
    "kintone-deploy",
    "connect-promote",
    "connect-pause",
    "connect-resume",
    "connect-check",
]

STAGES = ("test", "review", "development", "staging", "production")
"""Pipeline stages, in the order the Platform API schema lists them."""

SECRET_INPUTS = (
    "heroku-api-key",
    "kintone-api-token",
    "kintone-username",
    "kintone-password",
    "kintone-basic-auth",
    "kintone-client-cert",
    "kintone-client-cert-password",
    "kintone-oauth-token",
    "github-token",
)
"""Masked before anything is printed, and never echoed in an error message."""

APP_NAME = re.compile(r"^[a-z][a-z0-9-]{1,28}[a-z0-9]$")
PIPELINE_NAME = re.compile(r"^[a-z][a-z0-9-]{2,29}$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
MAX_TIMEOUT_SECONDS = 6 * 3600
MAX_TARGETS = 100
MAX_DESCRIPTION = 500
MAX_KINTONE_APPS = 300
KINTONE_PIN = re.compile(r"^(\d{1,10})(?::(\d{1,10}))?$")


def env_names(name: str) -> tuple[str, str]:
    """The runner's variable for input `name` (hyphens kept) and the POSIX-friendly spelling."""
    env = "INPUT_" + name.upper().replace(" ", "_")
    return env, env.replace("-", "_")


def input_field(name: str, default: Any, description: str, *fallback_env: str) -> Any:
    """A field for the action input `name`; `description` is also the `--help` text."""
    aliases = AliasChoices(*env_names(name), *fallback_env)
    return Field(default=default, validation_alias=aliases, description=description)


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


def check_app(value: str) -> str:
    """Heroku app identity: a name or a UUID (schema `app/definitions/identity`)."""
    if APP_NAME.match(value) or UUID.match(value.lower()):
        return value if APP_NAME.match(value) else value.lower()
    raise ValueError(
        f"'{printable(value)}' is not a Heroku app name (lowercase letters, digits and "
        "dashes, 3-30 characters, starting with a letter) or app id"
    )


def printable(value: str, limit: int = 60) -> str:
    """Echo user input in an error without letting it inject lines or workflow commands."""
    shown = CONTROL_CHARS.sub("?", value)
    return shown if len(shown) <= limit else shown[:limit] + "..."


ALLOW_HTTP_HOSTS_VARIABLE = "PROMOTE_ACTION_ALLOW_HTTP_HOSTS"
"""Hosts besides loopback that may be reached over plain http: the self-test's sandbox
container. An environment variable, not an input, so a workflow cannot loosen it by accident."""


def _allowed_http_hosts() -> frozenset[str]:
    raw = os.environ.get(ALLOW_HTTP_HOSTS_VARIABLE, "")
    return frozenset(h.strip().lower() for h in raw.replace("\n", ",").split(",") if h.strip())


def check_api_url(value: str) -> str:
    """https only, except plain http to this machine (a sandbox), so no key crosses a network
    in clear text; no credentials, query or fragment that could leak into logs."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError("expected an https:// URL")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValueError("expected a URL without credentials, query or fragment")
    if parts.scheme == "http" and not (
        _is_loopback(parts.hostname) or parts.hostname in _allowed_http_hosts()
    ):
        raise ValueError(
            "expected an https:// URL (plain http is allowed only for localhost and hosts in "
            f"{ALLOW_HTTP_HOSTS_VARIABLE})"
        )
    return value.strip().rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class AppPin(BaseModel):
    """A kintone app id, with the preview revision the user expects to deploy, if given."""

    app: int
    revision: int | None = None


class Inputs(BaseSettings):
    """Every declared input of action.yml; a test keeps the two in sync."""

    model_config = SettingsConfigDict(
        env_ignore_empty=True,
        case_sensitive=False,
        extra="ignore",
        populate_by_name=True,
        validate_default=False,
    )

    operation: Operation | None = input_field(
        "operation", None, "What to run: " + ", ".join(OPERATIONS) + "."
    )
    heroku_api_key: SecretStr | None = input_field(
        "heroku-api-key",
        None,
        "Heroku API key (secret). Falls back to HEROKU_API_KEY.",
        "HEROKU_API_KEY",
    )
    heroku_api_url: str = input_field(
        "heroku-api-url", "https://api.heroku.com", "Heroku Platform API base URL."
    )
    source_app: str | None = input_field(
        "source-app", None, "App whose release is copied (name or id)."
    )
    target_apps: Annotated[list[str], NoDecode] = input_field(
        "target-apps", [], "Apps to release on, newline or comma separated (names or ids)."
    )
    target_stage: str | None = input_field(
        "target-stage", None, "pipeline-promote: promote to every app of this stage."
    )
    pipeline: str | None = input_field(
        "pipeline", None, "pipeline-promote: the pipeline (name or id) the source must be in."
    )
    release: str | None = input_field(
        "release", None, "Pin the source release: version number (42 or v42) or release id."
    )
    slug: str | None = input_field("slug", None, "Pin the slug id to copy instead of a release.")
    description: str | None = input_field(
        "description", None, "Release description on the targets (default names the source)."
    )
    wait: bool = input_field("wait", True, "Wait until every new release is live and verified.")
    timeout: float = input_field("timeout", 900.0, "Deadline for the whole run, e.g. 90s, 15m.")
    dry_run: bool = input_field("dry-run", False, "Plan and report only; make no change.")
    mode: Literal["run", "plan", "apply"] = input_field(
        "mode", "run", "run (plan and apply), plan (output the plan only) or apply (a plan)."
    )
    plan: str | None = input_field("plan", None, "mode apply: the plan output of a mode plan run.")
    strict: bool = input_field("strict", False, "Pre-flight findings fail the step.")

    kintone_base_url: str | None = input_field(
        "kintone-base-url",
        None,
        "kintone domain, e.g. https://example.cybozu.com (https://example.s.cybozu.com with a "
        "client certificate).",
        "KINTONE_BASE_URL",
    )
    kintone_apps: Annotated[list[AppPin], NoDecode] = input_field(
        "kintone-apps", [], "App ids, each optionally ID:REVISION to pin (at most 300)."
    )
    kintone_guest_space_id: int | None = input_field(
        "kintone-guest-space-id", None, "Guest space of the apps.", "KINTONE_GUEST_SPACE_ID"
    )
    kintone_revert: bool = input_field(
        "kintone-revert", False, "Discard the preview changes instead of deploying them."
    )
    kintone_api_token: SecretStr | None = input_field(
        "kintone-api-token",
        None,
        "API tokens with App Management, comma separated (at most 9; secret).",
        "KINTONE_API_TOKEN",
    )
    kintone_username: SecretStr | None = input_field(
        "kintone-username", None, "Login name for password auth (secret).", "KINTONE_USERNAME"
    )
    kintone_password: SecretStr | None = input_field(
        "kintone-password", None, "Password for kintone-username (secret).", "KINTONE_PASSWORD"
    )
    kintone_basic_auth: SecretStr | None = input_field(
        "kintone-basic-auth", None, "user:password for a Basic-protected domain (secret)."
    )
    kintone_client_cert: SecretStr | None = input_field(
        "kintone-client-cert",
        None,
        "Client certificate for secure access: PEM, base64 of a .pfx, or a path (secret).",
    )
    kintone_client_cert_password: SecretStr | None = input_field(
        "kintone-client-cert-password", None, "Password of the client certificate (secret)."
    )
    kintone_oauth_token: SecretStr | None = input_field(
        "kintone-oauth-token",
        None,
        "OAuth access token with k:app_settings scopes (secret).",
        "KINTONE_OAUTH_TOKEN",
    )

    connect_api_url: str = input_field(
        "connect-api-url",
        "https://hc-central.heroku.com",
        "Heroku Connect discovery host.",
        "CONNECT_DISCOVERY_SERVER",
    )
    connect_resource: str | None = input_field(
        "connect-resource", None, "Connect add-on resource name when an app has several."
    )
    connect_config_file: str | None = input_field(
        "connect-config-file",
        None,
        "connect-promote: a committed export file to use as the source configuration.",
    )
    connect_prune: bool = input_field(
        "connect-prune", False, "connect-promote: delete target mappings absent from the source."
    )
    connect_max_write_errors: int = input_field(
        "connect-max-write-errors", 0, "connect-check: write errors (last 24 h) tolerated."
    )

    github_token: SecretStr | None = input_field(
        "github-token",
        None,
        "Token for GitHub deployments and PR comments (secret); empty: no GitHub writes.",
    )
    environment: str | None = input_field(
        "environment", None, "GitHub environment of the deployment, e.g. production or pr-42."
    )
    transient_environment: bool = input_field(
        "transient-environment", False, "The environment is a preview that will be torn down."
    )
    production_environment: bool | None = input_field(
        "production-environment", None, "Mark the environment as production (default: GitHub's)."
    )
    health_check: bool = input_field(
        "health-check", False, "Heroku: probe each target's web URL after its release."
    )
    health_check_url: str | None = input_field(
        "health-check-url", None, "URL to probe ({app} is replaced by the target app's name)."
    )
    health_check_status: int = input_field(
        "health-check-status", 200, "HTTP status the health check expects."
    )
    health_check_text: str | None = input_field(
        "health-check-text", None, "Text the health check's response body must contain."
    )
    health_check_timeout: float = input_field(
        "health-check-timeout", 120.0, "How long the health check retries, e.g. 2m."
    )
    rollback_on_failure: bool = input_field(
        "rollback-on-failure",
        False,
        "Heroku: roll a target back to its previous release if it fails after being changed.",
    )

    @field_validator("operation", mode="before")
    @classmethod
    def _operation(cls, value: object) -> object:
        if isinstance(value, str) and value.strip() not in OPERATIONS:
            raise ValueError(f"expected one of: {', '.join(OPERATIONS)}")
        return value.strip() if isinstance(value, str) else value

    @field_validator("mode", mode="before")
    @classmethod
    def _mode(cls, value: object) -> str:
        text = str(value).strip()
        if text not in ("run", "plan", "apply"):
            raise ValueError("expected run, plan or apply")
        return text

    @field_validator(
        "wait",
        "dry_run",
        "kintone_revert",
        "connect_prune",
        "strict",
        "transient_environment",
        "health_check",
        "rollback_on_failure",
        "production_environment",
        mode="before",
    )
    @classmethod
    def _bool(cls, value: object) -> bool:
        return parse_bool(value)

    @field_validator("timeout", "health_check_timeout", mode="before")
    @classmethod
    def _timeout(cls, value: object) -> float:
        return parse_duration(value)

    @field_validator("health_check_url", mode="before")
    @classmethod
    def _health_url(cls, value: object) -> str:
        text = str(value).strip()
        parts = urlsplit(text.replace("{app}", "app"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("expected an http(s) URL, optionally with {app}")
        return text

    @field_validator("health_check_status", mode="before")
    @classmethod
    def _health_status(cls, value: object) -> int:
        text = str(value).strip()
        if not text.isdigit() or not 100 <= int(text) <= 599:
            raise ValueError("expected an HTTP status such as 200")
        return int(text)

    @field_validator("environment", mode="before")
    @classmethod
    def _environment(cls, value: object) -> str:
        text = str(value).strip()
        if CONTROL_CHARS.search(text) or len(text) > 255:
            raise ValueError("expected a GitHub environment name (one line, at most 255)")
        return text

    @field_validator("heroku_api_url", "connect_api_url", mode="before")
    @classmethod
    def _url(cls, value: object) -> str:
        return check_api_url(str(value))

    @field_validator("kintone_base_url", mode="before")
    @classmethod
    def _kintone_url(cls, value: object) -> str:
        url = check_api_url(str(value))
        if urlsplit(url).path not in ("", "/"):
            raise ValueError("expected the domain only, e.g. https://example.cybozu.com")
        return url

    @field_validator("kintone_apps", mode="before")
    @classmethod
    def _kintone_apps(cls, value: object) -> list[AppPin]:
        pins = []
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

    @field_validator("connect_resource", mode="before")
    @classmethod
    def _resource(cls, value: object) -> str:
        text = str(value).strip()
        if not re.fullmatch(r"[a-z][a-z0-9-]{0,99}", text):
            raise ValueError(f"'{printable(text)}' is not an add-on resource name")
        return text

    @field_validator("connect_config_file", mode="before")
    @classmethod
    def _config_file(cls, value: object) -> str:
        text = str(value).strip()
        if CONTROL_CHARS.search(text):
            raise ValueError("expected a file path")
        return text

    @field_validator("connect_max_write_errors", mode="before")
    @classmethod
    def _max_errors(cls, value: object) -> int:
        text = str(value).strip()
        if not text.isdigit():
            raise ValueError("expected a number of write errors (0 or more)")
        return int(text)

    @field_validator("kintone_guest_space_id", mode="before")
    @classmethod
    def _space(cls, value: object) -> int:
        text = str(value).strip()
        if not text.isdigit() or int(text) < 1:
            raise ValueError("expected a guest space id (a positive number)")
        return int(text)

    @field_validator("source_app", mode="before")
    @classmethod
    def _app(cls, value: object) -> str:
        return check_app(str(value).strip())

    @field_validator("target_apps", mode="before")
    @classmethod
    def _targets(cls, value: object) -> list[str]:
        apps = [check_app(app) for app in split_list(value)]
        if len(apps) > MAX_TARGETS:
            raise ValueError(f"expected at most {MAX_TARGETS} apps, got {len(apps)}")
        return apps

    @field_validator("target_stage", mode="before")
    @classmethod
    def _stage(cls, value: object) -> str:
        text = str(value).strip()
        if text not in STAGES:
            raise ValueError(f"expected one of: {', '.join(STAGES)}")
        return text

    @field_validator("pipeline", mode="before")
    @classmethod
    def _pipeline(cls, value: object) -> str:
        text = str(value).strip()
        if PIPELINE_NAME.match(text) or UUID.match(text.lower()):
            return text if PIPELINE_NAME.match(text) else text.lower()
        raise ValueError(
            f"'{printable(text)}' is not a pipeline name (lowercase letters, digits and "
            "dashes, 3-30 characters, starting with a letter) or pipeline id"
        )

    @field_validator("release", mode="before")
    @classmethod
    def _release(cls, value: object) -> str:
        text = str(value).strip()
        number = text[1:] if text[:1] in ("v", "V") else text
        if number.isdigit() and int(number) >= 1:
            return str(int(number))
        if UUID.match(text.lower()):
            return text.lower()
        raise ValueError(f"'{printable(text)}' is not a release version (42 or v42) or release id")

    @field_validator("slug", mode="before")
    @classmethod
    def _slug(cls, value: object) -> str:
        text = str(value).strip().lower()
        if not UUID.match(text):
            raise ValueError(f"'{printable(text)}' is not a slug id (a UUID)")
        return text

    @field_validator("description", mode="before")
    @classmethod
    def _description(cls, value: object) -> str:
        text = str(value).strip()
        if CONTROL_CHARS.search(text):
            raise ValueError("expected a single line without control characters")
        if len(text) > MAX_DESCRIPTION:
            raise ValueError(f"expected at most {MAX_DESCRIPTION} characters")
        return text

    @field_validator("heroku_api_key", "github_token", mode="before")
    @classmethod
    def _key(cls, value: object) -> object:
        text = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        if CONTROL_CHARS.search(text.strip()) or " " in text.strip():
            raise ValueError("expected an API key without spaces or control characters")
        return text.strip()

    def require(self, *names: str) -> None:
        """Operations call this for the inputs they cannot do without."""
        for name in names:
            value = getattr(self, name.replace("-", "_"))
            if value in (None, "", []):
                raise UsageError(name, "is required for operation " + str(self.operation))


def reveal(secret: SecretStr | None) -> str:
    """A secret input's value, "" when unset: only clients that send it should call this."""
    return secret.get_secret_value() if secret else ""


def input_name(field_name: str) -> str:
    return field_name.replace("_", "-")


def load_inputs(overrides: dict[str, str]) -> Inputs:
    """Read inputs from the process environment, `overrides` (command-line flags) winning.

    pydantic's messages are rewritten to one line naming the input, never echoing a secret.
    """
    values: dict[str, Any] = {k: v for k, v in overrides.items() if v != ""}
    try:
        return Inputs(**values)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = input_name(_field_for(str(error["loc"][0]) if error["loc"] else "input"))
        raise UsageError(name, _reason(error, name)) from None


def _field_for(loc: str) -> str:
    for name, info in Inputs.model_fields.items():
        choices = info.validation_alias
        aliases = choices.choices if isinstance(choices, AliasChoices) else []
        if loc == name or loc in aliases:
            return name
    return loc


def _reason(error: Any, name: str) -> str:
    ctx = error.get("ctx") or {}
    if "error" in ctx:
        return str(ctx["error"])
    if error["type"] == "literal_error":
        return f"expected one of: {', '.join(OPERATIONS)}"
    if name in SECRET_INPUTS:
        return "is invalid"
    return str(error["msg"])
