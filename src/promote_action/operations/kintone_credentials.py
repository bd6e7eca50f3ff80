"""kintone credentials from the action's inputs: which combinations a user may give, checked
before any request so a misconfiguration is a usage error (exit 2) naming the input, rather than
a puzzling 401. The wire side (headers, certificates) is kintone/auth.py."""

from __future__ import annotations

from promote_action.errors import UsageError
from promote_action.inputs import Inputs, reveal
from promote_action.kintone.auth import CredentialError, Credentials, KintoneAuth, build_auth

INPUT_OF_PART = {
    "api-token": "kintone-api-token",
    "basic-auth": "kintone-basic-auth",
    "client-cert": "kintone-client-cert",
    "client-cert-password": "kintone-client-cert-password",
}


def credentials_from(inputs: Inputs) -> Credentials:
    credentials = Credentials(
        username=reveal(inputs.kintone_username),
        password=reveal(inputs.kintone_password),
        api_tokens=reveal(inputs.kintone_api_token),
        oauth_token=reveal(inputs.kintone_oauth_token),
        basic_auth=reveal(inputs.kintone_basic_auth),
        client_cert=reveal(inputs.kintone_client_cert),
        client_cert_password=reveal(inputs.kintone_client_cert_password),
    )
    c = credentials
    if bool(c.username) != bool(c.password):
        missing = "kintone-password" if c.username else "kintone-username"
        raise UsageError(missing, "is required with kintone-username/kintone-password")
    given = [
        name
        for name, on in (
            ("password", c.username),
            ("API token", c.api_tokens),
            ("OAuth", c.oauth_token),
        )
        if on
    ]
    if not given:
        raise UsageError(
            "kintone-api-token",
            f"{inputs.operation} needs kintone-api-token, kintone-username with kintone-password, "
            "or kintone-oauth-token",
        )
    if len(given) > 1:
        raise UsageError(
            "kintone-api-token" if c.api_tokens else "kintone-oauth-token",
            f"give one kintone login method, not {' and '.join(given)}",
        )
    if c.basic_auth and c.oauth_token:
        raise UsageError(
            "kintone-basic-auth",
            "cannot be combined with kintone-oauth-token: both need the Authorization header",
        )
    if c.client_cert_password and not c.client_cert:
        raise UsageError("kintone-client-cert-password", "is only used with kintone-client-cert")
    return credentials


def auth_from(inputs: Inputs, ca_file: str | None) -> KintoneAuth:
    """The run's kintone auth; credential problems are usage errors naming their input."""
    try:
        return build_auth(credentials_from(inputs), ca_file=ca_file)
    except CredentialError as exc:
        raise UsageError(INPUT_OF_PART[exc.part], exc.problem) from None


def source_auth_from(inputs: Inputs, ca_file: str | None) -> KintoneAuth | None:
    """kintone-promote's own login for the source app, or None to use the target's (the
    default). An API token, or a username with its password; nothing else carries over."""
    token = reveal(inputs.kintone_source_api_token)
    username = reveal(inputs.kintone_source_username)
    password = reveal(inputs.kintone_source_password)
    if bool(username) != bool(password):
        missing = "kintone-source-password" if username else "kintone-source-username"
        raise UsageError(missing, "is required with kintone-source-username/-password")
    if token and username:
        raise UsageError(
            "kintone-source-api-token", "give one source login method, not password and API token"
        )
    if not (token or username):
        return None
    credentials = Credentials(username=username, password=password, api_tokens=token)
    try:
        return build_auth(credentials, ca_file=ca_file)
    except CredentialError as exc:
        raise UsageError("kintone-source-api-token", exc.problem) from None
