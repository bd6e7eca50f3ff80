"""Snapshots and their comparison: what kintone-promote plans from, without any request."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from promote_action.kintone.snapshot import Snapshot, SnapshotError, compare, normalise

JS = b"console.log(1);\n"
SHA = hashlib.sha256(JS).hexdigest()


def snapshot(fields: dict, *, files: tuple[str, ...] = ()) -> Snapshot:
    customize = {
        "scope": "ALL",
        "desktop": {
            "js": [
                {"type": "FILE", "file": {"name": "a.js", "contentType": "", "sha256": h}}
                for h in files
            ],
            "css": [],
        },
        "mobile": {"js": [], "css": []},
    }
    sections = {
        "settings": {"name": "Orders"},
        "form/fields": {"properties": fields},
        "form/layout": {"layout": []},
        "views": {"views": {}},
        "status": {"enable": False},
        "customize": customize,
    }
    return Snapshot(sections, dict.fromkeys(files, JS))


NUMBER = {"type": "NUMBER", "code": "Amount", "label": "Amount"}
RECORD_NUMBER = {"type": "RECORD_NUMBER", "code": "Record_number", "label": "Record number"}


def test_system_fields_are_matched_by_code_and_never_added_or_removed():
    source = snapshot({"No": {**RECORD_NUMBER, "code": "No"}, "Amount": NUMBER})
    target = snapshot({"Record_number": RECORD_NUMBER})

    changes = compare(source, target)

    assert changes.fields_added == ["Amount"]
    assert changes.fields_removed == [], "the target's own system field stays"
    assert changes.refusals == [
        "system field No (RECORD_NUMBER) is named differently in this app: rename it in the "
        "source or the target first"
    ]


def test_a_type_change_is_refused_and_a_label_change_is_an_update():
    text = {**NUMBER, "type": "SINGLE_LINE_TEXT"}
    changes = compare(
        snapshot({"Amount": NUMBER, "Note": {**text, "code": "Note"}}),
        snapshot({"Amount": text, "Note": {**text, "code": "Note", "label": "Old"}}),
    )

    assert changes.fields_changed == ["Note"]
    assert changes.refusals == [
        "field Amount: kintone cannot change a field's type (SINGLE_LINE_TEXT to NUMBER); add "
        "a new field instead"
    ]


def test_customization_files_are_compared_by_content_hash():
    changes = compare(snapshot({}, files=(SHA,)), snapshot({}))

    assert changes.sections == ["customize"]
    assert changes.details == [f"JavaScript/CSS customization: +file {SHA[:12]}"]
    assert compare(snapshot({}, files=(SHA,)), snapshot({}, files=(SHA,))).empty


def test_normalising_drops_what_differs_between_apps():
    views = {"views": {"All": {"id": "8123", "name": "All", "index": "0"}}, "revision": "9"}
    assert normalise("views", views, {}) == {"views": {"All": {"name": "All", "index": "0"}}}
    icon = {"name": "A", "icon": {"type": "FILE", "file": {"fileKey": "k"}}, "revision": "2"}
    assert normalise("settings", icon, {}) == {"name": "A"}
    customize = {
        "desktop": {
            "js": [{"type": "FILE", "file": {"fileKey": "k1", "name": "a.js", "size": "16"}}]
        }
    }
    entry = normalise("customize", customize, {"k1": JS})["desktop"]["js"][0]
    assert entry == {"type": "FILE", "file": {"name": "a.js", "contentType": "", "sha256": SHA}}


def test_a_snapshot_round_trips_and_a_tampered_file_is_refused(tmp_path: Path):
    original = snapshot({"Amount": NUMBER}, files=(SHA,))
    written = original.write(tmp_path)
    assert "files/" + SHA in written
    assert original.write(tmp_path) == [], "writing it again changes nothing"

    read = Snapshot.read(tmp_path, permissions=False)
    assert read.digest == original.digest
    assert (tmp_path / "fields.json").read_text().endswith("}\n")

    (tmp_path / "files" / SHA).write_bytes(b"alert('changed');\n")
    with pytest.raises(SnapshotError, match="does not match its hash"):
        Snapshot.read(tmp_path, permissions=False)
    with pytest.raises(SnapshotError, match=r"acl\.json is missing"):
        Snapshot.read(tmp_path, permissions=True)


def test_a_snapshot_of_the_wrong_shape_is_refused(tmp_path: Path):
    snapshot({"Amount": NUMBER}, files=(SHA,)).write(tmp_path)
    customize = tmp_path / "customize.json"
    customize.write_text(customize.read_text().replace(SHA, SHA[:63]))
    with pytest.raises(SnapshotError, match=r"desktop\.js\[0\] has no file\.sha256 of 64"):
        Snapshot.read(tmp_path, permissions=False)
