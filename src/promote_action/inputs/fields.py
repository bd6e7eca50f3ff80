"""The action's inputs, declared once: names, defaults, `--help` texts and validators.

The runner sets `INPUT_` + the upper-cased name with hyphens kept (`INPUT_SOURCE-APP`) for every
declared input, empty when unset, and never enforces `required:`. So every field reads both the
hyphenated and the underscored spelling (see `loading`), empty means default, and requirements
are checked per operation, before any API call. A person can pass the same inputs as flags.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BeforeValidator, Field, PrivateAttr, SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from promote_action.errors import UsageError
from promote_action.inputs import validators as v
from promote_action.inputs.validators import AppPin, WaveSpec
from promote_action.registry import OPERATION_NAMES

SECRET_INPUTS = (
    "heroku-api-key",
    "kintone-api-token",
    "kintone-password",
    "kintone-basic-auth",
    "kintone-client-cert",
    "kintone-client-cert-password",
    "kintone-oauth-token",
    "kintone-source-api-token",
    "kintone-source-password",
    "github-token",
    "plan-key",
)
"""Masked before anything is printed, and never echoed in an error message. Not the kintone
usernames: a login name is no secret, and a mask hides every later occurrence in the job."""

OUTSIDE_ACTIONS_ONLY = frozenset({"GITHUB_TOKEN"})
"""Fallback variables ignored in a GitHub Actions job (GITHUB_ACTIONS=true): a workflow that puts
GITHUB_TOKEN in `env:` for other tools must not switch on GitHub writes it did not ask for
with the `github-token` input."""


def env_names(name: str) -> tuple[str, str]:
    """The runner's variable for input `name` (hyphens kept) and the POSIX-friendly spelling."""
    env = "INPUT_" + name.upper().replace(" ", "_")
    return env, env.replace("-", "_")


def input_field(name: str, default: Any, description: str, *fallback_env: str) -> Any:
    """A field for the action input `name`; `description` is also the `--help` text."""
    aliases = AliasChoices(*env_names(name), *fallback_env)
    return Field(default=default, validation_alias=aliases, description=description)


def input_name(field_name: str) -> str:
    return field_name.replace("_", "-")


def reveal(secret: SecretStr | None) -> str:
    """A secret input's value, "" when unset: only code that sends it should call this."""
    return secret.get_secret_value() if secret else ""


class Inputs(BaseSettings):
    """Every declared input of action.yml; a test keeps the two in sync."""

    model_config = SettingsConfigDict(
        env_ignore_empty=True,
        case_sensitive=False,
        extra="ignore",
        populate_by_name=True,
        validate_default=False,
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only what `loading.load_inputs` gathers from the run's environment mapping: the
        process environment is never read behind the caller's back."""
        return (init_settings,)

    operation: Annotated[str | None, BeforeValidator(v.operation)] = input_field(
        "operation", None, "What to run: " + ", ".join(OPERATION_NAMES) + "."
    )
    heroku_api_key: Annotated[SecretStr | None, BeforeValidator(v.api_key)] = input_field(
        "heroku-api-key",
        None,
        "Heroku API key (secret). Falls back to HEROKU_API_KEY.",
        "HEROKU_API_KEY",
    )
    heroku_api_url: Annotated[str, BeforeValidator(v.api_url)] = input_field(
        "heroku-api-url",
        "https://api.heroku.com",
        "Heroku Platform API base URL. Falls back to HEROKU_API_URL.",
        "HEROKU_API_URL",
    )
    source_app: Annotated[str | None, BeforeValidator(v.app)] = input_field(
        "source-app", None, "App whose release is copied (name or id)."
    )
    target_apps: Annotated[list[str], BeforeValidator(v.target_apps)] = input_field(
        "target-apps", [], "Apps to release on, newline or comma separated (names or ids)."
    )
    target_stage: Annotated[str | None, BeforeValidator(v.stage)] = input_field(
        "target-stage", None, "pipeline-promote: promote to every app of this stage."
    )
    pipeline: Annotated[str | None, BeforeValidator(v.pipeline)] = input_field(
        "pipeline", None, "pipeline-promote: the pipeline (name or id) the source must be in."
    )
    release: Annotated[str | None, BeforeValidator(v.release)] = input_field(
        "release", None, "Pin the source release: version number (42 or v42) or release id."
    )
    slug: Annotated[str | None, BeforeValidator(v.slug)] = input_field(
        "slug", None, "Pin the slug id to copy instead of a release."
    )
    description: Annotated[str | None, BeforeValidator(v.description)] = input_field(
        "description", None, "Release description on the targets (default names the source)."
    )
    wait: Annotated[bool, BeforeValidator(v.boolean)] = input_field(
        "wait", True, "Wait until every new release is live and verified."
    )
    timeout: Annotated[float, BeforeValidator(v.duration)] = input_field(
        "timeout", 900.0, "Deadline for the whole run, e.g. 90s, 15m."
    )
    dry_run: Annotated[bool, BeforeValidator(v.boolean)] = input_field(
        "dry-run", False, "Plan and report only; make no change."
    )
    mode: Annotated[Literal["run", "plan", "apply"], BeforeValidator(v.mode)] = input_field(
        "mode", "run", "run (plan and apply), plan (output the plan only) or apply (a plan)."
    )
    plan: str | None = input_field("plan", None, "mode apply: the plan output of a mode plan run.")
    plan_key: SecretStr | None = input_field(
        "plan-key",
        None,
        "Secret that signs plans (mode plan) and authenticates them (mode apply); default: "
        "derived from the platform credential.",
    )
    strict: Annotated[bool, BeforeValidator(v.boolean)] = input_field(
        "strict", False, "Pre-flight findings fail the step."
    )

    kintone_base_url: Annotated[str | None, BeforeValidator(v.kintone_url)] = input_field(
        "kintone-base-url",
        None,
        "kintone domain, e.g. https://example.cybozu.com (https://example.s.cybozu.com with a "
        "client certificate).",
        "KINTONE_BASE_URL",
    )
    kintone_apps: Annotated[list[AppPin], BeforeValidator(v.kintone_apps)] = input_field(
        "kintone-apps", [], "App ids, each optionally ID:REVISION to pin (at most 300)."
    )
    kintone_guest_space_id: Annotated[int | None, BeforeValidator(v.guest_space)] = input_field(
        "kintone-guest-space-id", None, "Guest space of the apps.", "KINTONE_GUEST_SPACE_ID"
    )
    kintone_revert: Annotated[bool, BeforeValidator(v.boolean)] = input_field(
        "kintone-revert", False, "Discard the preview changes instead of deploying them."
    )
    kintone_api_token: SecretStr | None = input_field(
        "kintone-api-token",
        None,
        "API tokens with App Management, comma separated (at most 9; secret).",
        "KINTONE_API_TOKEN",
    )
    kintone_username: SecretStr | None = input_field(
        "kintone-username", None, "Login name for password auth.", "KINTONE_USERNAME"
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
    kintone_source_app: Annotated[int | None, BeforeValidator(v.kintone_app)] = input_field(
        "kintone-source-app", None, "kintone-promote: the app whose settings are shipped."
    )
    kintone_source_base_url: Annotated[str | None, BeforeValidator(v.kintone_url)] = input_field(
        "kintone-source-base-url",
        None,
        "kintone-promote: domain of kintone-source-app (default: kintone-base-url).",
    )
    kintone_source_api_token: SecretStr | None = input_field(
        "kintone-source-api-token",
        None,
        "kintone-promote: API token of the source app (secret; default: the target login).",
    )
    kintone_source_username: SecretStr | None = input_field(
        "kintone-source-username",
        None,
        "kintone-promote: login on the source domain (default: the target login).",
    )
    kintone_source_password: SecretStr | None = input_field(
        "kintone-source-password", None, "Password for kintone-source-username (secret)."
    )
    kintone_source_snapshot: Annotated[str | None, BeforeValidator(v.file_path)] = input_field(
        "kintone-source-snapshot",
        None,
        "kintone-promote: a snapshot directory (from kintone-export) to ship instead of an app.",
    )
    kintone_snapshot_path: Annotated[str | None, BeforeValidator(v.file_path)] = input_field(
        "kintone-snapshot-path",
        None,
        "kintone-export: directory, relative to the workspace, the snapshot is written to.",
    )
    kintone_allow_field_deletion: Annotated[bool, BeforeValidator(v.boolean)] = input_field(
        "kintone-allow-field-deletion",
        False,
        "kintone-promote: remove target fields the source lacks (their data is lost).",
    )
    kintone_app_permissions: Annotated[bool, BeforeValidator(v.boolean)] = input_field(
        "kintone-app-permissions",
        False,
        "kintone-export/kintone-promote: include the app permissions (acl).",
    )

    connect_api_url: Annotated[str, BeforeValidator(v.api_url)] = input_field(
        "connect-api-url",
        "https://hc-central.heroku.com",
        "Heroku Connect discovery host. Falls back to CONNECT_API_URL.",
        "CONNECT_API_URL",
        "CONNECT_DISCOVERY_SERVER",
    )
    connect_resource: Annotated[str | None, BeforeValidator(v.addon_resource)] = input_field(
        "connect-resource", None, "Connect add-on resource name when an app has several."
    )
    connect_config_file: Annotated[str | None, BeforeValidator(v.file_path)] = input_field(
        "connect-config-file",
        None,
        "connect-promote: a committed export file to use as the source configuration.",
    )
    connect_prune: Annotated[bool, BeforeValidator(v.boolean)] = input_field(
        "connect-prune", False, "connect-promote: delete target mappings absent from the source."
    )
    connect_max_write_errors: Annotated[v.WriteErrorLimit, BeforeValidator(v.write_error_limit)] = (
        input_field(
            "connect-max-write-errors",
            v.WriteErrorLimit(),
            "connect-check: write errors (last 24 h) tolerated: a number, or Object=N per mapping.",
        )
    )
    connect_mappings: Annotated[list[str], BeforeValidator(v.object_names)] = input_field(
        "connect-mappings", [], "connect-reload: the mapped objects to reload; empty: all."
    )

    github_token: Annotated[SecretStr | None, BeforeValidator(v.api_key)] = input_field(
        "github-token",
        None,
        "Token for GitHub deployments and PR comments (secret); empty: no GitHub writes. "
        "Outside GitHub Actions falls back to GITHUB_TOKEN.",
        "GITHUB_TOKEN",
    )
    environment: Annotated[str | None, BeforeValidator(v.environment)] = input_field(
        "environment", None, "GitHub environment of the deployment, e.g. production or pr-42."
    )
    transient_environment: Annotated[bool, BeforeValidator(v.boolean)] = input_field(
        "transient-environment", False, "The environment is a preview that will be torn down."
    )
    production_environment: Annotated[bool | None, BeforeValidator(v.boolean)] = input_field(
        "production-environment", None, "Mark the environment as production (default: GitHub's)."
    )
    health_check: Annotated[bool, BeforeValidator(v.boolean)] = input_field(
        "health-check", False, "Heroku: probe each target's web URL after its release."
    )
    health_check_url: Annotated[str | None, BeforeValidator(v.health_url)] = input_field(
        "health-check-url", None, "URL to probe ({app} is replaced by the target app's name)."
    )
    health_check_status: Annotated[int, BeforeValidator(v.http_status)] = input_field(
        "health-check-status", 200, "HTTP status the health check expects."
    )
    health_check_text: str | None = input_field(
        "health-check-text", None, "Text the health check's response body must contain."
    )
    health_check_timeout: Annotated[float, BeforeValidator(v.duration)] = input_field(
        "health-check-timeout", 120.0, "How long the health check retries, e.g. 2m."
    )
    rollback_on_failure: Annotated[bool, BeforeValidator(v.boolean)] = input_field(
        "rollback-on-failure",
        False,
        "Heroku: roll a target back to its previous release if it fails after being changed.",
    )
    health_check_soak: Annotated[float | None, BeforeValidator(v.duration)] = input_field(
        "health-check-soak",
        None,
        "Keep probing a healthy target for this long (e.g. 2m); one failed probe fails it.",
    )
    canary_apps: Annotated[list[str], BeforeValidator(v.target_apps)] = input_field(
        "canary-apps", [], "Heroku: targets released and checked first, as wave 1."
    )
    waves: Annotated[WaveSpec | None, BeforeValidator(v.waves)] = input_field(
        "waves",
        None,
        "Heroku: release in waves: cumulative sizes (1, 25%, 100%) or app lists (a; b, c).",
    )

    _given: frozenset[str] = PrivateAttr(default=frozenset())
    """Inputs the workflow (or a flag) gave by their own name, not through a fallback variable
    such as HEROKU_API_KEY: only those can be inputs the operation does not read."""

    def given(self) -> frozenset[str]:
        """Names of the inputs given and different from their default (the runner passes every
        declared input, set to its default or empty)."""
        return frozenset(
            input_name(name)
            for name in self._given
            if getattr(self, name) != type(self).model_fields[name].default
        )

    def require(self, *names: str) -> None:
        """Operations call this for the inputs they cannot do without."""
        for name in names:
            value = getattr(self, name.replace("-", "_"))
            if value in (None, "", []):
                raise UsageError(name, "is required for operation " + str(self.operation))
