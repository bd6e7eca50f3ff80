"""An app's settings as a normalised snapshot: what kintone-export writes and kintone-promote
ships, compares and verifies.

A snapshot holds the settings documents without anything that differs between two apps with the
same settings (revisions, view ids, customization file keys), so two exports of equal apps are
byte for byte equal and a pull request diff shows only real changes. Customization files are
kept by the SHA-256 of their content. On disk it is a directory of JSON files, one per section
(sorted keys, 2-space indent, trailing newline) and `files/<sha256>`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from promote_action.kintone.client import KintoneClient

T = TypeVar("T")
R = TypeVar("R")
ParallelMap = Callable[[Callable[[T], R], Sequence[T]], list[R]]

SECTION_FILES = {
    "settings": "settings.json",
    "form/fields": "fields.json",
    "form/layout": "layout.json",
    "views": "views.json",
    "status": "process.json",
    "customize": "customize.json",
    "acl": "acl.json",
}
"""Each settings document (its path under `/k/v1/[preview/]app/`) and its snapshot file."""

SECTION_LABELS = {
    "settings": "general settings",
    "form/fields": "form fields",
    "form/layout": "form layout",
    "views": "views",
    "status": "process management",
    "customize": "JavaScript/CSS customization",
    "acl": "app permissions",
}

PERMISSIONS = "acl"
FILES_DIR = "files"
SHA256 = re.compile(r"[0-9a-f]{64}")
"""A customization file's name in `files/`: the SHA-256 of its content, lowercase hex."""

SYSTEM_FIELD_TYPES = frozenset(
    {
        "RECORD_NUMBER",
        "CREATOR",
        "CREATED_TIME",
        "MODIFIER",
        "UPDATED_TIME",
        "STATUS",
        "STATUS_ASSIGNEE",
        "CATEGORY",
    }
)
"""Fields every app has: kintone lets them be relabelled, never added or deleted."""

PLATFORMS = ("desktop", "mobile")
FILE_KINDS = ("js", "css")


class SnapshotError(ValueError):
    """A snapshot directory that cannot be read as one (the message names the file)."""


@dataclass(frozen=True)
class Snapshot:
    sections: Mapping[str, dict[str, Any]]
    """Normalised documents by kind (`form/fields`, ...); `acl` only when permissions are in."""
    files: Mapping[str, bytes] = field(default_factory=dict)
    """Customization files by the SHA-256 of their content."""

    def encoded(self) -> dict[str, bytes]:
        """Every file of the snapshot directory by its relative path, as written."""
        out = {SECTION_FILES[kind]: _dump(doc) for kind, doc in self.sections.items()}
        out.update({f"{FILES_DIR}/{sha}": data for sha, data in self.files.items()})
        return dict(sorted(out.items()))

    @property
    def digest(self) -> str:
        """One hash of the whole snapshot: equal for equal settings, whatever app they are in."""
        h = hashlib.sha256()
        for path, data in self.encoded().items():
            h.update(f"{path}\0{hashlib.sha256(data).hexdigest()}\n".encode())
        return "sha256:" + h.hexdigest()

    def changes_to(self, directory: Path) -> tuple[list[str], list[str]]:
        """The files writing into `directory` creates or changes, and those it removes: only
        files a snapshot may contain are removed (a stale section, an unreferenced
        `files/<sha256>`; anything else in `files/` is left alone). A symlink among them (the
        directory, `files/`, a file to write or remove) is refused: it could lead the write out
        of the directory."""
        wanted = self.encoded()
        present = [directory / name for name in SECTION_FILES.values()]
        files_dir = directory / FILES_DIR
        for path in (directory, files_dir, *(directory / p for p in wanted)):
            _refuse_symlink(path)
        if files_dir.is_dir():
            present += sorted(p for p in files_dir.iterdir() if SHA256.fullmatch(p.name))
        for path in present:
            _refuse_symlink(path)
        writes = [p for p, data in wanted.items() if not _holds(directory / p, data)]
        removals = [
            path.relative_to(directory).as_posix()
            for path in present
            if path.is_file() and path.relative_to(directory).as_posix() not in wanted
        ]
        return writes, removals

    def write(self, directory: Path) -> list[str]:
        """Write the snapshot into `directory`; returns the paths created, changed or removed."""
        writes, removals = self.changes_to(directory)
        encoded = self.encoded()
        for relative in writes:
            path = directory / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(encoded[relative])
        for relative in removals:
            (directory / relative).unlink()
        return sorted(writes + removals)

    @classmethod
    def read(cls, directory: Path, *, permissions: bool) -> Snapshot:
        """Read a snapshot directory, checking every customization file against its hash."""
        if not directory.is_dir():
            raise SnapshotError(f"{directory} is not a directory")
        sections: dict[str, dict[str, Any]] = {}
        for kind, name in SECTION_FILES.items():
            if kind == PERMISSIONS and not permissions:
                continue
            try:
                document = json.loads((directory / name).read_text(encoding="utf-8"))
            except OSError:
                raise SnapshotError(f"{directory}/{name} is missing") from None
            except ValueError:
                raise SnapshotError(f"{directory}/{name} is not JSON") from None
            if not isinstance(document, dict):
                raise SnapshotError(f"{directory}/{name} is not a JSON object")
            sections[kind] = document
        _check_shape(directory, sections)
        files = {}
        for sha in sorted(file_hashes(sections.get("customize", {}))):
            try:
                data = (directory / FILES_DIR / sha).read_bytes()
            except OSError:
                raise SnapshotError(f"{directory}/{FILES_DIR}/{sha} is missing") from None
            if hashlib.sha256(data).hexdigest() != sha:
                raise SnapshotError(f"{directory}/{FILES_DIR}/{sha} does not match its hash")
            files[sha] = data
        return cls(sections, files)


def _check_shape(directory: Path, sections: Mapping[str, Any]) -> None:
    """What the plan and the writes rely on: fields and views by name as objects, customization
    lists of entries, each file entry naming its content by SHA-256 (64 lowercase hex digits)."""
    for kind, key in (("form/fields", "properties"), ("views", "views")):
        where = f"{directory}/{SECTION_FILES[kind]}"
        entries = sections[kind].get(key, {})
        if not isinstance(entries, dict):
            raise SnapshotError(f"{where}: {key} is not a JSON object")
        for name, entry in entries.items():
            if not isinstance(entry, dict):
                raise SnapshotError(f"{where}: {key}.{name} is not a JSON object")
    where = f"{directory}/{SECTION_FILES['customize']}"
    customize = sections["customize"]
    for platform in PLATFORMS:
        lists = customize.get(platform, {})
        if not isinstance(lists, dict):
            raise SnapshotError(f"{where}: {platform} is not a JSON object")
        for kind in FILE_KINDS:
            entries = lists.get(kind, [])
            if not isinstance(entries, list):
                raise SnapshotError(f"{where}: {platform}.{kind} is not a list")
            for i, entry in enumerate(entries):
                label = f"{platform}.{kind}[{i}]"
                if not isinstance(entry, dict):
                    raise SnapshotError(f"{where}: {label} is not a JSON object")
                if entry.get("type") != "FILE":
                    continue
                file = entry.get("file")
                sha = file.get("sha256") if isinstance(file, dict) else None
                if not isinstance(sha, str) or not SHA256.fullmatch(sha):
                    raise SnapshotError(
                        f"{where}: {label} has no file.sha256 of 64 lowercase hex digits"
                    )


def _refuse_symlink(path: Path) -> None:
    if path.is_symlink():
        raise SnapshotError(f"{path} is a symbolic link: the snapshot is not written through one")


def _holds(path: Path, data: bytes) -> bool:
    return path.is_file() and path.read_bytes() == data


def _dump(document: Any) -> bytes:
    return (json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


def read_app(
    client: KintoneClient,
    app: str,
    *,
    preview: bool,
    permissions: bool,
    parallel: ParallelMap[Any, Any],
) -> Snapshot:
    """Read and normalise an app's settings (its production side unless `preview`), with the
    content of its customization files."""
    kinds = [k for k in SECTION_FILES if permissions or k != PERMISSIONS]
    documents = parallel(lambda kind: client.document(app, kind, preview=preview), kinds)
    raw = dict(zip(kinds, documents, strict=True))
    keys = {entry["file"]["fileKey"]: entry["file"] for entry in _file_entries(raw["customize"])}
    contents = parallel(client.download_file, list(keys))
    by_key = dict(zip(keys, contents, strict=True))
    files = {hashlib.sha256(data).hexdigest(): data for data in contents}
    sections = {kind: normalise(kind, raw[kind], by_key) for kind in kinds}
    return Snapshot(sections, files)


def normalise(
    kind: str, document: Mapping[str, Any], contents: Mapping[str, bytes]
) -> dict[str, Any]:
    """A settings document without what differs between apps of equal settings."""
    doc = {k: v for k, v in document.items() if k != "revision"}
    if (
        kind == "settings"
        and isinstance(doc.get("icon"), dict)
        and doc["icon"].get("type") != "PRESET"
    ):
        # An uploaded icon is a file key of this app: not portable, so not part of a snapshot.
        del doc["icon"]
    if kind == "views":
        doc["views"] = {
            name: {k: v for k, v in view.items() if k != "id"}
            for name, view in doc.get("views", {}).items()
        }
    if kind == "customize":
        for platform in PLATFORMS:
            lists = doc.get(platform, {})
            doc[platform] = {
                kind_: [_portable_entry(e, contents) for e in lists.get(kind_, [])]
                for kind_ in FILE_KINDS
            }
    return doc


def _portable_entry(entry: dict[str, Any], contents: Mapping[str, bytes]) -> dict[str, Any]:
    if entry.get("type") != "FILE":
        return entry
    file = entry["file"]
    return {
        "type": "FILE",
        "file": {
            "name": file.get("name", ""),
            "contentType": file.get("contentType", ""),
            "sha256": hashlib.sha256(contents[file["fileKey"]]).hexdigest(),
        },
    }


def _file_entries(customize: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
    for platform in PLATFORMS:
        for kind in FILE_KINDS:
            for entry in customize.get(platform, {}).get(kind, []):
                if isinstance(entry, dict) and entry.get("type") == "FILE":
                    yield entry


def file_hashes(customize: Mapping[str, Any]) -> set[str]:
    """The content hashes a normalised customization document names."""
    return {str(e["file"]["sha256"]) for e in _file_entries(customize)}


# -- comparing -----------------------------------------------------------------------------------


class Changes(BaseModel):
    """What shipping a source snapshot to an app changes, section by section."""

    fields_added: list[str] = []
    fields_changed: list[str] = []
    fields_removed: list[str] = []
    sections: list[str] = []
    """Other documents that differ (written whole): `settings`, `form/layout`, `views`, ..."""
    details: list[str] = []
    """One readable line per changed section, for the plan and the summary."""
    refusals: list[str] = []
    """Changes kintone cannot make (a field's type, a system field it lacks)."""

    @property
    def empty(self) -> bool:
        return not (
            self.fields_added or self.fields_changed or self.fields_removed or self.sections
        )


def compare(source: Snapshot, target: Snapshot) -> Changes:
    """The changes that make `target` equal `source`. System fields are matched by code and
    never added or removed; fields the target has and the source lacks are removed."""
    changes = Changes()
    src = source.sections["form/fields"].get("properties", {})
    dst = target.sections["form/fields"].get("properties", {})
    for code in sorted(src.keys() - dst.keys()):
        if src[code].get("type") in SYSTEM_FIELD_TYPES:
            changes.refusals.append(
                f"system field {code} ({src[code]['type']}) is named differently in this app: "
                "rename it in the source or the target first"
            )
        else:
            changes.fields_added.append(code)
    for code in sorted(src.keys() & dst.keys()):
        if src[code] == dst[code]:
            continue
        if src[code].get("type") != dst[code].get("type"):
            changes.refusals.append(
                f"field {code}: kintone cannot change a field's type ({dst[code].get('type')} "
                f"to {src[code].get('type')}); add a new field instead"
            )
        else:
            changes.fields_changed.append(code)
    changes.fields_removed = sorted(
        code for code in dst.keys() - src.keys() if dst[code].get("type") not in SYSTEM_FIELD_TYPES
    )
    if line := _keyed_line(changes.fields_added, changes.fields_changed, changes.fields_removed):
        changes.details.append(f"{SECTION_LABELS['form/fields']}: {line}")
    for kind in source.sections:
        if kind == "form/fields" or source.sections[kind] == target.sections.get(kind):
            continue
        changes.sections.append(kind)
        detail = _describe(kind, source.sections[kind], target.sections.get(kind, {}))
        changes.details.append(f"{SECTION_LABELS[kind]}: {detail}")
    return changes


def _describe(kind: str, after: Mapping[str, Any], before: Mapping[str, Any]) -> str:
    if kind == "views":
        views_after, views_before = after.get("views", {}), before.get("views", {})
        return _keyed_line(
            sorted(views_after.keys() - views_before.keys()),
            sorted(
                k
                for k in views_after.keys() & views_before.keys()
                if views_after[k] != views_before[k]
            ),
            sorted(views_before.keys() - views_after.keys()),
        )
    if kind == "customize":
        added = sorted(file_hashes(after) - file_hashes(before))
        removed = sorted(file_hashes(before) - file_hashes(after))
        files = _keyed_line(
            [f"file {h[:12]}" for h in added], [], [f"file {h[:12]}" for h in removed]
        )
        return files or "file order, URLs or scope changed"
    keys = sorted(k for k in after.keys() | before.keys() if after.get(k) != before.get(k))
    return "~" + " ~".join(keys) if keys else "changed"


def _keyed_line(added: Sequence[str], changed: Sequence[str], removed: Sequence[str]) -> str:
    """`+added ~changed -removed`."""
    return " ".join(
        [*(f"+{k}" for k in added), *(f"~{k}" for k in changed), *(f"-{k}" for k in removed)]
    )
