"""The TLS transport scanned by sslyze, as an auditor would: no SSL 2/3, TLS 1.0 or 1.1, no
weak cipher suite, and compliant with Mozilla's "intermediate" server profile."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

import pytest
from sslyze import (
    CertificateInfoExtraArgument,
    ScanCommandAttemptStatusEnum,
    ScanCommandsExtraArguments,
    Scanner,
    ServerNetworkLocation,
    ServerScanRequest,
    ServerScanResult,
    ServerScanStatusEnum,
)
from sslyze.mozilla_tls_profile.tls_config_checker import (
    SCAN_COMMANDS_NEEDED_BY_MOZILLA_CHECKER,
    MozillaTlsConfiguration,
    TlsConfigurationEnum,
    check_server_against_tls_configuration,
)

from tests.e2e.conftest import run
from tests.e2e.server import Ports, ServerProcess, reference_config
from tests.e2e.test_register_baresip import make_certificates

pytestmark = pytest.mark.e2e

TLS_CERT = ("tls-cert", "-C", "127.0.0.1", "-O", "VoipCo")

WEAK = ("CBC", "SHA1", "RC4", "3DES", "DES", "NULL", "EXPORT", "anon", "MD5")
"""Parts of an IANA cipher-suite name that no suite we accept may contain (CBC modes, SHA-1
MACs and worse); RSA key exchange is checked separately (``TLS_RSA_WITH_...``)."""


def scan(port: int, ca: Path) -> ServerScanResult:
    """What the Mozilla checker needs, trusting our CA so the chain can be validated."""
    request = ServerScanRequest(
        server_location=ServerNetworkLocation("127.0.0.1", port, ip_address="127.0.0.1"),
        scan_commands=SCAN_COMMANDS_NEEDED_BY_MOZILLA_CHECKER,
        scan_commands_extra_arguments=ScanCommandsExtraArguments(
            certificate_info=CertificateInfoExtraArgument(custom_ca_file=ca)
        ),
    )
    scanner = Scanner(per_server_concurrent_connections_limit=4)
    scanner.queue_scans([request])
    results = list(scanner.get_results())
    assert len(results) == 1
    return results[0]


@pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")
def test_sslyze_finds_only_the_mozilla_intermediate_profile(tmp_path: Path):
    ports = Ports()
    ca, cert, key = make_certificates(tmp_path / "certs")
    config = reference_config(tmp_path / "config", ports, tls=(cert, key))
    with ServerProcess(config, tmp_path / "state"):
        result = scan(ports.tls, ca)
    assert result.scan_status == ServerScanStatusEnum.COMPLETED, result.connectivity_error_trace
    attempts = result.scan_result
    assert attempts is not None
    for command in SCAN_COMMANDS_NEEDED_BY_MOZILLA_CHECKER:
        attempt = getattr(attempts, command.value)
        assert attempt.status == ScanCommandAttemptStatusEnum.COMPLETED, (
            command,
            attempt.error_trace,
        )

    for old in ("ssl_2_0", "ssl_3_0", "tls_1_0", "tls_1_1"):
        suites = getattr(attempts, f"{old}_cipher_suites").result
        assert suites is not None
        assert not suites.is_tls_version_supported, old
        assert not suites.accepted_cipher_suites, old
    accepted = [
        accepted.cipher_suite.name
        for version in ("tls_1_2", "tls_1_3")
        for accepted in getattr(attempts, f"{version}_cipher_suites").result.accepted_cipher_suites
    ]
    assert any(name.startswith("TLS_ECDHE_RSA_WITH_AES_128_GCM") for name in accepted)
    assert "TLS_AES_128_GCM_SHA256" in accepted
    for name in accepted:
        assert not any(weak in name for weak in WEAK), name
        assert not name.startswith("TLS_RSA_"), name

    curves = attempts.elliptic_curves.result
    assert curves is not None and curves.supported_curves is not None
    assert {curve.name for curve in curves.supported_curves} == {
        "X25519",
        "secp256r1",
        "secp384r1",
    }

    check_server_against_tls_configuration(
        result, MozillaTlsConfiguration.get(TlsConfigurationEnum.MOZILLA_INTERMEDIATE)
    )


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
def test_method_pins_the_version_and_client_certificates_are_required(tmp_path: Path):
    """``method=tlsv1_3`` refuses TLS 1.2; ``require_client_cert`` refuses a client without
    a certificate from ``ca_list_file`` and accepts one that has it."""
    ports = Ports()
    ca, cert, key = make_certificates(tmp_path / "certs")
    config = reference_config(tmp_path / "config", ports, tls=(cert, key))
    with (config / "pjsip.conf").open("a") as pjsip:
        pjsip.write(f"method=tlsv1_3\nrequire_client_cert=yes\nca_list_file={ca}\n")
    made = run(*TLS_CERT, "-d", str(tmp_path / "certs"), "-m", "client", "-o", "phone")
    assert made.returncode == 0 and "CA created" not in made.stdout, made.stdout
    client_pem = tmp_path / "certs" / "phone.pem"

    def keepalive(context: ssl.SSLContext) -> tuple[str | None, bytes]:
        """The TLS version and the answer to a keep-alive: the server's pong, or nothing
        when it closed the connection (TLS 1.3 checks a client certificate after the
        client has finished its handshake)."""
        with socket.create_connection(("127.0.0.1", ports.tls), timeout=5) as raw:
            tls = context.wrap_socket(raw, server_hostname="127.0.0.1")
            with tls:
                tls.sendall(b"\r\n\r\n")
                try:
                    return tls.version(), tls.recv(16)
                except (ssl.SSLError, ConnectionError):
                    return tls.version(), b""

    with ServerProcess(config, tmp_path / "state"):
        tls12 = ssl.create_default_context(cafile=str(ca))
        tls12.maximum_version = ssl.TLSVersion.TLSv1_2
        tls12.load_cert_chain(client_pem)
        with pytest.raises(ssl.SSLError):
            keepalive(tls12)

        anonymous = ssl.create_default_context(cafile=str(ca))
        assert keepalive(anonymous)[1] == b""

        phone = ssl.create_default_context(cafile=str(ca))
        phone.load_cert_chain(client_pem)
        assert keepalive(phone) == ("TLSv1.3", b"\r\n")
