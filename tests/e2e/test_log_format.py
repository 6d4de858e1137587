"""``serve --log-format json``: every log line is one JSON object a log shipper can read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.server import Ports, ServerProcess, free_port, reference_config
from tests.e2e.sipp import register_scenario, run_sipp

pytestmark = pytest.mark.e2e


def test_json_log_lines_carry_time_level_logger_message_and_events(tmp_path: Path) -> None:
    ports = Ports()
    config = reference_config(tmp_path / "config", ports)
    server = ServerProcess(config, tmp_path / "state", args=("--log-format", "json")).start()
    try:
        result = run_sipp(
            register_scenario("alice"), tmp_path / "sipp", ports.udp, local_port=free_port()
        )
        assert result.returncode == 0, result.messages
        server.wait_for(r'"ContactAdded"')
    finally:
        assert server.stop() == 0
    entries = [json.loads(line) for line in server.lines]
    assert entries, server.log
    for entry in entries:
        assert {"time", "level", "logger", "message"} <= entry.keys(), entry
        assert entry["time"].endswith("+00:00") and "T" in entry["time"]
    ready = next(e for e in entries if e["message"].startswith("ready;"))
    assert (ready["level"], ready["logger"]) == ("INFO", "switchboard.app")
    added = next(e for e in entries if e.get("event", {}).get("type") == "ContactAdded")
    assert added["logger"] == "switchboard.events"
    assert added["event"]["aor"] == "alice" and added["event"]["endpoint"] == "alice"
    assert not any("alice101" in line for line in server.lines)
