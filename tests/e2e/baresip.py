"""Run baresip (Debian's baresip-core) headless as a real softphone, driven over ctrl_tcp."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

BARESIP = shutil.which("baresip")
MODULES = Path("/usr/lib/baresip/modules")


def _netstring(data: bytes) -> bytes:
    return str(len(data)).encode() + b":" + data + b","


class Baresip:
    """One baresip process with one account; events are read from its control socket."""

    def __init__(
        self,
        folder: Path,
        account: str,
        *,
        sip_port: int,
        ctrl_port: int,
        cafile: Path | None = None,
    ) -> None:
        self.folder = folder
        self.ctrl_port = ctrl_port
        folder.mkdir(parents=True, exist_ok=True)
        lines = [
            "poll_method epoll",
            f"sip_listen 127.0.0.1:{sip_port}",
            "sip_trans_def udp",
            "dns_server 127.0.0.1:53",
            f"module_path {MODULES}",
            "module g711.so",
            "module_tmp uuid.so",
            "module_tmp account.so",
            "module_app menu.so",
            "module_app ctrl_tcp.so",
            f"ctrl_tcp_listen 127.0.0.1:{ctrl_port}",
            "audio_player aufile,/dev/null",
            "audio_source aufile,/dev/null",
        ]
        if cafile is not None:
            lines.append(f"sip_cafile {cafile}")
        (folder / "config").write_text("\n".join(lines) + "\n")
        (folder / "accounts").write_text(account + "\n")
        self.process: subprocess.Popen[bytes] | None = None
        self.control: socket.socket | None = None
        self._buffer = b""
        self.events: list[dict[str, object]] = []

    def start(self, timeout: float = 15) -> Baresip:
        assert BARESIP is not None, "baresip is not installed (apt-get install baresip-core)"
        self.process = subprocess.Popen(
            [BARESIP, "-4", "-n", "127.0.0.1", "-f", str(self.folder)],
            stdin=subprocess.DEVNULL,
            stdout=(self.folder / "stdout.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.control = socket.create_connection(("127.0.0.1", self.ctrl_port), 1)
                self.control.settimeout(0.2)
                return self
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.05)
        raise AssertionError(f"baresip did not start:\n{self.log}")

    @property
    def log(self) -> str:
        path = self.folder / "stdout.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def command(self, command: str, params: str = "") -> None:
        assert self.control is not None
        payload = json.dumps({"command": command, "params": params, "token": command}).encode()
        self.control.sendall(_netstring(payload))

    def _read(self) -> None:
        assert self.control is not None
        try:
            chunk = self.control.recv(65536)
        except TimeoutError:
            return
        self._buffer += chunk
        while True:
            colon = self._buffer.find(b":")
            if colon < 0:
                return
            length = int(self._buffer[:colon])
            end = colon + 1 + length
            if len(self._buffer) < end + 1:
                return
            message = json.loads(self._buffer[colon + 1 : end])
            self._buffer = self._buffer[end + 1 :]
            self.events.append(message)

    def wait_registered(self, timeout: float = 20) -> str:
        """Ask ``reginfo`` until the account shows OK; returns that line (colours removed)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            seen = len(self.events)
            self.command("reginfo")
            answer_by = time.monotonic() + 1
            while time.monotonic() < answer_by and len(self.events) == seen:
                self._read()
            for event in self.events[seen:]:
                text = re.sub(r"\x1b\[[0-9;]*m", "", str(event.get("data", "")))
                for line in text.splitlines():
                    if " OK " in line:
                        return line.strip()
            time.sleep(0.1)
        raise AssertionError(f"not registered; got {self.events[-3:]}\n{self.log}")

    def stop(self) -> None:
        if self.control is not None:
            self.control.close()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> Baresip:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
