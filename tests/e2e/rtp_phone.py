"""The media side of a SIPp phone, in Python: a UDP socket whose port is put in the SDP,
that hears what the PBX sends (decoded, by arrival) and sends tones and RFC 4733 digits
as 20 ms G.711 packets, paced in real time."""

from __future__ import annotations

import random
import socket
import struct
import threading
import time

import numpy as np

from tests.e2e.audio import decode_g711, encode_g711, tone, tone_seconds
from tests.e2e.server import free_port

EVENTS = {**{str(d): d for d in range(10)}, "*": 10, "#": 11}
DTMF_PAIRS = {
    key: (row, column)
    for keys, row in zip(("123A", "456B", "789C", "*0#D"), (697, 770, 852, 941), strict=True)
    for key, column in zip(keys, (1209, 1336, 1477, 1633), strict=True)
}
"""Each key's (row, column) frequencies in Hz (ITU-T Q.23)."""


class RtpPhone:
    """Hears and speaks µ-law (PT 0) with telephone-event on PT 101."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", free_port(pair=True)))
        self.socket.settimeout(0.1)
        self.port = int(self.socket.getsockname()[1])
        self.remote: tuple[str, int] | None = None
        self.heard_payloads: list[bytes] = []
        self._sequence = random.randrange(1 << 16)
        self._timestamp = random.randrange(1 << 32)
        self._ssrc = random.randrange(1 << 32)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._thread.start()

    def sdp(self) -> str:
        """An SDP body (for tests.e2e.calls) offering this socket."""
        return (
            "v=0\no=phone 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\n"
            f"m=audio {self.port} RTP/AVP 0 101\na=rtpmap:0 PCMU/8000\n"
            "a=rtpmap:101 telephone-event/8000\na=fmtp:101 0-16\na=sendrecv\n"
        )

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                data, source = self.socket.recvfrom(2048)
            except (TimeoutError, OSError):
                continue
            if len(data) > 12 and data[1] & 0x7F == 0:
                with self._lock:
                    self.remote = self.remote or source
                    self.heard_payloads.append(data[12:])

    def heard(self) -> np.ndarray:
        """Everything heard so far, decoded, in arrival order."""
        with self._lock:
            payload = b"".join(self.heard_payloads)
        return decode_g711(payload, "ulaw")

    def wait_for_tone(self, freq_hz: float, timeout: float, seconds: float = 0.1) -> bool:
        """Whether ``seconds`` of ``freq_hz`` arrived (a beep) within ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if tone_seconds(self.heard(), freq_hz, 8000) >= seconds:
                return True
            time.sleep(0.05)
        return False

    def wait_for_beep_end(self, freq_hz: float, timeout: float) -> bool:
        """Whether a beep of ``freq_hz`` was heard and then ended within ``timeout``: its
        heard length stopped growing for 150 ms. A caller speaks after the beep, since the
        recording starts when the beep ends; speaking on its tail loses the first words."""
        deadline = time.monotonic() + timeout
        length, grew_at = 0.0, time.monotonic()
        while time.monotonic() < deadline:
            now_length = tone_seconds(self.heard(), freq_hz, 8000)
            if now_length > length:
                length, grew_at = now_length, time.monotonic()
            elif length >= 0.1 and time.monotonic() - grew_at >= 0.15:
                return True
            time.sleep(0.02)
        return False

    def wait_for_speech(self, timeout: float) -> bool:
        """Whether anything audible (a prompt) arrived within ``timeout``; then forgets it,
        so the next wait looks at new audio only."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            heard = self.heard().astype(float)
            if len(heard) >= 1600 and float(np.sqrt((heard**2).mean())) > 300:
                with self._lock:
                    self.heard_payloads.clear()
                return True
            time.sleep(0.1)
        return False

    def _send(
        self, payload_type: int, payload: bytes, *, marker: bool = False, step: int = 160
    ) -> None:
        assert self.remote is not None, "nothing heard yet: where to send is unknown"
        header = struct.pack(
            "!BBHII",
            0x80,
            payload_type | (0x80 if marker else 0),
            self._sequence & 0xFFFF,
            self._timestamp & 0xFFFFFFFF,
            self._ssrc,
        )
        self.socket.sendto(header + payload, self.remote)
        self._sequence += 1
        self._timestamp += step

    def say(self, freq_hz: float, seconds: float) -> None:
        """Send ``seconds`` of a tone, one 20 ms packet every 20 ms."""
        self.speak(tone(freq_hz, seconds))

    def silence(self, seconds: float) -> None:
        """Send ``seconds`` of digital silence, one 20 ms packet every 20 ms."""
        self.speak(np.zeros(int(seconds * 8000), dtype=np.int16))

    def press_tones(self, key: str, level: float = 8000.0) -> None:
        """An in-band digit: its DTMF row and column tones for 100 ms, then 100 ms of
        silence, in the audio (no telephone-event)."""
        row, column = DTMF_PAIRS[key]
        t = np.arange(800) / 8000
        pair = level * (np.sin(2 * np.pi * row * t) + np.sin(2 * np.pi * column * t))
        self.speak(np.concatenate((pair.astype(np.int16), np.zeros(800, dtype=np.int16))))

    def speak(self, samples: np.ndarray) -> None:
        """Send 8 kHz PCM as µ-law, one 20 ms packet every 20 ms."""
        audio = encode_g711(samples, "ulaw")
        start = time.monotonic()
        for index in range(len(audio) // 160):
            self._send(0, audio[index * 160 : (index + 1) * 160])
            delay = start + (index + 1) * 0.02 - time.monotonic()
            if delay > 0:
                time.sleep(delay)

    def press(self, key: str) -> None:
        """An RFC 4733 digit: 100 ms of updates, then the end packet three times."""
        event = EVENTS[key]
        for index in range(5):
            duration = (index + 1) * 160
            self._send(101, struct.pack("!BBH", event, 10, duration), marker=index == 0, step=0)
            time.sleep(0.02)
        for _ in range(3):
            self._send(101, struct.pack("!BBH", event, 0x80 | 10, 800), step=0)
        self._timestamp += 800

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1)
        self.socket.close()
