"""kintone credentials from inputs: headers, a TLS client certificate, and what to mask.

kintone accepts one way of logging in per request (password, API tokens or OAuth), optionally
behind a domain-wide Basic layer and/or a TLS client certificate (secure access). Which
combinations can work is decided here, before any request, so a misconfiguration is a usage
error rather than a puzzling 401.
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

from promote_action.errors import UsageError
from promote_action.inputs import Inputs, reveal

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


def build_auth(inputs: Inputs) -> KintoneAuth:
    token = reveal(inputs.kintone_api_token)
    username, password = reveal(inputs.kintone_username), reveal(inputs.kintone_password)
    oauth = reveal(inputs.kintone_oauth_token)
    basic = reveal(inputs.kintone_basic_auth)
    if bool(username) != bool(password):
        missing = "kintone-password" if username else "kintone-username"
        raise UsageError(missing, "is required with kintone-username/kintone-password")
    given = [
        name for name, on in (("password", username), ("API token", token), ("OAuth", oauth)) if on
    ]
    if not given:
        raise UsageError(
            "kintone-api-token",
            "kintone-deploy needs kintone-api-token, kintone-username with kintone-password, "
            "or kintone-oauth-token",
        )
    if len(given) > 1:
        raise UsageError(
            "kintone-api-token" if token else "kintone-oauth-token",
            f"give one kintone login method, not {' and '.join(given)}",
        )
    if basic and oauth:
        raise UsageError(
            "kintone-basic-auth",
            "cannot be combined with kintone-oauth-token: both need the Authorization header",
        )
    headers, derived, tokens = _login(username, password, token, oauth)
    if basic:
        if ":" not in basic:
            raise UsageError("kintone-basic-auth", "expected user:password")
        encoded = base64.b64encode(basic.encode()).decode()
        headers["Authorization"] = f"Basic {encoded}"
        derived.append(encoded)
    auth = KintoneAuth(headers, given[0], derived, token_count=len(tokens))
    cert = reveal(inputs.kintone_client_cert)
    if cert:
        _load_client_certificate(auth, cert, reveal(inputs.kintone_client_cert_password))
    elif inputs.kintone_client_cert_password:
        raise UsageError("kintone-client-cert-password", "is only used with kintone-client-cert")
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
        raise UsageError(
            "kintone-api-token", f"at most {MAX_TOKENS} tokens per request, got {len(tokens)}"
        )
    if not all(TOKEN.match(t) for t in tokens):
        raise UsageError("kintone-api-token", "expected comma-separated alphanumeric tokens")
    # Each token is masked on its own: the runner matches masks as whole strings.
    return {"X-Cybozu-API-Token": ",".join(tokens)}, list(tokens), tokens


def _load_client_certificate(auth: KintoneAuth, value: str, password: str) -> None:
    """PEM text, base64 of a PFX/P12 file (what kintone hands out), or a path to either.

    Python's ssl module needs PEM files, so a PFX is converted into a private temporary file
    that is removed at the end of the run.
    """
    data = _certificate_bytes(value)
    tempdir = tempfile.TemporaryDirectory(prefix="promote-action-")
    auth._tempdir = tempdir
    path = Path(tempdir.name) / "client.pem"
    if b"-----BEGIN" in data:
        pem, key_password = data, password or None
    else:
        pem, key_password = _pfx_to_pem(data, password), None
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    context = ssl.create_default_context(cafile=os.environ.get("SSL_CERT_FILE") or None)
    try:
        context.load_cert_chain(path, password=key_password)
    except (ssl.SSLError, ValueError) as exc:
        auth.close()
        raise UsageError(
            "kintone-client-cert",
            f"the certificate or its key could not be loaded ({type(exc).__name__}); "
            "check kintone-client-cert-password",
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
        raise UsageError(
            "kintone-client-cert",
            "expected PEM text, base64 of a .pfx/.p12 file, or a path to one",
        ) from None


def _pfx_to_pem(data: bytes, password: str) -> bytes:
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415 - only for PFX
    from cryptography.hazmat.primitives.serialization import pkcs12  # noqa: PLC0415

    try:
        key, cert, extra = pkcs12.load_key_and_certificates(data, password.encode() or None)
    except ValueError:
        raise UsageError(
            "kintone-client-cert-password",
            "the .pfx could not be opened with this password",
        ) from None
    if key is None or cert is None:
        raise UsageError("kintone-client-cert", "the .pfx holds no certificate with its key")
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
