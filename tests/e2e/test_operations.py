"""What docs/operations.md tells an operator to do: JSON logs, online backups, the
systemd unit's commands."""

from __future__ import annotations

import configparser
import json
import shlex
import sqlite3
import time
from pathlib import Path

import pytest

from switchboard.cli import _parser
from tests.e2e.conftest import ROOT
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


def backed_up(database: Path, backup: Path, query: str) -> list[tuple[object, ...]]:
    """Copy a live database as docs/operations.md says (SQLite's online backup), then read
    the copy."""
    live, copy = sqlite3.connect(database), sqlite3.connect(backup)
    try:
        live.backup(copy)
        return copy.execute(query).fetchall()
    finally:
        live.close()
        copy.close()


def test_the_documented_online_backup_copies_the_live_database(tmp_path: Path) -> None:
    ports = Ports()
    config = reference_config(tmp_path / "config", ports)
    state = tmp_path / "state"
    with ServerProcess(config, state) as server:
        result = run_sipp(
            register_scenario("alice"), tmp_path / "sipp", ports.udp, local_port=free_port()
        )
        assert result.returncode == 0, result.messages
        server.wait_for(r'"ContactAdded"')
        backup = tmp_path / "backup.db"
        deadline = time.monotonic() + 10
        while True:  # contacts are written behind, within a quarter second
            rows = backed_up(state / "switchboard.db", backup, "select aor from contacts")
            if rows or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert rows == [("alice",)]


def test_the_systemd_unit_runs_commands_this_version_accepts() -> None:
    unit = configparser.ConfigParser(interpolation=None, strict=False)
    unit.read(ROOT / "contrib" / "switchboard.service")
    service = unit["Service"]
    for key in ("ExecStart", "ExecReload"):
        program, *args = shlex.split(service[key])
        assert program == "/opt/switchboard/.venv/bin/switchboard"
        parsed = _parser().parse_args(args)
        assert parsed.state_dir == Path("/var/lib/switchboard")
    assert shlex.split(service["ExecReload"])[-2:] == ["-x", "core reload"]
    assert service["StateDirectory"] == "switchboard"
    assert service["ProtectSystem"] == "strict" and service["NoNewPrivileges"] == "yes"
