"""``core reload`` (and SIGHUP) on the running server: the new configuration applies to new
registrations and calls, a call up during the reload keeps going, a broken configuration is
refused with its file:line and the old one keeps working, and a renewed TLS certificate is
served to new connections while registered phones stay."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e import calls
from tests.e2e.baresip import Baresip
from tests.e2e.conftest import run, switchboard_command
from tests.e2e.server import Ports, ServerProcess, free_port, reference_config
from tests.e2e.sipp import register_scenario, run_sipp
from tests.e2e.sipwire import answers_options
from tests.e2e.test_calls import ANCHORED, bob_calls, live_channels
from tests.e2e.test_mwi import MAILBOX, OUT_OF_CALL
from tests.e2e.test_register_baresip import make_certificates

pytestmark = pytest.mark.e2e

CHARLIE = (
    "[charlie](endpoint_internal)\nauth=charlie\naors=charlie\n"
    "[charlie](auth_userpass)\npassword=charlie-103-secret\nusername=charlie\n"
    "[charlie](aor_dynamic)\n"
)
NEW_ALICE_PASSWORD = "alice-new-secret-7"


def cli(state: Path, command: str) -> tuple[int, str]:
    result = run("cli", "--state-dir", str(state), "-x", command)
    return result.returncode, result.stdout + result.stderr


def registers(tmp_path: Path, ports: Ports, name: str, user: str, password: str, *, final: int):
    """Whether ``user`` with ``password`` gets ``final`` for its authenticated REGISTER."""
    result = run_sipp(
        register_scenario(user, final=final),
        tmp_path / name,
        ports.udp,
        user=user,
        password=password,
        local_port=free_port(),
    )
    return result.returncode == 0


def edit(config: Path) -> None:
    """Add charlie with extension 103 and change alice's password, as an admin would."""
    pjsip = config / "pjsip.conf"
    text = pjsip.read_text().replace("password=alice101", f"password={NEW_ALICE_PASSWORD}")
    pjsip.write_text(text + CHARLIE)
    extensions = config / "extensions.conf"
    extensions.write_text(extensions.read_text() + "exten=>103,1,Dial(PJSIP/charlie,10)\n")


@pytest.fixture
def site(tmp_path: Path):
    ports = Ports()
    config = reference_config(tmp_path / "config", ports, extra_pjsip=ANCHORED)
    with ServerProcess(config, tmp_path / "state") as server:
        yield ports, server, config, tmp_path / "state"


def test_reload_applies_new_users_passwords_and_extensions_while_a_call_goes_on(
    tmp_path: Path, site
) -> None:
    ports, server, config, state = site
    alice = calls.Phone(tmp_path / "alice", ports.udp, "alice", "alice101", free_port())
    bob = calls.Phone(tmp_path / "bob", ports.udp, "bob", "bob102", free_port())
    charlie = calls.Phone(
        tmp_path / "charlie", ports.udp, "charlie", "charlie-103-secret", free_port()
    )
    try:
        alice.register()
        alice.start(calls.callee(answer_after_ms=100))
        media = str(free_port(pair=True))
        bob.start(calls.caller(talk_ms=6000), extra=("-s", "101", "-mp", media), name="caller")
        server.wait_for(r'"type": "CallAnswered"')
        edit(config)

        status, reply = cli(state, "core reload")

        assert status == 0, reply
        assert "endpoint charlie added" in reply
        assert "auth charlie added" in reply and "aor charlie added" in reply
        assert "auth alice changed: password" in reply
        assert "context from-internal changed: extension 103 added" in reply
        assert NEW_ALICE_PASSWORD not in reply and NEW_ALICE_PASSWORD not in server.log
        verbose = live_channels(tmp_path)
        assert "2 active channels" in verbose
        channels = cli(state, "core show channels verbose")[1]
        assert any(
            line.split()[1:4] == ["from-internal", "101", "1"] and "Dial" in line
            for line in channels.splitlines()
        ), channels
        bob_status, bob_seen = bob.wait()
        assert bob_status == 0, bob_seen  # the call went on to bob's BYE after the reload
        assert alice.wait()[0] == 0

        assert registers(tmp_path, ports, "alice-old", "alice", "alice101", final=401)
        assert registers(tmp_path, ports, "alice-new", "alice", NEW_ALICE_PASSWORD, final=200)
        charlie.register()
        charlie.start(calls.callee(answer_after_ms=100))
        result = bob_calls(tmp_path, ports, calls.caller(talk_ms=300), exten="103")
        assert result.returncode == 0, result.stderr + result.messages
        assert charlie.wait()[0] == 0
        detail = cli(state, "pjsip show endpoint charlie")
        assert detail[0] == 0 and "Endpoint:  charlie  Available" in detail[1]
        assert "InAuth:  charlie/charlie" in detail[1]
        assert "charlie-103-secret" not in detail[1]
    finally:
        for phone in (alice, bob, charlie):
            phone.stop()


def test_a_broken_configuration_is_refused_and_the_old_one_keeps_working(
    tmp_path: Path, site
) -> None:
    ports, server, config, state = site
    extensions = config / "extensions.conf"
    lines = extensions.read_text().splitlines()
    broken_line = len(lines) + 1
    extensions.write_text("\n".join([*lines, "exten=>104,1,Dial(PJSIP/nobody"]) + "\n")
    pjsip = config / "pjsip.conf"
    pjsip.write_text(pjsip.read_text().replace("password=alice101", "password=changed-12345"))

    status, reply = cli(state, "core reload")

    assert status == 1
    assert "Not reloaded" in reply and "the running configuration is kept" in reply
    assert f"extensions.conf:{broken_line}: error:" in reply, reply
    assert registers(tmp_path, ports, "alice", "alice", "alice101", final=200)
    assert "'104'" not in cli(state, "dialplan show from-internal")[1]

    extensions.write_text("\n".join(lines) + "\nexten=>104,1,Dial(PJSIP/alice,10)\n")
    server.process.send_signal(signal.SIGHUP)  # type: ignore[union-attr]
    server.wait_for("received SIGHUP, reloading")
    server.wait_for("reload: context from-internal changed: extension 104 added")
    assert "'104' => 1. Dial(PJSIP/alice,10)" in cli(state, "dialplan show from-internal")[1]
    assert registers(tmp_path, ports, "alice-2", "alice", "changed-12345", final=200)


def test_a_removed_endpoint_loses_its_registration_and_a_moved_transport_waits(
    tmp_path: Path,
) -> None:
    ports = Ports()
    config = reference_config(tmp_path / "config", ports, extra_pjsip=CHARLIE)
    state = tmp_path / "state"
    with ServerProcess(config, state):
        assert registers(tmp_path, ports, "charlie", "charlie", "charlie-103-secret", final=200)
        assert "charlie/sip:charlie@" in cli(state, "pjsip show contacts")[1]
        pjsip = config / "pjsip.conf"
        moved = f"bind=127.0.0.1:{free_port()}"
        text = pjsip.read_text().replace(CHARLIE, "")
        pjsip.write_text(text.replace(f"bind=127.0.0.1:{ports.tcp}", moved))

        status, reply = cli(state, "core reload")

        assert status == 0, reply
        assert "endpoint charlie removed" in reply and "aor charlie removed" in reply
        assert "1 registration(s) of removed aors dropped" in reply
        assert "Not applied (restart to apply):" in reply
        assert "transport transport-tcp: bind changed: needs a restart" in reply
        assert answers_options("tcp", ports.tcp)  # still listening where it was
        assert "charlie" not in cli(state, "pjsip show contacts")[1]
        assert registers(tmp_path, ports, "again", "charlie", "charlie-103-secret", final=401)
        assert registers(tmp_path, ports, "alice", "alice", "alice101", final=200)


def test_a_phone_whose_endpoint_gets_mailboxes_is_sent_its_lamp(tmp_path: Path, site) -> None:
    ports, _, config, state = site
    alice = calls.Phone(tmp_path / "alice", ports.udp, "alice", "alice101", free_port())
    try:
        alice.register()
        alice.start(OUT_OF_CALL, name="lamp")
        pjsip = config / "pjsip.conf"
        pjsip.write_text(pjsip.read_text() + MAILBOX)

        status, reply = cli(state, "core reload")

        assert status == 0, reply
        assert "endpoint alice changed: mailboxes" in reply
        code, seen = alice.wait()
        assert code == 0, seen
        (notify,) = [m for m in seen if m.first_line.startswith("NOTIFY")]
        assert notify.header("Event") == "message-summary"
        assert "Messages-Waiting: no" in notify.text
    finally:
        alice.stop()


def peer_certificate(port: int, connection: ssl.SSLSocket | None = None) -> bytes:
    """The certificate the server presents (DER), on a new connection or an open one."""
    if connection is not None:
        certificate = connection.getpeercert(binary_form=True)
        assert certificate is not None
        return certificate
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw) as tls,
    ):
        certificate = tls.getpeercert(binary_form=True)
    assert certificate is not None
    return certificate


def der(path: Path) -> bytes:
    return ssl.PEM_cert_to_DER_cert(path.read_text())


def options_answered(connection: ssl.SSLSocket) -> bool:
    """Whether an OPTIONS on this open connection is answered 200."""
    host, port = connection.getsockname()[:2]
    connection.sendall(
        (
            f"OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS {host}:{port};branch=z9hG4bK-"
            f"{time.monotonic_ns()}\r\nFrom: <sip:probe@{host}>;tag=1\r\nTo: <sip:127.0.0.1>\r\n"
            f"Call-ID: reload-{time.monotonic_ns()}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
            "Content-Length: 0\r\n\r\n"
        ).encode()
    )
    data = b""
    deadline = time.monotonic() + 5
    while b"\r\n\r\n" not in data and time.monotonic() < deadline:
        chunk = connection.recv(65536)
        if not chunk:
            return False
        data += chunk
    return data.startswith(b"SIP/2.0 200")


def test_a_renewed_tls_certificate_is_served_to_new_connections_only(tmp_path: Path) -> None:
    ports = Ports()
    ca, cert, key = make_certificates(tmp_path / "certs")
    config = reference_config(tmp_path / "config", ports, tls=(cert, key))
    state = tmp_path / "state"
    account = f"<sip:bob@127.0.0.1:{ports.tls};transport=tls>;auth_pass=bob102;regint=600"
    with ServerProcess(config, state) as server:
        phone = Baresip(
            tmp_path / "baresip",
            account,
            sip_port=free_port(pair=True),
            ctrl_port=free_port(),
            cafile=ca,
        )
        with phone:
            phone.wait_registered()
            old = der(cert)
            assert peer_certificate(ports.tls) == old
            context = ssl.create_default_context(cafile=str(ca))
            context.check_hostname = False
            raw = socket.create_connection(("127.0.0.1", ports.tls), timeout=5)
            with context.wrap_socket(raw) as open_connection:
                _, new_cert, new_key = make_certificates(tmp_path / "renewed", "RenewedCo")
                cert.write_bytes(new_cert.read_bytes())  # the key is still the old one

                status, reply = cli(state, "core reload")

                assert status == 1, reply
                assert re.search(
                    r"pjsip\.conf:\d+: error: transport transport-tls: certificate not loaded",
                    reply,
                ), reply
                assert peer_certificate(ports.tls) == old
                key.write_bytes(new_key.read_bytes())

                status, reply = cli(state, "core reload")

                assert status == 0, reply
                assert "transport transport-tls: certificate reloaded" in reply
                assert peer_certificate(ports.tls) == der(new_cert) != old
                assert peer_certificate(ports.tls, open_connection) == old
                assert options_answered(open_connection)
            contacts = cli(state, "pjsip show contacts")[1]
            assert any(
                line.startswith("bob/sip:") and " tls:127.0.0.1:" in line
                for line in contacts.splitlines()
            ), contacts
        assert "certificate reloaded" in server.log


def test_sip_trace_logs_every_message_and_console_details(tmp_path: Path, site) -> None:
    ports, server, _, state = site
    assert cli(state, "pjsip set logger on") == (0, "PJSIP Logging enabled\n")
    assert registers(tmp_path, ports, "alice", "alice", "alice101", final=200)
    trace = server.wait_for(
        r"<--- Received SIP request \(\d+ bytes\) from UDP:127\.0\.0\.1:\d+ --->\nREGISTER sip:"
    )
    assert trace
    server.wait_for(r"<--- Transmitting SIP response \(\d+ bytes\) to UDP:127\.0\.0\.1:\d+ --->")
    server.wait_for(r"SIP/2\.0 200 OK")
    assert cli(state, "pjsip set logger off") == (0, "PJSIP Logging disabled\n")
    before = server.log.count("<--- Received SIP request")
    assert registers(tmp_path, ports, "alice-2", "alice", "alice101", final=200)
    assert server.log.count("<--- Received SIP request") == before

    status, registrations = cli(state, "pjsip show registrations")
    assert status == 0 and registrations.strip().endswith("No objects found.")
    status, detail = cli(state, "pjsip show endpoint alice")
    assert status == 0
    assert "Endpoint:  alice  Available" in detail
    assert "Contact:  alice/sip:alice@127.0.0.1:" in detail
    assert any(line.split() == ["context", ":", "from-internal"] for line in detail.splitlines())
    status, missing = cli(state, "pjsip show endpoint nobody")
    assert status == 1 and "Unable to find object nobody." in missing


def read_until(fd: int, marker: bytes, timeout: float = 15) -> bytes:
    """What a terminal shows until ``marker`` appears (or the deadline)."""
    seen = b""
    deadline = time.monotonic() + timeout
    while marker not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(deadline - time.monotonic(), 0))
        if not ready:
            break
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    assert marker in seen, seen
    return seen


def test_the_interactive_prompt_completes_and_keeps_history(tmp_path: Path, site) -> None:
    _, _, _, state = site
    home = tmp_path / "home"
    home.mkdir()
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [*switchboard_command(), "cli", "--state-dir", str(state)],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env={**os.environ, "HOME": str(home), "TERM": "dumb"},
    )
    os.close(terminal)
    try:
        read_until(controller, b"switchboard*CLI> ")
        os.write(controller, b"core show vers\t\r")  # Tab completes the command
        read_until(controller, b"Switchboard ")
        os.write(controller, b"pjsip show endpoint al\t\r")  # and endpoint names
        read_until(controller, b"Endpoint:  alice  Unavailable")
        os.write(controller, b"exit\r")
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(controller)
    history = (home / ".switchboard_history").read_text()
    assert "core show version" in history and "pjsip show endpoint alice" in history
