"""Run baresip (Debian's baresip-core) headless as a real softphone, driven over ctrl_tcp.

What baresip 1.0.0 does, found by running it: ctrl_tcp takes menu's long command names
(``dial``, ``accept``, ``hangup``, ``sndcode``, ``reginfo``, ``listcalls``) and answers each
with ``{"response": true, "ok": ..., "data": ..., "token": ...}``; events come as
``{"event": true, "type": ..., "id": CALL-ID, "param": ...}``. ``CALL_INCOMING`` is sent only
with ``answermode=manual`` (auto-answer goes straight to ``CALL_ESTABLISHED``).
``CALL_CLOSED``'s ``param`` is the reason: ``Connection reset by user`` (hung up here),
``Connection reset by peer`` (BYE received) or the final status (``486 Busy Here``). The
``sndfile`` filter writes ``snd_path/dump-YYYY-MM-DD-HH-MM-SS-{enc,dec}.wav``; its WAV header
says 0 frames until the call ends.
"""

from __future__ import annotations

import itertools
import json
import random
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

Event = dict[str, object]

BARESIP = shutil.which("baresip")
MODULES = Path("/usr/lib/baresip/modules")


def _netstring(data: bytes) -> bytes:
    return str(len(data)).encode() + b":" + data + b","


def rtp_port_range(size: int = 10) -> tuple[int, int]:
    """``size`` UDP ports from an even one, all free on 127.0.0.1 now, for ``rtp_ports`` (or
    SIPp's ``-mp``). Taken below Linux's ephemeral range (32768+), where the phones' own
    sockets (DNS, SIP client) cannot land between this check and the call."""
    for _ in range(200):
        start = random.randrange(16384, 32768 - size, 2)
        sockets = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(size)]
        try:
            for offset, udp in enumerate(sockets):
                udp.bind(("127.0.0.1", start + offset))
        except OSError:
            continue
        finally:
            for udp in sockets:
                udp.close()
        return start, start + size - 1
    raise RuntimeError("no free range of UDP ports")


def _wav_finished(path: Path) -> bool:
    """Whether the RIFF size in the header covers the file (libsndfile writes it on close)."""
    head = path.read_bytes()[:8]
    size = path.stat().st_size
    return len(head) == 8 and size > 44 and int.from_bytes(head[4:8], "little") == size - 8


def _octets_per_second(path: Path) -> int:
    """Octets a second of the 16-bit WAV at ``path``, from its ``fmt `` chunk (8 kHz mono
    until the header is there)."""
    head = path.read_bytes()[:128]
    fmt = head.find(b"fmt ")
    if fmt < 0 or len(head) < fmt + 16:
        return 16000
    channels = int.from_bytes(head[fmt + 10 : fmt + 12], "little")
    rate = int.from_bytes(head[fmt + 12 : fmt + 16], "little")
    return 2 * max(channels, 1) * max(rate, 1)


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
        audio_source: Path | None = None,
        record: bool = False,
        rtp_ports: tuple[int, int] | None = None,
        answermode: Literal["auto", "manual"] | None = None,
        audio_codecs: str | None = None,
        mediaenc: str | None = None,
        trace: bool = False,
    ) -> None:
        """``audio_source``: an 8 kHz mono WAV played as the microphone (longer than the call:
        baresip hangs up when it ends); ``record``: keep what the phone receives (see
        :meth:`recorded_wav`); ``answermode``, ``audio_codecs`` (``pcmu``, ``pcma``) and
        ``mediaenc`` (``srtp-mand``: SDES-SRTP, its module loaded) are added to the account
        line; ``trace`` writes every SIP message (SDP included) to the phone's log."""
        self.folder = folder
        self.sip_port = sip_port
        self.ctrl_port = ctrl_port
        self.recordings = folder / "recordings"
        self.rtp_ports = rtp_ports
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
        ]
        if audio_source is None:
            lines.append("audio_source aufile,/dev/null")
        else:
            lines += [
                "module aufile.so",
                f"audio_source aufile,{audio_source}",
                "ausrc_srate 8000",
                "ausrc_channels 1",
            ]
        if record:
            self.recordings.mkdir(exist_ok=True)
            lines += ["module sndfile.so", f"snd_path {self.recordings}"]
        if rtp_ports is not None:
            lines.append(f"rtp_ports {rtp_ports[0]}-{rtp_ports[1]}")
        if cafile is not None:
            lines.append(f"sip_cafile {cafile}")
        if mediaenc is not None:
            lines.append("module srtp.so")
            account += f";mediaenc={mediaenc}"
        self.trace = trace
        if answermode is not None:
            account += f";answermode={answermode}"
        if audio_codecs is not None:
            account += f";audio_codecs={audio_codecs}"
            lines += [
                f"module {name}.so"
                for name in ("g722", "opus")
                if name in audio_codecs and (MODULES / f"{name}.so").exists()
            ]
        (folder / "config").write_text("\n".join(lines) + "\n")
        (folder / "accounts").write_text(account + "\n")
        self.process: subprocess.Popen[bytes] | None = None
        self.control: socket.socket | None = None
        self._buffer = b""
        self.events: list[Event] = []
        self._taken: set[int] = set()
        self._tokens = itertools.count(1)

    def start(self, timeout: float = 15) -> Baresip:
        assert BARESIP is not None, "baresip is not installed (apt-get install baresip-core)"
        self.process = subprocess.Popen(
            [
                BARESIP,
                "-4",
                *(["-s"] if self.trace else []),
                "-n",
                "127.0.0.1",
                "-f",
                str(self.folder),
            ],
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
        try:
            self.control.sendall(_netstring(payload))
        except OSError as exc:  # baresip went away: say how, with what it printed
            code = self.process.poll() if self.process is not None else None
            raise AssertionError(f"baresip control: {exc}; exit status {code}\n{self.log}") from exc

    def request(self, command: str, params: str = "", timeout: float = 5) -> Event:
        """Send a command and return its response; fail if it is not ``ok``."""
        assert self.control is not None
        token = f"{command}-{next(self._tokens)}"
        payload = json.dumps({"command": command, "params": params, "token": token}).encode()
        self.control.sendall(_netstring(payload))
        response = self._wait(
            lambda e: e.get("response") is True and e.get("token") == token, timeout
        )
        assert response.get("ok") is True, f"{command} {params!r} failed: {response}"
        return response

    def dial(self, uri: str) -> Event:
        """Call ``uri`` (``sip:b@127.0.0.1:5062``)."""
        return self.request("dial", uri)

    def accept(self) -> Event:
        """Answer the ringing incoming call (with ``answermode="manual"``)."""
        return self.request("accept")

    def hangup(self) -> Event:
        """Hang up the current call: BYE once established, CANCEL or 486 before."""
        return self.request("hangup")

    def send_dtmf(self, digits: str) -> Event:
        """Send ``digits`` as RFC 2833 telephone events in the current call."""
        return self.request("sndcode", digits)

    def wait_event(self, type_: str, timeout: float = 10) -> Event:
        """The first event of ``type_`` not yet returned by this method, waiting for it;
        ``event["param"]`` holds the digit of ``CALL_DTMF_START``, the reason of
        ``CALL_CLOSED``, the peer URI of the call events."""
        return self._wait(lambda e: e.get("event") is True and e.get("type") == type_, timeout)

    def close_reason(self, timeout: float = 10) -> str:
        """The reason given by the next ``CALL_CLOSED`` (``486 Busy Here``, ...)."""
        return str(self.wait_event("CALL_CLOSED", timeout).get("param", ""))

    def _wait(self, wanted: Callable[[Event], bool], timeout: float) -> Event:
        deadline = time.monotonic() + timeout
        while True:
            for index, event in enumerate(self.events):
                if index not in self._taken and wanted(event):
                    self._taken.add(index)
                    return event
            exited = self.process is not None and self.process.poll() is not None
            if exited or time.monotonic() >= deadline:
                kinds = [e.get("type", e.get("token")) for e in self.events]
                raise AssertionError(f"no such event within {timeout} s; got {kinds}\n{self.log}")
            self._read()

    def wait_recorded(self, seconds: float, timeout: float = 15) -> None:
        """Wait until the current call's recording holds ``seconds`` of received audio (at
        the rate and channels its header gives: 8 kHz mono for G.711, 16 kHz for G.722,
        48 kHz stereo for Opus)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = sorted(self.recordings.glob("dump-*-dec.wav"))
            if found and found[-1].stat().st_size >= 44 + seconds * _octets_per_second(found[-1]):
                return
            time.sleep(0.05)
        raise AssertionError(f"less than {seconds} s recorded in {self.recordings}\n{self.log}")

    def recorded_wav(self, timeout: float = 10) -> Path:
        """The newest recording of what the phone received (``dump-*-dec.wav``), once
        baresip has finished it (its header is written when the call ends)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = sorted(self.recordings.glob("dump-*-dec.wav"))
            if found and _wav_finished(found[-1]):
                return found[-1]
            time.sleep(0.05)
        raise AssertionError(f"no finished recording in {self.recordings}\n{self.log}")

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
