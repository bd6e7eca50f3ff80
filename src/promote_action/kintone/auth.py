"""kintone credentials on the wire: headers, a TLS client certificate, and what to mask.

kintone accepts one way of logging in per request (password, API tokens or OAuth), optionally
behind a domain-wide Basic layer and/or a TLS client certificate (secure access). This module
takes plain values; which inputs they came from, and which combinations a user may give, is the
operation's business (operations/kintone_credentials.py).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import ssl
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from promote_action.errors import PromoteError

MAX_TOKENS = 9
TOKEN = re.compile(r"^[A-Za-z0-9]{1,100}$")


@dataclass
class KintoneAuth:
    headers: dict[str, str] = field(repr=False)
    method: str
    """`password`, `API token` or `OAuth`, for messages and the summary."""
    derived_secrets: list[str] = field(repr=False)
    """Values computed from secrets (base64 headers): the runner only masks what it is told."""
    tls: ssl.SSLContext | None = field(default=None, repr=False)
    token_count: int = 0
    _tempdir: tempfile.TemporaryDirectory[str] | None = field(default=None, repr=False)

    def close(self) -> None:
        """The client certificate was written to a private temporary file; remove it."""
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None


class CredentialError(PromoteError):
    """A credential cannot be used as given; `part` says which one, for the caller to name."""

    def __init__(self, part: str, problem: str) -> None:
        self.part = part
        self.problem = problem
        super().__init__(f"kintone {part}: {problem}")


@dataclass(frozen=True)
class Credentials:
    """Exactly one login (password, API tokens or OAuth), optionally Basic and a certificate."""

    username: str = field(default="", repr=False)
    password: str = field(default="", repr=False)
    api_tokens: str = field(default="", repr=False)
    """Comma-separated."""
    oauth_token: str = field(default="", repr=False)
    basic_auth: str = field(default="", repr=False)
    """user:password of a Basic layer in front of the domain."""
    client_cert: str = field(default="", repr=False)
    """PEM text, base64 of a .pfx/.p12, or a path to either."""
    client_cert_password: str = field(default="", repr=False)

    @property
    def method(self) -> str:
        if self.username:
            return "password"
        return "OAuth" if self.oauth_token else "API token"


def build_auth(credentials: Credentials, *, ca_file: str | None = None) -> KintoneAuth:
    """Headers, TLS and the values to mask for `credentials` (validated by the caller as one
    login method); `ca_file` is the CA bundle the TLS context with a certificate trusts."""
    c = credentials
    headers, derived, tokens = _login(c.username, c.password, c.api_tokens, c.oauth_token)
    if c.basic_auth:
        if ":" not in c.basic_auth:
            raise CredentialError("basic-auth", "expected user:password")
        encoded = base64.b64encode(c.basic_auth.encode()).decode()
        headers["Authorization"] = f"Basic {encoded}"
        derived.append(encoded)
    auth = KintoneAuth(headers, c.method, derived, token_count=len(tokens))
    if c.client_cert:
        _load_client_certificate(auth, c.client_cert, c.client_cert_password, ca_file)
    return auth


def _login(
    username: str, password: str, token: str, oauth: str
) -> tuple[dict[str, str], list[str], list[str]]:
    """Headers of the one login method given, derived secrets, and the API tokens."""
    if username:
        encoded = base64.b64encode(f"{username}:{password}".encode()).decode()
        return {"X-Cybozu-Authorization": encoded}, [encoded], []
    if oauth:
        return {"Authorization": f"Bearer {oauth}"}, [], []
    tokens = [t.strip() for t in token.split(",") if t.strip()]
    if len(tokens) > MAX_TOKENS:
        raise CredentialError(
            "api-token", f"at most {MAX_TOKENS} tokens per request, got {len(tokens)}"
        )
    if not all(TOKEN.match(t) for t in tokens):
        raise CredentialError("api-token", "expected comma-separated alphanumeric tokens")
    # Each token is masked on its own: the runner matches masks as whole strings.
    return {"X-Cybozu-API-Token": ",".join(tokens)}, list(tokens), tokens


def _load_client_certificate(
    auth: KintoneAuth, value: str, password: str, ca_file: str | None
) -> None:
    """PEM text, base64 of a PFX/P12 file (what kintone hands out), or a path to either.

    Python's ssl module needs PEM files, so a PFX is converted into a private temporary file
    that is removed at the end of the run.
    """
    data = _certificate_bytes(value)
    if b"-----BEGIN" in data:
        pem, key_password = data, password or None
    else:
        pem, key_password = _pfx_to_pem(data, password), None
    # Only once the certificate is readable: a failure before must leave no file behind.
    tempdir = tempfile.TemporaryDirectory(prefix="promote-action-")
    auth._tempdir = tempdir
    path = Path(tempdir.name) / "client.pem"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    context = ssl.create_default_context(cafile=ca_file)
    try:
        context.load_cert_chain(path, password=key_password)
    except (ssl.SSLError, ValueError) as exc:
        auth.close()
        raise CredentialError(
            "client-cert",
            f"the certificate or its key could not be loaded ({type(exc).__name__}); "
            "check its password",
        ) from None
    auth.tls = context


def _certificate_bytes(value: str) -> bytes:
    stripped = value.strip()
    if "-----BEGIN" in stripped:
        return stripped.encode()
    if "\n" not in stripped and len(stripped) < 4096 and Path(stripped).is_file():
        return Path(stripped).read_bytes()
    try:
        return base64.b64decode(stripped, validate=True)
    except (binascii.Error, ValueError):
        raise CredentialError(
            "client-cert",
            "expected PEM text, base64 of a .pfx/.p12 file, or a path to one",
        ) from None


def _pfx_to_pem(data: bytes, password: str) -> bytes:
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415 - only for PFX
    from cryptography.hazmat.primitives.serialization import pkcs12  # noqa: PLC0415

    try:
        key, cert, extra = pkcs12.load_key_and_certificates(data, password.encode() or None)
    except ValueError:
        raise CredentialError(
            "client-cert-password", "the .pfx could not be opened with this password"
        ) from None
    if key is None or cert is None:
        raise CredentialError("client-cert", "the .pfx holds no certificate with its key")
    parts = [cert.public_bytes(serialization.Encoding.PEM)]
    parts += [c.public_bytes(serialization.Encoding.PEM) for c in extra or []]
    parts.append(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return b"".join(parts)
