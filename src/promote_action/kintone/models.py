"""Typed views of the kintone responses we read. kintone sends ids and revisions as JSON strings;
they are accepted as strings or numbers and compared as integers."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, coerce_numbers_to_str=True)


class AppSettings(_Model):
    name: str = ""
    revision: int


class DeployStatus(_Model):
    app: str
    status: str
    """PROCESSING | SUCCESS | FAIL | CANCEL. SUCCESS is also what an app with no deploy running
    reports, so it proves nothing without checking the live revision."""
