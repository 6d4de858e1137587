"""The control socket: a Unix socket in the state folder (mode 600) that answers one
console command per connection, as ``asterisk -rx`` does. Framing: the client writes the
command and a newline; the server writes ``OK`` or ``ERR``, a newline, the output, and
closes. The client side (``switchboard cli -x``) imports nothing of the server."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from switchboard.api.commands import Commands

log = logging.getLogger(__name__)

SOCKET_NAME = "switchboard.ctl"
MAX_COMMAND = 4096


class ControlServer:
    """Serves :class:`Commands` on ``state_dir/switchboard.ctl``."""

    def __init__(self, commands: Commands, state_dir: Path) -> None:
        self.commands = commands
        self.path = state_dir / SOCKET_NAME
        self.server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        self.path.unlink(missing_ok=True)
        old_umask = os.umask(0o177)
        try:
            self.server = await asyncio.start_unix_server(self._client, path=str(self.path))
        finally:
            os.umask(old_umask)
        self.path.chmod(0o600)

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        self.path.unlink(missing_ok=True)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), timeout=10)
            if len(line) > MAX_COMMAND:
                ok, output = False, "command too long"
            else:
                command = line.decode("utf-8", "replace").strip()
                log.info("control command: %s", command)
                ok, output = await self.commands.execute(command)
            writer.write(("OK\n" if ok else "ERR\n").encode() + output.encode() + b"\n")
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()


def send_command(state_dir: Path, command: str, timeout: float = 120) -> tuple[bool, str]:
    """Client side: run one command on the server whose state folder is ``state_dir``."""
    import socket

    path = state_dir / SOCKET_NAME
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        sock.sendall(command.encode() + b"\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    status, _, output = b"".join(chunks).decode("utf-8", "replace").partition("\n")
    return status == "OK", output.rstrip("\n")
