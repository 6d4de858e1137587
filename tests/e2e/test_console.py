"""``switchboard cli -x``: Asterisk's console commands against the running server."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import run
from tests.e2e.server import Ports, ServerProcess, free_port, reference_config
from tests.e2e.sipp import register_scenario, run_sipp

pytestmark = pytest.mark.e2e


def test_console_commands_show_the_live_state_and_stop_the_server(tmp_path: Path):
    ports = Ports()
    config = reference_config(tmp_path / "config", ports)
    state = tmp_path / "state"
    server = ServerProcess(config, state).start()
    try:
        assert (state / "switchboard.ctl").stat().st_mode & 0o777 == 0o600
        result = run_sipp(
            register_scenario("alice"), tmp_path / "sipp", ports.udp, local_port=free_port()
        )
        assert result.returncode == 0, result.messages
        contacts = run("cli", "--state-dir", str(state), "-x", "pjsip show contacts")
        assert contacts.returncode == 0, contacts.stderr
        lines = contacts.stdout.splitlines()
        assert lines[0].split() == ["Contact", "Status", "Source", "Expires", "User-Agent"]
        assert lines[2].startswith("alice/sip:alice@127.0.0.1:")
        assert "1 object(s) found." in contacts.stdout
        endpoints = run("cli", "--state-dir", str(state), "-x", "pjsip show endpoints").stdout
        assert any(
            line.split()[:3] == ["alice", "Available", "from-internal"]
            for line in endpoints.splitlines()
        )
        assert any(line.split()[:2] == ["bob", "Unavailable"] for line in endpoints.splitlines())
        auths = run("cli", "--state-dir", str(state), "-x", "pjsip show auths").stdout
        assert "alice101" not in auths and "userpass" in auths
        dialplan = run("cli", "--state-dir", str(state), "-x", "dialplan show from-internal")
        assert "'101' => 1. Dial(PJSIP/alice,10)  [extensions.conf:2]" in dialplan.stdout
        unknown = run("cli", "--state-dir", str(state), "-x", "pjsip show nothing")
        assert unknown.returncode == 1 and "No such command" in unknown.stdout
        stop = run("cli", "--state-dir", str(state), "-x", "core stop gracefully")
        assert stop.returncode == 0
        server.wait_for("received a control command, stopping")
        assert server.process is not None and server.process.wait(timeout=15) == 0
    finally:
        assert server.stop() == 0
    missing = run("cli", "--state-dir", str(state), "-x", "core show version")
    assert missing.returncode == 1 and "cannot reach the server" in missing.stderr
