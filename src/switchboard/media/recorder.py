"""A recording of what a phone sends: G.711 RTP packets in, 16-bit PCM at 8 kHz out.

Packets are placed by RTP timestamp, not arrival, so reordering is undone and a lost
packet leaves silence of its length (the recording keeps its true duration). Only the
payload type being recorded is kept: telephone-event and comfort noise packets are not
audio. A packet whose timestamp jumps more than ``max_gap`` seconds ahead starts a new
stretch right after what came before, as a phone that paused sending (hold, VAD) would.
"""

from __future__ import annotations

import numpy as np

from switchboard.media.errors import MediaError
from switchboard.media.g711 import Law, decode_payload
from switchboard.media.rtp import header_size, peek

RATE = 8000
_SILENCE = {"ulaw": 0xFF, "alaw": 0xD5}
"""The code each law decodes to (nearly) zero: what a lost packet leaves."""


class Recorder:
    """Collects one stream's payloads; :meth:`samples` decodes them once, at the end."""

    def __init__(self, payload_type: int, law: Law, *, max_seconds: float, max_gap: float = 1.0):
        self.payload_type = payload_type
        self.law = law
        self.max_samples = int(max_seconds * RATE)
        self.max_gap = int(max_gap * RATE)
        self._chunks: list[tuple[int, bytes]] = []
        self._first: int | None = None
        self._offset = 0
        self._start = 0
        self._last_end = 0
        self.packets = 0
        self.full = False

    def feed(self, packet: bytes) -> None:
        """One RTP packet as it arrived (the relay's capture sink)."""
        header = peek(packet)
        if header is None or header[0] != self.payload_type or self.full:
            return
        try:
            payload = packet[header_size(packet) :]
        except MediaError:
            return
        timestamp = header[2]
        if self._first is None:
            self._first = timestamp
        delta = ((timestamp - self._first + 0x80000000) & 0xFFFFFFFF) - 0x80000000
        position = delta + self._offset
        if position > self._last_end + self.max_gap:
            self._offset += self._last_end - position
            position = self._last_end
        elif position < self._start - self.max_gap:
            return
        end = position + len(payload)
        if max(end, self._last_end) - min(position, self._start) > self.max_samples:
            self.full = True
            return
        self._chunks.append((position, payload))
        self._start = min(self._start, position)
        self._last_end = max(self._last_end, end)
        self.packets += 1

    @property
    def seconds(self) -> float:
        """How long the recording is so far."""
        return (self._last_end - self._start) / RATE

    def samples(self, trim_seconds: float = 0.0) -> np.ndarray:
        """The recording as int16 PCM, ``trim_seconds`` cut from its end; the codes are
        laid out first and decoded in one table look-up, gaps as the law's silence."""
        length = max(0, self._last_end - self._start - int(trim_seconds * RATE))
        codes = np.full(length, _SILENCE[self.law], dtype=np.uint8)
        for position, payload in self._chunks:
            start = position - self._start
            if start < length:
                chunk = np.frombuffer(payload, dtype=np.uint8)[: length - start]
                codes[start : start + len(chunk)] = chunk
        return decode_payload(codes.tobytes(), self.law)
