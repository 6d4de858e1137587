"""Asterisk's ACLs at run time: an endpoint's permit/deny decides which addresses may
register or call as it, contact_deny which addresses a phone may bind."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e import calls
from tests.e2e.server import Ports, ServerProcess, free_port, reference_config
from tests.e2e.sipp import register_scenario, run_sipp

pytestmark = pytest.mark.e2e

RULES = """[bob](+type=endpoint)
deny=0.0.0.0/0.0.0.0
permit=127.0.0.2/32
[alice](+type=endpoint)
contact_deny=127.0.0.0/255.0.0.0
"""


def test_endpoint_and_contact_acls_refuse_with_403(tmp_path: Path) -> None:
    ports = Ports()
    config = reference_config(tmp_path / "config", ports, extra_pjsip=RULES)
    with ServerProcess(config, tmp_path / "state") as server:
        refused = run_sipp(
            register_scenario("bob", authenticate=False, final=403),
            tmp_path / "bob-refused",
            ports.udp,
            user="bob",
            password="bob102",
            local_port=free_port(),
        )
        assert refused.returncode == 0, refused.messages
        allowed = run_sipp(
            register_scenario("bob"),
            tmp_path / "bob-allowed",
            ports.udp,
            user="bob",
            password="bob102",
            local_ip="127.0.0.2",
            local_port=free_port(),
            extra=("-bind_local",),
        )
        assert allowed.returncode == 0, allowed.messages
        call = run_sipp(
            calls.caller(authenticate=False, final=403),
            tmp_path / "bob-call",
            ports.udp,
            user="bob",
            password="bob102",
            local_port=free_port(),
            extra=("-s", "101"),
        )
        assert call.returncode == 0, call.messages
        contact = run_sipp(
            register_scenario("alice", final=403),
            tmp_path / "alice",
            ports.udp,
            local_port=free_port(),
        )
        assert contact.returncode == 0, contact.messages
        assert "403 Contact address not permitted" in contact.last_response()
        offence = server.wait_for(r'"offence": "FailedACL"')
        assert offence
        assert '"type": "CallStarted"' not in server.log
        assert server.log.count('"offence": "FailedACL"') == 3
