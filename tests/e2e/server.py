"""Start the real ``switchboard serve`` on loopback with free ports, for end-to-end tests."""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.e2e.conftest import REFERENCE, switchboard_command


def _free(port: int) -> bool:
    """Whether ``port`` can be bound on 127.0.0.1 for both TCP and UDP right now."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", port))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", port))
    except OSError:
        return False
    return True


TEST_PORTS = (61000, 65534)
"""Where tests pick listening ports: above Linux's ephemeral range (32768-60999), so no
process's outgoing socket can take one between the check and the bind."""

SERVER_RTP = (33000, 40000)
"""The servers' rtp.conf range in tests: clear of the phones' RTP ports (16384-32767)."""


_given: deque[int] = deque(maxlen=512)
"""Ports this process handed out lately: a test picks its phones' ports before any of
them binds, so a port free at the check may already be another phone's."""


def free_port(*, pair: bool = False) -> int:
    """A port free for both UDP and TCP on 127.0.0.1 and not handed out lately; with
    ``pair``, its +1 neighbour too (baresip listens for TLS on the port above its SIP port)."""
    low, high = TEST_PORTS
    for _ in range(500):
        port = random.randrange(low, high)
        wanted = (port, port + 1) if pair else (port,)
        if any(p in _given for p in wanted) or not all(_free(p) for p in wanted):
            continue
        _given.extend(wanted)
        return port
    raise RuntimeError("no free port")


GC_PROBE = Path(__file__).resolve().parents[2] / "bench" / "gcprobe"
"""The ``sitecustomize`` that watches a server's garbage collector."""


def watch_cycles(report: Path) -> dict[str, str]:
    """The environment for a server that writes to ``report``, at exit, the Switchboard
    objects it left in reference cycles (read with :func:`left_in_cycles`)."""
    path = os.pathsep.join(filter(None, [str(GC_PROBE), os.environ.get("PYTHONPATH")]))
    return {"PYTHONPATH": path, "SWITCHBOARD_GC_CYCLES": str(report)}


def left_in_cycles(report: Path) -> list[str]:
    """``count module.Class`` for each Switchboard class a stopped server left in cycles."""
    return report.read_text().splitlines()


@dataclass
class Ports:
    udp: int = field(default_factory=free_port)
    tcp: int = field(default_factory=free_port)
    tls: int = field(default_factory=free_port)


def reference_config(
    folder: Path, ports: Ports, *, tls: tuple[Path, Path] | None = None, extra_pjsip: str = ""
) -> Path:
    """The reference deployment with its transport on 127.0.0.1 and free ports, plus TCP
    (and TLS when a certificate and key are given), and an rtp.conf keeping the server's
    RTP ports away from the phones'."""
    folder.mkdir(parents=True, exist_ok=True)
    for item in REFERENCE.iterdir():
        shutil.copy(item, folder / item.name)
    pjsip = (folder / "pjsip.conf").read_text()
    pjsip = pjsip.replace("bind=0.0.0.0", f"bind=127.0.0.1:{ports.udp}", 1)
    pjsip += f"[transport-tcp]\ntype=transport\nprotocol=tcp\nbind=127.0.0.1:{ports.tcp}\n"
    if tls is not None:
        cert, key = tls
        pjsip += (
            f"[transport-tls]\ntype=transport\nprotocol=tls\nbind=127.0.0.1:{ports.tls}\n"
            f"cert_file={cert}\npriv_key_file={key}\n"
        )
    (folder / "pjsip.conf").write_text(pjsip + extra_pjsip)
    rtp = folder / "rtp.conf"
    if not rtp.exists():
        rtp.write_text(f"[general]\nrtpstart={SERVER_RTP[0]}\nrtpend={SERVER_RTP[1]}\n")
    return folder


class ServerProcess:
    """``switchboard serve`` in the background; its log is collected as it runs."""

    def __init__(
        self,
        config_dir: Path,
        state_dir: Path,
        *,
        args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self.config_dir = config_dir
        self.state_dir = state_dir
        self.args = args
        """More ``serve`` options (``--log-format json``)."""
        self.env = env or {}
        """More environment for the server (``watch_cycles``)."""
        self.process: subprocess.Popen[str] | None = None
        self.lines: list[str] = []
        self._reader: threading.Thread | None = None

    def start(self, timeout: float = 30) -> ServerProcess:
        self.process = subprocess.Popen(
            [
                *switchboard_command(),
                "serve",
                "--config-dir",
                str(self.config_dir),
                "--state-dir",
                str(self.state_dir),
                *self.args,
            ],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.wait_for("ready; stop with", timeout)
        return self

    def _read(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)

    @property
    def log(self) -> str:
        return "".join(self.lines)

    def wait_for(self, pattern: str, timeout: float = 20) -> re.Match[str]:
        """Poll the log until ``pattern`` (a regex) appears; fail at the deadline."""
        match = poll_log(lambda: self.log, self.process, pattern, timeout, 0.02)
        if match is None:
            raise AssertionError(f"{pattern!r} not in the server log:\n{self.log}")
        return match

    def stop(self) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._reader is not None:
            self._reader.join(timeout=5)
        assert "Traceback" not in self.log, self.log
        return self.process.returncode

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def poll_log(
    read: Callable[[], str],
    process: subprocess.Popen[Any] | None,
    pattern: str,
    timeout: float,
    interval: float,
) -> re.Match[str] | None:
    """Read a process's log until ``pattern`` (a regex) appears, the process ends or the
    deadline passes; the match, or None."""
    deadline = time.monotonic() + timeout
    regex = re.compile(pattern)
    while time.monotonic() < deadline:
        match = regex.search(read())
        if match:
            return match
        if process is not None and process.poll() is not None:
            break
        time.sleep(interval)
    return None
