"""Typed views of the Platform API objects we read (schema: shared/reference), extra fields ignored.

Only the fields the action relies on are declared, and each is optional where the schema or
older API versions allow it to be missing, so a response from another faithful server still
parses.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

TERMINAL_RELEASE_STATUSES = frozenset({"succeeded", "failed", "expired"})


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Named(_Model):
    id: str | None = None
    name: str | None = None


class IdOnly(_Model):
    id: str


class App(_Model):
    id: str
    name: str
    web_url: str | None = None
    stack: Named | None = None
    generation: Named | None = None

    @property
    def is_fir(self) -> bool:
        """Fir apps run OCI images, not slugs: a slug copy to or from them cannot work."""
        return bool(self.generation and self.generation.name == "fir")


class Release(_Model):
    id: str
    version: int
    status: str
    """`pending | succeeded | failed | expired`; any other value is treated as not finished."""
    app: Named | None = None
    current: bool | None = None
    slug: IdOnly | None = None
    output_stream_url: str | None = None
    description: str | None = None
    created_at: str | None = None
    updated_at: str | None = None

    @property
    def slug_id(self) -> str | None:
        return self.slug.id if self.slug else None

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_RELEASE_STATUSES


class Slug(_Model):
    id: str
    commit: str | None = None
    commit_description: str | None = None
    stack: Named | None = None


class Pipeline(_Model):
    id: str
    name: str


class Coupling(_Model):
    """An app's place in a pipeline; `pipeline.name` is sent by the API though the schema
    lists only the id, so it is optional here."""

    id: str
    app: IdOnly
    pipeline: Named
    stage: str


class Promotion(_Model):
    id: str
    status: str
    """`pending` or `completed`; completed says nothing about success: read the targets."""


class PromotionTarget(_Model):
    id: str
    app: IdOnly
    release: IdOnly | None = None
    status: str
    """`pending | succeeded | failed`; any other value is treated as still pending."""
    error_message: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in ("succeeded", "failed")
