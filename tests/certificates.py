"""Throwaway certificates for TLS tests: a CA, a server certificate for localhost/127.0.0.1, a
client certificate (also as the password-protected PKCS#12 kintone hands out) and a client
certificate from a CA nobody trusts."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class Certificates:
    """A throwaway CA with a server certificate for localhost and 127.0.0.1 and a client
    certificate, plus a client certificate from a CA nobody trusts; PEM, and the client's
    also as the password-protected PKCS#12 kintone hands out."""

    ca: bytes
    server_cert: bytes
    server_key: bytes
    client_pfx: bytes
    pfx_password: str
    client: ssl.SSLContext
    stranger: ssl.SSLContext
    anonymous: ssl.SSLContext


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _issue(
    name: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate | None = None,
    issuer_key: ec.EllipticCurvePrivateKey | None = None,
    *,
    server: bool = False,
) -> x509.Certificate:
    """A CA certificate when no issuer is given, else a leaf for a server or a client."""
    now = datetime.datetime.now(datetime.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject if issuer is None else issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if issuer is None:
        key_usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
        builder = builder.add_extension(key_usage, critical=True).add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        )
    elif server:
        names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        usage = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH])
        builder = builder.add_extension(usage, critical=False)
    else:
        usage = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH])
        builder = builder.add_extension(usage, critical=False)
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.public_key()), critical=False
        )
    return builder.sign(key if issuer_key is None else issuer_key, hashes.SHA256())


def _client_context(
    ca: bytes, directory: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> ssl.SSLContext:
    """A client trusting ``ca`` that presents ``cert`` (the ssl module loads it from files)."""
    context = ssl.create_default_context(cadata=ca.decode())
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(_pem(key))
    context.load_cert_chain(cert_file, key_file)
    return context


def make_certificates(directory: Path) -> Certificates:
    """Fresh throwaway certificates; client contexts load their files from `directory`."""
    ca_key, stranger_ca_key = _key(), _key()
    ca = _issue("Sandbox test CA", ca_key)
    stranger_ca = _issue("Nobody's CA", stranger_ca_key)
    server_key, client_key, stranger_key = _key(), _key(), _key()
    server = _issue("localhost", server_key, ca, ca_key, server=True)
    client = _issue("ops@example.com", client_key, ca, ca_key)
    stranger = _issue("intruder@example.com", stranger_key, stranger_ca, stranger_ca_key)
    ca_pem = ca.public_bytes(serialization.Encoding.PEM)
    password = "pfx-pass-1"
    pfx = pkcs12.serialize_key_and_certificates(
        b"ops", client_key, client, None, serialization.BestAvailableEncryption(password.encode())
    )
    return Certificates(
        ca=ca_pem,
        server_cert=server.public_bytes(serialization.Encoding.PEM),
        server_key=_pem(server_key),
        client_pfx=pfx,
        pfx_password=password,
        client=_client_context(ca_pem, _subdirectory(directory, "client"), client, client_key),
        stranger=_client_context(
            ca_pem, _subdirectory(directory, "stranger"), stranger, stranger_key
        ),
        anonymous=ssl.create_default_context(cadata=ca_pem.decode()),
    )


def _subdirectory(directory: Path, name: str) -> Path:
    path = directory / name
    path.mkdir()
    return path
