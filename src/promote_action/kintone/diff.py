"""Readable differences between an app's preview and production settings documents.

A reviewer approving a kintone deploy should see what it changes: which fields, views,
process-management states and customisation files, not just two revision numbers.
"""

from __future__ import annotations

from typing import Any

SETTING_KINDS = {
    "form/fields": "form fields",
    "form/layout": "form layout",
    "views": "views",
    "status": "process management",
    "customize": "JavaScript/CSS customisation",
}


def describe_difference(kind: str, preview: dict[str, Any], live: dict[str, Any]) -> str | None:
    """One line saying what differs, or None when the documents are the same."""
    preview = {k: v for k, v in preview.items() if k != "revision"}
    live = {k: v for k, v in live.items() if k != "revision"}
    if preview == live:
        return None
    if kind == "form/fields":
        return _keyed(preview.get("properties", {}), live.get("properties", {}))
    if kind == "views":
        return _keyed(preview.get("views", {}), live.get("views", {}))
    if kind == "status":
        parts = []
        if preview.get("enable") != live.get("enable"):
            parts.append("enabled" if preview.get("enable") else "disabled")
        if states := _keyed(preview.get("states", {}), live.get("states", {})):
            parts.append(f"states {states}")
        if preview.get("actions") != live.get("actions"):
            parts.append("actions changed")
        return ", ".join(parts) or "changed"
    if kind == "customize":
        return _keyed(_files(preview), _files(live)) or "changed"
    return "changed"


def _keyed(after: dict[str, Any], before: dict[str, Any]) -> str:
    """`+added -removed ~changed` by key."""
    parts = [f"+{k}" for k in sorted(after.keys() - before.keys())]
    parts += [f"-{k}" for k in sorted(before.keys() - after.keys())]
    parts += [f"~{k}" for k in sorted(after.keys() & before.keys()) if after[k] != before[k]]
    return " ".join(parts)


def _files(document: dict[str, Any]) -> dict[str, Any]:
    """Customisation files by where they apply and their name or URL."""
    files: dict[str, Any] = {}
    for platform in ("desktop", "mobile"):
        for kind in ("js", "css"):
            for item in document.get(platform, {}).get(kind, []):
                ref = item.get("url") or item.get("file", {}).get("name") or str(item)
                files[f"{platform} {kind} {ref}"] = item
    scope = document.get("scope")
    if scope is not None:
        files["scope " + str(scope)] = scope
    return files
