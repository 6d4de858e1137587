"""Real softphones register to the reference users over UDP, TCP and TLS: baresip, and
Linphone where the phone must check the server's certificate (baresip 1.0 cannot)."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

import pytest

from tests.e2e.audio import tone_seconds, write_tone_wav
from tests.e2e.baresip import Baresip, rtp_port_range
from tests.e2e.conftest import run
from tests.e2e.linphone import Linphone
from tests.e2e.server import Ports, ServerProcess, free_port, reference_config

pytestmark = pytest.mark.e2e


def make_certificates(folder: Path, organisation: str = "VoipCo") -> tuple[Path, Path, Path]:
    """The reference report's ast_tls_cert step, done by ``switchboard tls-cert``."""
    result = run("tls-cert", "-C", "127.0.0.1", "-O", organisation, "-d", str(folder))
    assert result.returncode == 0, result.stderr
    return folder / "ca.crt", folder / "asterisk.crt", folder / "asterisk.key"


@pytest.mark.parametrize("transport", ["udp", "tcp", "tls"])
def test_baresip_registers(tmp_path: Path, transport: str):
    ports = Ports()
    ca, cert, key = make_certificates(tmp_path / "certs")
    config = reference_config(tmp_path / "config", ports, tls=(cert, key))
    port = {"udp": ports.udp, "tcp": ports.tcp, "tls": ports.tls}[transport]
    account = f"<sip:bob@127.0.0.1:{port};transport={transport}>;auth_pass=bob102;regint=600"
    with ServerProcess(config, tmp_path / "state") as server:
        phone = Baresip(
            tmp_path / "baresip",
            account,
            sip_port=free_port(pair=True),
            ctrl_port=free_port(),
            cafile=ca,
        )
        with phone:
            line = phone.wait_registered()
            assert line.startswith("> sip:bob@127.0.0.1:") and "Switchboard" in line
        assert f"listening on {transport} 127.0.0.1:{port}" in server.log


def test_a_phone_trusting_only_the_ca_calls_over_tls(tmp_path: Path):
    """The reference report's TLS set-up done with tls-cert: bob trusts ca.crt alone,
    registers over TLS and calls 101; alice (UDP) answers and hears bob's 1 kHz tone."""
    ports = Ports()
    ca, cert, key = make_certificates(tmp_path / "certs")
    config = reference_config(tmp_path / "config", ports, tls=(cert, key))
    phones = {}
    for user, password, port, transport in (
        ("alice", "alice101", ports.udp, "udp"),
        ("bob", "bob102", ports.tls, "tls"),
    ):
        folder = tmp_path / user
        folder.mkdir()
        phones[user] = Baresip(
            folder,
            f"<sip:{user}@127.0.0.1:{port};transport={transport}>;auth_pass={password};"
            "regint=600;answermode=auto",
            sip_port=free_port(pair=True),
            ctrl_port=free_port(),
            cafile=ca if transport == "tls" else None,
            audio_source=write_tone_wav(folder / "tone.wav", 1000 if user == "bob" else 440, 30),
            record=user == "alice",
            rtp_ports=rtp_port_range(),
            audio_codecs="pcmu",
        )
    alice, bob = phones["alice"], phones["bob"]
    with ServerProcess(config, tmp_path / "state") as server, alice, bob:
        alice.wait_registered()
        bob.wait_registered()
        bob.dial(f"sip:101@127.0.0.1:{ports.tls};transport=tls")
        bob.wait_event("CALL_ESTABLISHED")
        alice.wait_recorded(2)
        bob.hangup()
        assert alice.close_reason() == "Connection reset by peer"
        heard = alice.recorded_wav()
        server.wait_for(r'"aor": "bob"[^\n]*"source": "tls:127\.0\.0\.1:')
        server.wait_for(r'"caller": "bob"[^\n]*"exten": "101"[^\n]*"type": "CallStarted"')
    assert tone_seconds(heard, 1000) >= 1.5


def test_linphone_trusting_ca_registers_and_with_another_ca_refuses_the_server(tmp_path: Path):
    """The issue's "trusts only ca.crt" check with a phone that verifies: Linphone with
    ``root_ca=ca.crt`` registers over TLS; with another CA it fails the handshake on the
    server's certificate and never registers."""
    ports = Ports()
    ca, cert, key = make_certificates(tmp_path / "certs")
    other_ca, _, _ = make_certificates(tmp_path / "other", "Elsewhere")
    config = reference_config(tmp_path / "config", ports, tls=(cert, key))
    with ServerProcess(config, tmp_path / "state") as server:
        trusting = Linphone(
            tmp_path / "trusting", "bob", "bob102", port=ports.tls, ca=ca, tls_port=free_port()
        )
        with trusting:
            server.wait_for(
                r'"aor": "bob"[^\n]*"source": "tls:127\.0\.0\.1:[^\n]*"user_agent": "Linphone'
            )
        elsewhere = Linphone(
            tmp_path / "elsewhere",
            "alice",
            "alice101",
            port=ports.tls,
            ca=other_ca,
            tls_port=free_port(),
        )
        with elsewhere:
            elsewhere.wait_for("SSL handshake failed : X509 - Certificate verification failed")
            elsewhere.wait_for(r"Register refresher \[503\]")
        assert '"aor": "alice"' not in server.log


def test_qualify_marks_a_registered_phone_reachable(tmp_path: Path):
    ports = Ports()
    extra = "[bob](+type=aor)\nqualify_frequency=1\n"
    config = reference_config(tmp_path / "config", ports, extra_pjsip=extra)
    account = f"<sip:bob@127.0.0.1:{ports.tcp};transport=tcp>;auth_pass=bob102;regint=600"
    with ServerProcess(config, tmp_path / "state") as server:
        phone = Baresip(
            tmp_path / "baresip", account, sip_port=free_port(pair=True), ctrl_port=free_port()
        )
        with phone:
            phone.wait_registered()
            added = server.wait_for(r'\{[^\n]*"type": "ContactAdded"[^\n]*\}').group(0)
            assert '"aor": "bob"' in added and '"source": "tcp:127.0.0.1:' in added
            status = server.wait_for(
                r'\{[^\n]*"status": "reachable"[^\n]*"type": "ContactStatusChanged"[^\n]*\}', 30
            )
            assert '"uri": "sip:bob' in status.group(0)


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
def test_tls_transport_verifies_against_its_ca_only(tmp_path: Path):
    """What a verifying phone does (baresip 1.0 cannot verify: it loads sip_cafile and
    accepts any certificate): the server's chain and its IP subjectAltName pass with the CA
    that made them, and fail with another CA; TLS below 1.2 is refused."""
    ports = Ports()
    ca, cert, key = make_certificates(tmp_path / "certs")
    other_ca, _, _ = make_certificates(tmp_path / "other", "Elsewhere")
    config = reference_config(tmp_path / "config", ports, tls=(cert, key))
    with ServerProcess(config, tmp_path / "state"):
        good = ssl.create_default_context(cafile=str(ca))
        with (
            socket.create_connection(("127.0.0.1", ports.tls), timeout=5) as raw,
            good.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
        ):
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
        bad = ssl.create_default_context(cafile=str(other_ca))
        with (
            socket.create_connection(("127.0.0.1", ports.tls), timeout=5) as raw,
            pytest.raises(ssl.SSLCertVerificationError),
        ):
            bad.wrap_socket(raw, server_hostname="127.0.0.1")
        old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        old.check_hostname = False
        old.verify_mode = ssl.CERT_NONE
        old.maximum_version = ssl.TLSVersion.TLSv1_1
        old.minimum_version = ssl.TLSVersion.TLSv1
        with (
            socket.create_connection(("127.0.0.1", ports.tls), timeout=5) as raw,
            pytest.raises(ssl.SSLError),
        ):
            old.wrap_socket(raw, server_hostname="127.0.0.1")
