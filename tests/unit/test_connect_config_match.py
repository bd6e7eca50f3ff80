"""The import verification's comparison of a source configuration with the re-export."""

from __future__ import annotations

from typing import Any

from promote_action.operations.connect import _differing


def export(**config: Any) -> dict[str, Any]:
    return {"version": 1, "mappings": [{"object_name": "Account", "config": config}]}


EXPORTED = export(
    access="read_only",
    sf_polling_seconds=600,
    fields={"Id": {"is_key": True}, "Name": {}},
    indexes={"Id": {"unique": True}},
)


def test_keys_the_source_omits_are_connects_defaults() -> None:
    source = export(fields={"Id": {}, "Name": {}}, indexes={"Id": {"unique": True}})
    assert _differing(EXPORTED, source) == []


def test_a_different_value_names_the_mapping() -> None:
    source = export(sf_polling_seconds=300, fields={"Id": {}, "Name": {}})
    assert _differing(EXPORTED, source) == ["Account"]


def test_field_and_index_names_must_match_exactly() -> None:
    assert _differing(EXPORTED, export(fields={"Id": {}})) == ["Account"], "Name still mapped"
    assert _differing(EXPORTED, export(indexes={})) == ["Account"]


def test_a_mapping_missing_from_the_export_is_named() -> None:
    source = {"mappings": [{"object_name": "Lead", "config": {}}]}
    assert _differing(EXPORTED, source) == ["Lead"]
