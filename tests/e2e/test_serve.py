"""``switchboard serve``: checks the config, listens, stops cleanly on a signal."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import run
from tests.e2e.server import Ports, ServerProcess, reference_config


def test_serve_listens_reports_and_stops_on_sigterm(tmp_path: Path):
    ports = Ports()
    config = reference_config(tmp_path / "config", ports)
    state = tmp_path / "state"
    server = ServerProcess(config, state).start()
    assert f"listening on udp 127.0.0.1:{ports.udp} (transport-udp)" in server.log
    assert f"listening on tcp 127.0.0.1:{ports.tcp} (transport-tcp)" in server.log
    assert "2 endpoints, 2 aors, 1 contexts, 2 mailboxes" in server.log
    assert "weak password" in server.log
    assert state.is_dir() and (state.stat().st_mode & 0o777) == 0o700
    assert (state / "secret.key").stat().st_mode & 0o777 == 0o600
    assert server.stop() == 0
    assert "received SIGTERM, stopping" in server.log


def test_serve_refuses_a_broken_config(tmp_path: Path, reference_copy: Path):
    extensions = reference_copy / "extensions.conf"
    extensions.write_text(extensions.read_text().replace("PJSIP/bob", "PJSIP/bbo"))
    result = run(
        "serve", "--config-dir", str(reference_copy), "--state-dir", str(tmp_path / "state")
    )
    assert result.returncode == 1
    assert "extensions.conf:3: error: Dial(PJSIP/bbo)" in result.stderr
    assert "has errors; not starting" in result.stderr
    assert not (tmp_path / "state").exists()


def test_serve_reports_a_port_in_use(tmp_path: Path):
    ports = Ports()
    config = reference_config(tmp_path / "config", ports)
    with ServerProcess(config, tmp_path / "state1"):
        result = run("serve", "--config-dir", str(config), "--state-dir", str(tmp_path / "state2"))
    assert result.returncode == 1
    assert "cannot start:" in result.stderr
    assert "Traceback" not in result.stderr
