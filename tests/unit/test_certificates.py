"""The built-in CA: what ``switchboard tls-cert`` writes, checked with the cryptography library."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from switchboard.certificates import CertificateError, issue
from switchboard.cli import main


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_reference_command_writes_ast_tls_cert_files(tmp_path: Path, capsys):
    keys = tmp_path / "keys"
    assert (
        main(["tls-cert", "-C", "172.16.0.15", "-O", "VoipCo", "-d", str(keys), "-b", "2048"]) == 0
    )
    names = sorted(p.name for p in keys.iterdir())
    assert names == ["asterisk.crt", "asterisk.key", "asterisk.pem", "ca.cer", "ca.crt", "ca.key"]
    for secret in ("asterisk.key", "asterisk.pem", "ca.key"):
        assert (keys / secret).stat().st_mode & 0o777 == 0o600
    ca, cert = load(keys / "ca.crt"), load(keys / "asterisk.crt")
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("172.16.0.15")]
    assert san.get_values_for_type(x509.DNSName) == ["172.16.0.15"]  # for mbedTLS 2 phones
    assert cert.issuer == ca.subject
    ca.public_key().verify(  # type: ignore[union-attr]
        cert.signature, cert.tbs_certificate_bytes, *_padding(cert)
    )
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.key_encipherment and not usage.key_cert_sign
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert cert.public_key().key_size == 2048  # type: ignore[union-attr]
    days = (cert.not_valid_after_utc - cert.not_valid_before_utc).days
    assert 364 <= days <= 366
    out = capsys.readouterr().out
    assert "CA created" in out and "SHA-256 fingerprint" in out and "valid until" in out
    pem = (keys / "asterisk.pem").read_bytes()
    assert pem.startswith(b"-----BEGIN CERTIFICATE-----") and b"PRIVATE KEY" in pem
    der = x509.load_der_x509_certificate((keys / "ca.cer").read_bytes())
    assert der == ca


def _padding(cert: x509.Certificate):
    from cryptography.hazmat.primitives.asymmetric import padding

    return padding.PKCS1v15(), cert.signature_hash_algorithm


def test_ca_is_reused_and_serials_are_unique(tmp_path: Path):
    first = issue(host="pbx.example.com", organisation="VoipCo", directory=tmp_path)
    second = issue(host="pbx.example.com", organisation="VoipCo", directory=tmp_path, name="two")
    assert first.ca_created and not second.ca_created
    assert first.serial != second.serial
    assert load(first.cert).issuer == load(second.cert).issuer
    san = load(second.cert).extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.value.get_values_for_type(x509.DNSName) == ["pbx.example.com"]


def test_client_mode_passphrase_and_refusals(tmp_path: Path):
    issued = issue(
        host="alice",
        organisation="VoipCo",
        directory=tmp_path,
        mode="client",
        ca_passphrase=b"s3cret-pass",
        now=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
    )
    assert issued.cert.name == "client.crt"
    eku = load(issued.cert).extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    with pytest.raises(TypeError):
        serialization.load_pem_private_key((tmp_path / "ca.key").read_bytes(), None)
    with pytest.raises(CertificateError, match="wrong --ca-passphrase"):
        issue(host="x", organisation="VoipCo", directory=tmp_path, ca_passphrase=b"wrong")
    with pytest.raises(CertificateError, match="2048"):
        issue(host="x", organisation="VoipCo", directory=tmp_path / "b", bits=1024)
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "ca.crt").write_text("only half")
    with pytest.raises(CertificateError, match="both are needed"):
        issue(host="x", organisation="VoipCo", directory=tmp_path / "c")


def test_cli_reports_errors_without_traceback(tmp_path: Path, capsys):
    assert main(["tls-cert", "-C", "x", "-O", "o", "-d", str(tmp_path), "-b", "512"]) == 1
    assert capsys.readouterr().err.startswith("error: -b 512: keys shorter than 2048 bits")
