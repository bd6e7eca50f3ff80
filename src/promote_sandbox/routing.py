"""Request, reply and route types shared by the sandbox server and the fake services it hosts.

They live apart from ``server.py`` so that a fake service can declare its route table without
importing the server that mounts it (the server imports the services to build a ``Sandbox``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import unquote

REDACTED = "[REDACTED]"


@dataclass(frozen=True)
class Request:
    """One HTTP request as a fake service sees it.

    ``path`` is relative to the service's mount point so a service's routes stay the real API's
    paths wherever it is mounted; ``base_url`` is what the client used to reach the mount, for
    URLs the service hands back (a release's output stream, for instance). A header sent on
    several lines arrives as one, its values joined with ", ". ``in_flight`` counts the
    service's requests being served when this one arrived, itself included: kintone reports
    that number on every response and refuses requests beyond its limit.
    """

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes
    base_url: str
    params: Mapping[str, str] = field(default_factory=dict)
    in_flight: int = 1

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)


@dataclass(frozen=True)
class Reply:
    """A response; ``chunks`` makes it a live stream sent with chunked transfer coding."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    chunks: Iterator[bytes] | None = None

    @classmethod
    def json(cls, status: int, payload: Any, headers: Iterable[tuple[str, str]] = ()) -> Reply:
        return cls(
            status,
            (("Content-Type", "application/json"), *headers),
            json.dumps(payload).encode(),
        )

    @classmethod
    def text(cls, status: int, text: str, headers: Iterable[tuple[str, str]] = ()) -> Reply:
        return cls(status, (("Content-Type", "text/plain; charset=utf-8"), *headers), text.encode())

    def with_headers(self, *headers: tuple[str, str]) -> Reply:
        return Reply(self.status, (*self.headers, *headers), self.body, self.chunks)


Handler = Callable[[Request], Reply]

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Route:
    """``pattern`` uses ``{name}`` for one path segment; ``secret_params`` never reach the log."""

    method: str
    pattern: str
    handler: Handler
    secret_params: frozenset[str] = frozenset()
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        literals = _PLACEHOLDER.split(self.pattern)
        # split() alternates literal text and placeholder names.
        source = "".join(
            re.escape(part) if i % 2 == 0 else f"(?P<{part}>[^/]+)"
            for i, part in enumerate(literals)
        )
        object.__setattr__(self, "regex", re.compile(source))

    def match(self, method: str, path: str) -> dict[str, str] | None:
        found = self.regex.fullmatch(path) if method == self.method else None
        return None if found is None else {k: unquote(v) for k, v in found.groupdict().items()}

    def redact(self, path: str) -> str:
        found = self.regex.fullmatch(path)
        if found is None:
            return path
        spans = sorted(found.span(name) for name in self.secret_params)
        for start, end in reversed(spans):
            path = path[:start] + REDACTED + path[end:]
        return path


class Service(Protocol):
    """What the sandbox server needs from a fake service it mounts."""

    @property
    def name(self) -> str: ...

    def routes(self) -> Sequence[Route]: ...

    def error_reply(
        self, request: Request, status: int, error_id: str | None, message: str | None
    ) -> Reply:
        """Shape an error the way the real service would: used for faults and unknown routes."""
        ...

    def secrets(self) -> Iterable[str]:
        """Every credential or capability URL part the service issued, to scrub from the log."""
        ...
