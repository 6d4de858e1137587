"""A PBX with the HTTP API on: the real server, an http.conf on a free port, a token made
with ``switchboard api-token create``, and an httpx client that sends it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.e2e.conftest import run
from tests.e2e.server import Ports, ServerProcess, free_port, reference_config


@dataclass
class Api:
    """A running server and what it takes to call its API."""

    server: ServerProcess
    ports: Ports
    base: str
    token: str
    client: httpx.Client

    @property
    def ws_base(self) -> str:
        return self.base.replace("http://", "ws://", 1)


def http_conf(folder: Path, port: int) -> None:
    (folder / "http.conf").write_text(
        f"[general]\nenabled=yes\nbindaddr=127.0.0.1\nbindport={port}\n"
    )


def make_token(state: Path, name: str = "admin") -> str:
    result = run("api-token", "create", name, "--state-dir", str(state))
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@contextmanager
def api_server(
    tmp_path: Path, *, extra_pjsip: str = "", switchboard_conf: str = "", extensions: str = ""
) -> Iterator[Api]:
    """Start the server with the API on; yield an :class:`Api`; stop it."""
    ports = Ports()
    config = reference_config(tmp_path / "config", ports, extra_pjsip=extra_pjsip)
    port = free_port()
    http_conf(config, port)
    if extensions:
        with (config / "extensions.conf").open("a") as file:
            file.write(extensions)
    if switchboard_conf:
        (config / "switchboard.conf").write_text(switchboard_conf)
    state = tmp_path / "state"
    token = make_token(state)
    base = f"http://127.0.0.1:{port}"
    with (
        ServerProcess(config, state) as server,
        httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=10
        ) as client,
    ):
        yield Api(server, ports, base, token, client)
