"""Write README.md's Inputs and Outputs tables from action.yml, so the two cannot drift apart.

    python scripts/readme_tables.py           # rewrite the tables in place (`make readme`)
    python scripts/readme_tables.py --check   # exit 1 if README.md is out of date (the tests)

Each table sits between HTML comment markers, `<!-- inputs:start -->` ... `<!-- inputs:end -->`
and `<!-- outputs:start -->` ... `<!-- outputs:end -->`; everything outside them is left as it is.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parent.parent


class TablesError(Exception):
    """action.yml or README.md is not as this script expects."""


def cell(text: object) -> str:
    """One table cell: a single line, with `|` escaped so it cannot end the cell."""
    flat = " ".join(str(text).split())
    return flat.replace("|", "\\|")


def code(text: str) -> str:
    """Inline code, with a fence long enough for any backticks inside."""
    if not text:
        return ""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _entries(action: Mapping[str, Any], key: str) -> list[tuple[str, Mapping[str, Any]]]:
    section = action.get(key) or {}
    if not isinstance(section, Mapping):
        raise TablesError(f"action.yml: `{key}` is not a mapping")
    entries = []
    for name, spec in section.items():
        if not isinstance(spec, Mapping):
            raise TablesError(f"action.yml: {key}.{name} is not a mapping")
        entries.append((str(name), spec))
    return entries


def inputs_table(action: Mapping[str, Any]) -> list[str]:
    lines = ["| Input | Default | Required | Description |", "| --- | --- | --- | --- |"]
    for name, spec in _entries(action, "inputs"):
        default = "" if spec.get("default") is None else str(spec["default"])
        required = "yes" if spec.get("required") is True else ""
        description = spec.get("description", "")
        lines.append(
            f"| {cell(code(name))} | {cell(code(default))} | {required} | {cell(description)} |"
        )
    return lines


def outputs_table(action: Mapping[str, Any]) -> list[str]:
    lines = ["| Output | Description |", "| --- | --- |"]
    for name, spec in _entries(action, "outputs"):
        lines.append(f"| {cell(code(name))} | {cell(spec.get('description', ''))} |")
    return lines


def replace_between(text: str, marker: str, body: Sequence[str]) -> str:
    """Replace what lies between `<!-- {marker}:start -->` and `<!-- {marker}:end -->`."""
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    if text.count(start) != 1 or text.count(end) != 1:
        raise TablesError(f"README.md: expected one `{start}` and one `{end}`")
    head, rest = text.split(start)
    middle, tail = rest.split(end)
    if "\n" not in middle:
        raise TablesError(f"README.md: `{start}` and `{end}` must be on lines of their own")
    return head + start + "\n" + "\n".join(body) + "\n" + end + tail


def render(readme: str, action: Mapping[str, Any]) -> str:
    """README text with both tables generated from the parsed action.yml."""
    text = replace_between(readme, "inputs", inputs_table(action))
    return replace_between(text, "outputs", outputs_table(action))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if README.md is out of date")
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    parser.add_argument("--action", type=Path, default=ROOT / "action.yml")
    options = parser.parse_args(argv)
    readme = options.readme.read_text(encoding="utf-8")
    try:
        action = yaml.safe_load(options.action.read_text(encoding="utf-8"))
        if not isinstance(action, Mapping):
            raise TablesError("action.yml: not a mapping")
        expected = render(readme, action)
    except TablesError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if expected == readme:
        return 0
    if options.check:
        print(
            f"{options.readme.name} is out of date with {options.action.name}: run `make readme`",
            file=sys.stderr,
        )
        return 1
    options.readme.write_text(expected, encoding="utf-8")
    print(f"{options.readme.name}: tables rewritten from {options.action.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
