"""The job summary as a person reads it in a terminal: the same content, no Markdown.

`markdown.text()` escapes punctuation (`\\(`), links carry dashboard URLs and tables are pipes;
in a terminal that is noise. This undoes the escaping only for display: the text was already
flattened to one line and stripped of control characters when it was escaped, and a terminal
runs no workflow commands.
"""

from __future__ import annotations

import html
import re

_FENCE = re.compile(r"^(`{3,})")
_LINK = re.compile(r"\[((?:\\.|[^\\\]])*)\]\((https?://[^\s()<>]+)\)")
_CODE_SPAN = re.compile(r"(`+) ?(.*?) ?\1")
_STRONG = re.compile(r"(?<!\\)\*\*(.+?)(?<!\\)\*\*")
_EMPHASIS = re.compile(r"(?<![\\*])\*(?!\*)(.+?)(?<!\\)\*")
_TAG = re.compile(r"</?(?:details|summary|sub|sup|br|b|i|code)\b[^>]*>")
_ESCAPE = re.compile(r"\\(.)")
_HEADING = re.compile(r"^#{1,6}\s+")
_TABLE_RULE = re.compile(r"^\|(?:\s*:?-+:?\s*\|)+$")


def plain_text(markdown: str) -> str:
    """Readable text: headings and emphasis unmarked, links as `label (url)` (only the label
    inside tables, which are aligned in columns), escapes and entities undone."""
    out: list[str] = []
    table: list[list[str]] = []
    fence: str | None = None
    for line in markdown.splitlines():
        if fence is not None:
            if line.startswith(fence) and not line.strip("`"):
                fence = None
            else:
                out.append("  " + line)
            continue
        opened = _FENCE.match(line)
        if opened:
            fence = opened.group(1)
            continue
        if line.startswith("|") and line.rstrip().endswith("|"):
            if not _TABLE_RULE.match(line.strip()):
                table.append([_inline(cell, links=False) for cell in _cells(line)])
            continue
        if table:
            out += _columns(table)
            table = []
        out.append(_inline(_HEADING.sub("", line), links=True))
    out += _columns(table)
    return "\n".join(out).strip("\n")


def _cells(row: str) -> list[str]:
    """A table row's cells; `\\|` inside a cell is text, not a separator."""
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", row.strip()[1:-1])]


def _inline(text: str, *, links: bool) -> str:
    text = _LINK.sub(lambda m: f"{m.group(1)} ({m.group(2)})" if links else m.group(1), text)
    text = _CODE_SPAN.sub(lambda m: m.group(2), text)
    text = _STRONG.sub(r"\1", text)
    text = _EMPHASIS.sub(r"\1", text)
    text = _TAG.sub("", text)
    return html.unescape(_ESCAPE.sub(r"\1", text))


def _columns(rows: list[list[str]]) -> list[str]:
    if not rows:
        return []
    widths = [max(len(row[i]) if i < len(row) else 0 for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)).rstrip()
        for row in rows
    ]
