"""``switchboard serve``: checks the config, reports its listening plan, stops on a signal."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from tests.e2e.conftest import REFERENCE, switchboard_command


def wait_for_line(process: subprocess.Popen[str], needle: str, deadline: float) -> list[str]:
    """Read stderr lines until one contains ``needle``; fail at the deadline."""
    seen: list[str] = []
    assert process.stderr is not None
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        seen.append(line)
        if needle in line:
            return seen
    raise AssertionError(f"{needle!r} not logged; got:\n{''.join(seen)}")


def test_serve_reference_reports_plan_and_stops_on_sigterm(tmp_path: Path):
    state = tmp_path / "state"
    process = subprocess.Popen(
        [
            *switchboard_command(),
            "serve",
            "--config-dir",
            str(REFERENCE),
            "--state-dir",
            str(state),
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = wait_for_line(process, "waiting for SIGINT/SIGTERM", time.monotonic() + 30)
        log = "".join(lines)
        assert "will listen on udp 0.0.0.0:5060 (transport-udp)" in log
        assert "2 endpoints, 2 aors, 1 contexts, 2 mailboxes" in log
        assert "weak password" in log
        assert state.is_dir() and (state.stat().st_mode & 0o777) == 0o700
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert process.stderr is not None
        assert "received SIGTERM, stopping" in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_serve_refuses_a_broken_config(tmp_path: Path, reference_copy: Path):
    extensions = reference_copy / "extensions.conf"
    extensions.write_text(extensions.read_text().replace("PJSIP/bob", "PJSIP/bbo"))
    result = subprocess.run(
        [
            *switchboard_command(),
            "serve",
            "--config-dir",
            str(reference_copy),
            "--state-dir",
            str(tmp_path / "state"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert "extensions.conf:3: error: Dial(PJSIP/bbo)" in result.stderr
    assert "has errors; not starting" in result.stderr
    assert not (tmp_path / "state").exists()
