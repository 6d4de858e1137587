"""The edge against a password guesser: banned within the threshold, legitimate users not."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import run
from tests.e2e.server import Ports, ServerProcess, free_port, reference_config
from tests.e2e.sipp import register_scenario, run_sipp

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
