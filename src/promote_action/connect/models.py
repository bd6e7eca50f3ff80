"""Typed views of Heroku Connect objects (API_NOTES section 3); unknown fields are ignored and
state lists are open: an unknown state is carried verbatim, never a crash."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

HEALTHY_CONNECTION = frozenset({"IDLE", "POLLING_DB_CHANGES"})
NEEDS_HUMAN = {
    "NEW": "the connection has no database yet: run `heroku connect:db:set` first",
    "NEED_AUTHENTICATION": "Salesforce is not authorised: authorise it in the Heroku Connect "
    "dashboard or with `heroku connect:sf:auth` (this cannot be automated)",
    "UNAUTHORIZED": "the Salesforce authorisation expired: re-authorise in the Heroku Connect "
    "dashboard or with `heroku connect:sf:auth` (this cannot be automated)",
}
ERROR_CONNECTION = frozenset(
    {
        *NEEDS_HUMAN,
        "HEROKU_UNAUTH",
        "SYSTEM_ERROR",
        "DB_UNAVAILABLE",
        "TOO_MANY_ROWS",
        "INACTIVE_ORG",
    }
)

OK_MAPPING = frozenset(
    {
        "DATA_SYNCED",
        "POLLING_SF_CHANGES",
        "POLLING_SF_BULK",
        "POLLING_SF_FOR_DELETES",
        "WAIT_BULK_LOAD",
        "LOADING_BULK_JOB",
        "RESOLVE_EXTERNAL_IDS",
        "WAIT_BULK_UPDATE",
        "APPLYING_BULK_UPDATE",
        "POLL_EXTERNAL_IDS",
        "RESYNC",
        "RELOAD_TABLE",
        "ABORTED",
    }
)
ERROR_MAPPING = frozenset(
    {
        "BULK_LOAD_ERROR",
        "SYSTEM_ERROR",
        "DB_UNAVAILABLE",
        "BAD_CONFIG",
        "SYNC_REMOVED",
        "INACTIVE_ORG",
        "UNAUTHORIZED",
    }
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ConnectionRef(_Model):
    """A connection as discovery lists it: where its API lives."""

    id: str
    resource_name: str = ""
    app_name: str = ""
    addon_type: str = "Sync"
    region_url: str
    detail_url: str | None = None


class Counts(_Model):
    db: int | None = None
    sf: int | None = None
    pending: int | None = None
    errors: int | None = None


class Mapping(_Model):
    id: str
    object_name: str
    state: str = ""
    state_description: str | None = None
    counts: Counts = Field(default_factory=Counts)
    times: dict[str, str | None] = Field(default_factory=dict)
    """When Salesforce was last polled (`sf_poll`) etc.: a changed `sf_poll` shows a new load."""
    schema_url: str | None = None


class Connection(_Model):
    id: str
    name: str | None = None
    resource_name: str | None = None
    state: str
    mappings_summary_state: str | None = None
    mappings: list[Mapping] = Field(default_factory=list)


class Diagnosis(_Model):
    errors: list[dict[str, Any]] = Field(default_factory=list)
    warnings: list[dict[str, Any]] = Field(default_factory=list)
    passes: list[dict[str, Any]] = Field(default_factory=list)
    skips: list[dict[str, Any]] = Field(default_factory=list)
    mappings: dict[str, dict[str, Any]] = Field(default_factory=dict)

    def all_errors(self) -> list[dict[str, Any]]:
        """Connection-level errors and each mapping's own: a broken mapping may fail only its
        per-mapping checks, which a gate on the top-level list alone would miss."""
        found = list(self.errors)
        for name, result in sorted(self.mappings.items()):
            for error in result.get("errors", []) if isinstance(result, dict) else []:
                found.append({**error, "display_name": f"{name}: {error.get('display_name', '')}"})
        return found


class WriteError(_Model):
    id: str | int | None = None
    table_name: str | None = None
    record_id: str | int | None = None
    action: str | None = None
    """The write that failed (INSERT, UPDATE, DELETE). UNVERIFIED: named after the trigger
    log's `action` column; absent in the plugin's types, so it may be missing."""
    message: str = ""
    created_at: str | None = None


class WriteErrors(_Model):
    count: int = 0
    results: list[WriteError] = Field(default_factory=list)
