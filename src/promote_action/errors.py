"""Typed failures: platform code raises these, and only the CLI turns them into exit codes.

Keeping the mapping in one place means every operation fails the same way: usage problems
exit 2 before any write, remote problems exit 1 and carry the platform's own error code so a
user can search for it.
"""

from __future__ import annotations

import re

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_CANCELLED = 130


REMOTE_TEXT_LIMIT = 2048
_TRUNCATED = " … (truncated)"
"""Characters of one remote message kept (an error body can be 300 kB): enough to act on."""

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
"""C0 (but tab and newline), DEL and C1: ESC, BEL and friends can rewrite a terminal or log."""


def remote_text(value: object, limit: int = REMOTE_TEXT_LIMIT) -> str:
    """Text from a remote service made fit to show: control characters removed (tab and newline
    kept), at most `limit` characters, marked when cut."""
    text = _CONTROL.sub("", str(value))
    if len(text) > limit:
        # The mark counts within the limit, so cleaning a cleaned text changes nothing.
        return text[: max(0, limit - len(_TRUNCATED))] + _TRUNCATED
    return text


class PromoteError(Exception):
    """Base class: `str(error)` is the one-line reason shown to the user."""

    exit_code = EXIT_FAILURE


class UsageError(PromoteError):
    """An input is missing, malformed or names something that does not exist."""

    exit_code = EXIT_USAGE

    def __init__(self, input_name: str, problem: str) -> None:
        self.input_name = input_name
        self.problem = problem
        super().__init__(f"input '{input_name}': {problem}")


class RemoteError(PromoteError):
    """The platform refused or failed a request; `code` is its own error id (e.g. `not_found`)."""

    def __init__(
        self,
        platform: str,
        *,
        status: int,
        code: str,
        message: str,
        request: str,
        request_id: str | None = None,
    ) -> None:
        self.platform = platform
        self.status = status
        code, message = remote_text(code, 100), remote_text(" ".join(message.split()))
        self.code = code
        self.message = message
        self.request = request
        self.request_id = request_id
        hint = f" (request id {request_id})" if request_id else ""
        super().__init__(f"{platform} {code} (HTTP {status}) on {request}: {message}{hint}")


class AmbiguousWriteError(PromoteError):
    """A write was sent but its outcome is unknown (lost response, 5xx after sending).

    Callers must re-read state to learn whether it took effect; blindly repeating a POST could
    create a second release.
    """

    def __init__(self, request: str, cause: str) -> None:
        self.request = request
        self.cause = cause
        super().__init__(f"outcome of {request} is unknown: {cause}")


class TransportError(PromoteError):
    """The platform could not be reached after the allowed retries."""


class WaitTimeout(PromoteError):
    """The `timeout` deadline passed before the awaited state was reached."""


class Cancelled(PromoteError):
    """The job was cancelled (SIGTERM/SIGINT)."""

    exit_code = EXIT_CANCELLED


class CancelledWrite(Cancelled):
    """Cancelled while a write was in flight: the platform may still act on it, and the report
    must say so instead of "nothing was changed"."""


class VerificationError(PromoteError):
    """The platform reported success but the end state does not prove it."""
