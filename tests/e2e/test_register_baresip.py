"""A real softphone (baresip) registers to the reference users over UDP, TCP and TLS."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.baresip import Baresip
from tests.e2e.certificates import make_certificates
from tests.e2e.server import Ports, ServerProcess, free_port, reference_config

pytestmark = pytest.mark.e2e


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
            sip_port=free_port(),
            ctrl_port=free_port(),
            cafile=ca,
        )
        with phone:
            line = phone.wait_registered()
            assert line.startswith("> sip:bob@127.0.0.1:") and "Switchboard" in line
        assert f"listening on {transport} 127.0.0.1:{port}" in server.log


def test_qualify_marks_a_registered_phone_reachable(tmp_path: Path):
    ports = Ports()
    extra = "[bob](+type=aor)\nqualify_frequency=1\n"
    config = reference_config(tmp_path / "config", ports, extra_pjsip=extra)
    account = f"<sip:bob@127.0.0.1:{ports.tcp};transport=tcp>;auth_pass=bob102;regint=600"
    with ServerProcess(config, tmp_path / "state") as server:
        phone = Baresip(tmp_path / "baresip", account, sip_port=free_port(), ctrl_port=free_port())
        with phone:
            phone.wait_registered()
            added = server.wait_for(r'\{[^\n]*"type": "ContactAdded"[^\n]*\}')
            assert '"aor": "bob"' in added.group(0) and '"source": "tcp:127.0.0.1:' in added.group(
                0
            )
            status = server.wait_for(r'\{[^\n]*"type": "ContactStatusChanged"[^\n]*\}')
            assert '"status": "reachable"' in status.group(0)
