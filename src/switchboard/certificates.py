"""A small certificate authority for TLS transports, with ast_tls_cert's file names.

Asterisk's ``ast_tls_cert`` script makes a CA and a server certificate with openssl and
prompts for pass-phrases; this does the same job properly: the host goes in
subjectAltName (as an IP or DNS name, which phones check, not the common name), every
certificate has a unique random serial, key files are written with mode 600 from the
start, an existing CA is reused, and nothing is interactive. The CA is also written in
DER form (``ca.cer``), the format most phones import.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 3650
LEAF_DAYS = 365
"""Within the 366 days Mozilla's server profiles allow a leaf certificate."""


class CertificateError(Exception):
    """A certificate could not be made; the message says what to fix."""


@dataclass(frozen=True, slots=True)
class Issued:
    """What was written, for the command to report."""

    ca_cert: Path
    ca_created: bool
    cert: Path
    key: Path
    pem: Path
    serial: int
    not_after: datetime.datetime
    ca_fingerprint: str


def _write_private(path: Path, data: bytes) -> None:
    """Write a secret so that it is never readable by others, not even for a moment."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _key_bytes(key: rsa.RSAPrivateKey, passphrase: bytes | None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, encryption
    )


def subject_alt_names(host: str) -> list[x509.GeneralName]:
    """A DNS name, or for an IP address an IP entry and the same text as a DNS name: TLS
    libraries that match names only (mbedTLS 2, under Linphone) find it there."""
    try:
        return [x509.IPAddress(ipaddress.ip_address(host)), x509.DNSName(host)]
    except ValueError:
        return [x509.DNSName(host)]


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 fingerprint as phones show it: colon-separated upper-case hex."""
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def _load_or_make_ca(
    ca_cert_path: Path,
    ca_key_path: Path,
    *,
    organisation: str,
    bits: int,
    passphrase: bytes | None,
    now: datetime.datetime,
) -> tuple[x509.Certificate, rsa.RSAPrivateKey, bool]:
    if ca_cert_path.exists() or ca_key_path.exists():
        if not (ca_cert_path.exists() and ca_key_path.exists()):
            raise CertificateError(
                f"found only one of {ca_cert_path} and {ca_key_path}; both are needed to reuse a CA"
            )
        try:
            cert = x509.load_pem_x509_certificate(ca_cert_path.read_bytes())
            key = serialization.load_pem_private_key(ca_key_path.read_bytes(), passphrase)
        except (ValueError, TypeError) as exc:
            raise CertificateError(
                f"cannot read the CA in {ca_cert_path} / {ca_key_path}: {exc} "
                "(wrong --ca-passphrase?)"
            ) from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise CertificateError(f"{ca_key_path} is not an RSA key")
        return cert, key, False
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{organisation} Certificate Authority"),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    ca_cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    ca_cert_path.with_suffix(".cer").write_bytes(cert.public_bytes(serialization.Encoding.DER))
    _write_private(ca_key_path, _key_bytes(key, passphrase))
    return cert, key, True


def issue(
    *,
    host: str,
    organisation: str,
    directory: Path,
    bits: int = 2048,
    mode: str = "server",
    ca_cert_path: Path | None = None,
    ca_key_path: Path | None = None,
    name: str | None = None,
    ca_passphrase: bytes | None = None,
    now: datetime.datetime | None = None,
) -> Issued:
    """Make (or reuse) the CA and issue a server or client certificate for ``host``."""
    if bits < 2048:
        raise CertificateError(f"-b {bits}: keys shorter than 2048 bits are refused")
    if mode not in ("server", "client"):
        raise CertificateError(f"-m {mode}: expected server or client")
    now = now or datetime.datetime.now(datetime.UTC)
    directory.mkdir(parents=True, exist_ok=True)
    ca_cert_path = ca_cert_path or directory / "ca.crt"
    ca_key_path = ca_key_path or directory / "ca.key"
    ca_cert, ca_key, created = _load_or_make_ca(
        ca_cert_path,
        ca_key_path,
        organisation=organisation,
        bits=bits,
        passphrase=ca_passphrase,
        now=now,
    )
    base = name or ("asterisk" if mode == "server" else "client")
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    serial = x509.random_serial_number()
    usage = ExtendedKeyUsageOID.SERVER_AUTH if mode == "server" else ExtendedKeyUsageOID.CLIENT_AUTH
    not_after = min(now + datetime.timedelta(days=LEAF_DAYS), ca_cert.not_valid_after_utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
                    x509.NameAttribute(NameOID.COMMON_NAME, host),
                ]
            )
        )
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName(subject_alt_names(host)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_bytes = cert.public_bytes(serialization.Encoding.PEM)
    key_bytes = _key_bytes(key, None)
    cert_path, key_path, pem_path = (directory / f"{base}.{ext}" for ext in ("crt", "key", "pem"))
    cert_path.write_bytes(cert_bytes)
    _write_private(key_path, key_bytes)
    _write_private(pem_path, cert_bytes + key_bytes)
    return Issued(
        ca_cert_path,
        created,
        cert_path,
        key_path,
        pem_path,
        serial,
        not_after,
        fingerprint(ca_cert),
    )
