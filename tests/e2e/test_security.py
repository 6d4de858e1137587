"""The edge against a password guesser and an extension scanner: banned within the
threshold, legitimate users not; and no secret of a whole session reaches the log."""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import run
from tests.e2e.rtp_phone import RtpPhone
from tests.e2e.server import Ports, ServerProcess, free_port, reference_config
from tests.e2e.sipp import register_scenario, run_sipp
from tests.e2e.sipwire import header_of, options_request, status_of
from tests.e2e.test_voicemail_menus import hang_up_with_hash, keys, login, until
from tests.e2e.voicemail_calls import LAMP, call

pytestmark = pytest.mark.e2e


def test_password_guessing_source_is_banned_while_alice_still_registers(tmp_path: Path):
    ports = Ports()
    config = reference_config(tmp_path / "config", ports)
    (config / "switchboard.conf").write_text("[security]\nban_threshold=10\nban_window=60\n")
    state = tmp_path / "state"
    with ServerProcess(config, state) as server:
        guesses = run_sipp(
            register_scenario("alice", final=401),
            tmp_path / "guesser",
            ports.udp,
            password="wrong-guess",
            local_ip="127.0.0.2",
            local_port=free_port(),
            calls=30,
            timeout=30,
            extra=("-bind_local", "-r", "20", "-recv_timeout", "1500"),
        )
        banned = server.wait_for(r'\{[^\n]*"source": "127\.0\.0\.2"[^\n]*"type": "SourceBanned"')
        assert '"offences": 10' in banned.group(0)
        answered = guesses.messages.count("SIP/2.0 401 Unauthorized")
        assert 10 <= answered < 30, "answers stop once the source is banned"
        bans = run("cli", "--state-dir", str(state), "-x", "security show bans")
        assert "127.0.0.2" in bans.stdout
        alice = run_sipp(
            register_scenario("alice"), tmp_path / "alice", ports.udp, local_port=free_port()
        )
        assert alice.returncode == 0, alice.messages
        unban = run("cli", "--state-dir", str(state), "-x", "security unban 127.0.0.2")
        assert "no longer banned" in unban.stdout
        auths = run("cli", "--state-dir", str(state), "-x", "pjsip show auths").stdout
    secret_key = (state / "secret.key").read_bytes().hex()
    for secret in ("alice101", "bob102", "wrong-guess", secret_key):
        assert secret not in server.log, "secrets never reach the log"
        assert secret not in auths


def test_extension_scan_learns_nothing_and_is_banned(tmp_path: Path):
    ports = Ports()
    config = reference_config(tmp_path / "config", ports)
    (config / "switchboard.conf").write_text("[security]\nban_threshold=10\n")
    users = tmp_path / "users.csv"
    names = ["alice", "bob", *(str(n) for n in range(100, 158))]
    users.write_text("SEQUENTIAL\n" + "".join(f"{name};\n" for name in names))
    with ServerProcess(config, tmp_path / "state") as server:
        scan = run_sipp(
            register_scenario("[field0]", authenticate=False, final=401),
            tmp_path / "scan",
            ports.udp,
            local_ip="127.0.0.3",
            local_port=free_port(),
            calls=60,
            timeout=30,
            extra=("-bind_local", "-inf", str(users), "-r", "30", "-recv_timeout", "1500"),
        )
        server.wait_for(r'\{[^\n]*"source": "127\.0\.0\.3"[^\n]*"type": "SourceBanned"')
        answers = scan.responses()
        assert 10 <= len(answers) < 60, "answers stop once the scanner is banned"
        shapes = {
            tuple(
                line.split(":", 1)[0]
                for line in answer.splitlines()
                if not line.startswith(("Call-ID", "From", "To", "Via", "CSeq"))
            )
            for answer in answers
        }
        assert len(shapes) == 1, "every user, real or not, gets the same 401"
        alice = run_sipp(
            register_scenario("alice"), tmp_path / "alice", ports.udp, local_port=free_port()
        )
        assert alice.returncode == 0, alice.messages


PIN, NEW_PIN, WRONG_PIN = "48215937", "73950168", "60419283"
SMTP_PASSWORD = "mailer-Secret-7f3c9a"


def test_a_whole_session_leaves_no_secret_in_the_log(tmp_path: Path):
    """Registrations, a password guesser, a voicemail login with a wrong then the right PIN,
    a PIN change and the console: no password or PIN of the session is in the log or the
    console's answers, whole or as the sequence of keys typed (PINs are searched as whole
    numbers: a timestamp may contain any eight digits)."""
    ports = Ports()
    config = reference_config(tmp_path / "config", ports, extra_pjsip=LAMP)
    voicemail = (config / "voicemail.conf").read_text()
    (config / "voicemail.conf").write_text(
        voicemail.replace("101 => 1234, alice", f"101 => {PIN}, alice")
    )
    (config / "switchboard.conf").write_text(
        "[security]\nban_threshold=5\n"
        f"[smtp]\nhost=127.0.0.1\nport={free_port()}\nusername=mailer\npassword={SMTP_PASSWORD}\n"
    )
    state = tmp_path / "state"
    with ServerProcess(config, state) as server:
        alice = run_sipp(
            register_scenario("alice"), tmp_path / "alice", ports.udp, local_port=free_port()
        )
        assert alice.returncode == 0, alice.messages
        run_sipp(
            register_scenario("bob", final=401),
            tmp_path / "guesser",
            ports.udp,
            user="bob",
            password="Tr0ub4dor-guess",
            local_ip="127.0.0.2",
            local_port=free_port(),
            calls=8,
            timeout=20,
            extra=("-bind_local", "-r", "10", "-recv_timeout", "1500"),
        )
        server.wait_for(r'"source": "127\.0\.0\.2"[^\n]*"type": "SourceBanned"')

        password_file = state / "voicemail" / "default" / "101" / "password"
        phone = RtpPhone()
        session = call(tmp_path, ports, "wrong-pin", "199", phone, user="alice")
        try:
            login(phone, WRONG_PIN)
            server.wait_for("wrong mailbox or password")
        finally:
            session.stop()
            phone.close()
        phone = RtpPhone()
        session = call(tmp_path, ports, "new-pin", "199", phone, user="alice")
        try:
            login(phone, PIN)
            keys(phone, "05")  # mailbox options, change password
            time.sleep(1.0)
            keys(phone, NEW_PIN + "#")
            time.sleep(1.0)
            keys(phone, NEW_PIN + "#")
            assert until(password_file.exists), "the new PIN was not stored"
            keys(phone, "*")
            hang_up_with_hash(phone, session)
        finally:
            session.stop()
            phone.close()
        console = "".join(
            run("cli", "--state-dir", str(state), "-x", command).stdout
            for command in (
                "pjsip show auths",
                "pjsip show endpoints",
                "pjsip show contacts",
                "voicemail show users",
                "security show bans",
            )
        )
    log = server.log
    assert password_file.read_text() == NEW_PIN + "\n"
    secret_key = (state / "secret.key").read_bytes().hex()
    for secret in ("alice101", "bob102", "Tr0ub4dor-guess", SMTP_PASSWORD, secret_key):
        assert secret not in log, f"{secret!r} is in the server log"
        assert secret not in console, f"{secret!r} is in the console's answers"
    typed = "".join(re.findall(r'"digit": "([0-9*#])"', log))
    for pin in (PIN, NEW_PIN, WRONG_PIN):
        whole = re.compile(rf"(?<![0-9]){pin}(?![0-9])")
        assert not whole.search(log), f"PIN {pin} is in the server log"
        assert not whole.search(console), f"PIN {pin} is in the console's answers"
        assert pin not in typed, f"PIN {pin} can be read from the logged key presses"


def test_a_source_over_its_transaction_limit_gets_503_and_others_are_served(tmp_path: Path):
    ports = Ports()
    config = reference_config(tmp_path / "config", ports)
    (config / "switchboard.conf").write_text("[security]\nmax_transactions=5\n")
    with (
        ServerProcess(config, tmp_path / "state"),
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as flood,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other,
    ):
        flood.bind(("127.0.0.3", 0))
        other.bind(("127.0.0.4", 0))
        server = ("127.0.0.1", ports.udp)
        requests = [options_request("udp", flood.getsockname(), f"limit-{n}") for n in range(8)]
        answers = []
        for request in requests:  # one at a time: each UDP transaction lives 32 s after it
            flood.sendto(request, server)
            answers.append(_answer(flood))
        assert [status_of(a) for a in answers] == [200] * 5 + [503] * 3
        assert all(header_of(a.split(b"\r\n\r\n")[0], b"retry-after") == b"5" for a in answers[5:])
        flood.sendto(requests[0], server)  # a retransmission still gets its answer
        assert status_of(_answer(flood)) == 200
        other.sendto(options_request("udp", other.getsockname(), "limit-other"), server)
        assert status_of(_answer(other)) == 200


def _answer(sock: socket.socket) -> bytes:
    sock.settimeout(5)
    return sock.recv(65535)
