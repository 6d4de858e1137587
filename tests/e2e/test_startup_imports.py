"""The PBX starts without the HTTP stack unless http.conf enables it: FastAPI, pydantic,
uvicorn, prometheus_client and aiohttp were half of the start-up time. ``check-config``
and ``cli -x`` do not import the server at all.

The real command line runs in a child interpreter; once ``serve`` logs "ready" (or another
command returns) the child writes which of those packages it has loaded; a server then
gets SIGTERM, as from an operator, and must stop cleanly.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.e2e.api_client import http_conf
from tests.e2e.server import Ports, ServerProcess, free_port, reference_config

HTTP_STACK = ("fastapi", "pydantic", "starlette", "uvicorn", "prometheus_client", "aiohttp")
SERVER = ("sqlalchemy", "switchboard.services", "switchboard.transport")

CHILD = """
import asyncio, json, logging, os, signal, sys
from switchboard.cli import main

out, heavy, args = sys.argv[1], sys.argv[2].split(","), sys.argv[3:]

def loaded():
    return sorted(name for name in heavy if name in sys.modules)

class OnReady(logging.Handler):
    def emit(self, record):
        if record.getMessage().startswith("ready;"):
            with open(out, "w") as handle:
                json.dump(loaded(), handle)
            # after this step of the start-up, once the stop signals are handled
            asyncio.get_running_loop().call_soon(os.kill, os.getpid(), signal.SIGTERM)

logging.getLogger("switchboard.app").addHandler(OnReady())
status = main(args)
if args[0] != "serve":
    with open(out, "w") as handle:
        json.dump(loaded(), handle)
sys.exit(status)
"""


def loaded_by(tmp_path: Path, *args: str, packages: tuple[str, ...] = HTTP_STACK) -> list[str]:
    """Which of ``packages`` ``switchboard ARGS`` had loaded when ready (or done)."""
    out = tmp_path / "loaded.json"
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(out), ",".join(packages), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    loaded: list[str] = json.loads(out.read_text())
    return loaded


def serve_args(tmp_path: Path, *, http: bool) -> tuple[str, ...]:
    config = reference_config(tmp_path / "config", Ports())
    if http:
        http_conf(config, free_port())
    return ("serve", "--config-dir", str(config), "--state-dir", str(tmp_path / "state"))


def test_serve_without_http_conf_loads_no_http_stack(tmp_path: Path) -> None:
    assert loaded_by(tmp_path, *serve_args(tmp_path, http=False)) == []


def test_serve_with_http_conf_enabled_loads_the_http_stack(tmp_path: Path) -> None:
    loaded = loaded_by(tmp_path, *serve_args(tmp_path, http=True))
    assert {"fastapi", "pydantic", "starlette", "uvicorn", "prometheus_client"} <= set(loaded)
    assert "aiohttp" not in loaded


def test_check_config_loads_neither_the_http_stack_nor_the_server(tmp_path: Path) -> None:
    config = reference_config(tmp_path / "config", Ports())
    http_conf(config, free_port())
    args = ("check-config", "--config-dir", str(config))
    assert loaded_by(tmp_path, *args, packages=(*HTTP_STACK, *SERVER)) == []


def test_a_console_command_loads_neither_the_http_stack_nor_the_server(tmp_path: Path) -> None:
    config = reference_config(tmp_path / "config", Ports())
    state = tmp_path / "state"
    with ServerProcess(config, state):
        args = ("cli", "--state-dir", str(state), "-x", "core show version")
        assert loaded_by(tmp_path, *args, packages=(*HTTP_STACK, *SERVER)) == []
