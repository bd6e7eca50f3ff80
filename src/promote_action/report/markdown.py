"""Markdown that untrusted text cannot break out of.

App names, release descriptions and API error messages come from remote services. In a job
summary or PR comment they could ping people (`@org/team`), load tracking pixels (`![](url)`),
or break a table; so every such value goes through `text()` or `code_block()`.
"""

from __future__ import annotations

import re

from promote_action.errors import remote_text

_ESCAPED = re.compile(r"([\\`*_\[\]()|~@])")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_LINE_START = re.compile(r"^(\d*)([#+\-.])")
_INLINE_LIMIT = 20_000
"""Longer than any remote message (those are capped at 2 kB); a guard, not a format."""


def text(value: object) -> str:
    """Inline text: one line, Markdown punctuation and HTML neutralised. `@` is escaped so
    nobody is pinged; `#`, `+`, `-` and `1.` only matter where a line starts."""
    flat = " ".join(remote_text(value, limit=_INLINE_LIMIT).split())
    flat = "".join(_ENTITIES.get(ch, ch) for ch in flat)
    return _LINE_START.sub(r"\1\\\2", _ESCAPED.sub(r"\\\1", flat))


def code(value: object) -> str:
    """Inline code span that survives backticks inside the value."""
    flat = " ".join(remote_text(value, limit=_INLINE_LIMIT).split()).replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", flat)), default=0)
    fence = "`" * (longest + 1)
    return f"{fence} {flat} {fence}"


def code_block(value: str, limit: int = 20_000) -> str:
    """Raw remote output in a fence longer than any backtick run inside it."""
    value = remote_text(value, limit=1_000_000)
    if len(value) > limit:
        value = value[:limit] + "\n... (truncated)"
    longest = max((len(run) for run in re.findall(r"`+", value)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{value}\n{fence}"


def link(label: object, url: str | None) -> str:
    """A link whose label is escaped; only http(s) URLs are linked."""
    if url and re.match(r"^https?://[^\s()<>]+$", url):
        return f"[{text(label)}]({url})"
    return text(label)


def table(headers: list[str], rows: list[list[str]]) -> str:
    """Cells must already be escaped (text/code/link); this only lays them out."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def details(summary: str, body: str) -> str:
    return f"<details><summary>{summary}</summary>\n\n{body}\n\n</details>"
