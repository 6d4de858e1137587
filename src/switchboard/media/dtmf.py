"""DTMF: RFC 4733 telephone-event payloads, a receiver that turns event packets into digits,
a sender that makes the packet sequence for a digit, and an in-band tone detector.

Receiver rules (RFC 4733 §2.5.2): an event is identified by its RTP timestamp (the event
start); updates repeat it with a growing duration; the end bit is sent three times. The
receiver reports :class:`DtmfStarted` on the first packet of an event it sees (whichever
that is, so a lost start packet does not lose the digit) and :class:`DtmfEnded` once:
on the first end packet, when a newer event starts while this one has not ended (the end
packets were lost), or at :meth:`DtmfReceiver.handle_timer` when no packet came for
``timeout`` seconds. Packets of older events (late or reordered) are ignored. A payload
that packs several events (§2.5.1.5) is read block by block, each event starting where the
previous one's duration ends. RFC 2198 redundant (RED) payloads are unwrapped with
:func:`~switchboard.media.rtp.parse_red` and each block fed oldest first, its timestamp
being the packet's minus the block's offset.

In-band detector (:class:`DtmfToneDetector`), for phones that send tones in the audio: per
205-sample block at 8 kHz, the Goertzel power at the eight DTMF frequencies (computed for
all blocks at once as one matrix product with the Goertzel kernel, the same values as the
recurrence). The strongest row and column tone must together hold ``threshold`` of the
block's energy, each reach ``min_amplitude``, beat the other tones of their group by 8 dB,
and keep the twist within 8 dB (column weaker) / 4 dB (column stronger). A digit starts
after two consecutive blocks agree and ends after two blocks without it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from switchboard.media.errors import DtmfError
from switchboard.media.rtp import RtpPacket, timestamp_delta

EVENTS = "0123456789*#ABCD"
"""Event codes 0-15 of RFC 4733 §3.2, in order."""
FLASH = 16
_PAYLOAD = struct.Struct("!BBH")


@dataclass(frozen=True, slots=True)
class TelephoneEvent:
    """One RFC 4733 §2.3 payload: event code, end bit, volume (-dBm0) and duration."""

    event: int
    end: bool
    volume: int
    duration: int

    @classmethod
    def parse(cls, payload: bytes) -> TelephoneEvent:
        """Parse the first 4 octets."""
        if len(payload) < 4:
            raise DtmfError(f"telephone-event payload of {len(payload)} octets: expected 4")
        event, flags, duration = _PAYLOAD.unpack_from(payload)
        return cls(event, bool(flags & 0x80), flags & 0x3F, duration)

    @classmethod
    def parse_all(cls, payload: bytes) -> list[TelephoneEvent]:
        """Parse every 4-octet block: RFC 4733 §2.5.1.5 packs consecutive events in one."""
        if len(payload) < 4:
            raise DtmfError(f"telephone-event payload of {len(payload)} octets: expected 4")
        return [cls.parse(payload[offset : offset + 4]) for offset in range(0, len(payload) - 3, 4)]

    def serialize(self) -> bytes:
        """Build the 4 octets."""
        if not 0 <= self.event <= 255 or not 0 <= self.volume <= 63:
            raise DtmfError(f"event {self.event} volume {self.volume}: out of range")
        if not 0 <= self.duration <= 0xFFFF:
            raise DtmfError(f"event duration {self.duration}: expected 0 to 65535")
        return _PAYLOAD.pack(self.event, (0x80 if self.end else 0) | self.volume, self.duration)

    @property
    def digit(self) -> str:
        """The DTMF character, or ``"flash"`` / ``"event-N"`` for other events."""
        if self.event < len(EVENTS):
            return EVENTS[self.event]
        return "flash" if self.event == FLASH else f"event-{self.event}"


@dataclass(frozen=True, slots=True)
class DtmfStarted:
    """A digit began at RTP ``timestamp`` (or sample offset, for in-band detection)."""

    digit: str
    timestamp: int


@dataclass(frozen=True, slots=True)
class DtmfEnded:
    """A digit ended; ``duration`` in timestamp units and ``duration_ms``."""

    digit: str
    timestamp: int
    duration: int
    duration_ms: float


DtmfEvent = DtmfStarted | DtmfEnded


class DtmfReceiver:
    """RFC 4733 receiver state for one stream; feed it packets of the telephone-event PT."""

    __slots__ = ("_current", "_duration", "_ended", "_last_seen", "clock_rate", "timeout")

    def __init__(self, clock_rate: int = 8000, timeout: float = 3000 / 8000) -> None:
        """``timeout`` s without packets ends a digit; rtp.conf dtmftimeout is in samples."""
        self.clock_rate = clock_rate
        self.timeout = timeout
        self._current: tuple[int, int] | None = None  # (timestamp, event)
        self._duration = 0
        self._ended = True
        self._last_seen = 0.0

    def receive(self, payload: bytes, timestamp: int, now: float) -> list[DtmfEvent]:
        """Account one packet; return the events it completes. Raises :class:`DtmfError`."""
        out: list[DtmfEvent] = []
        for event in TelephoneEvent.parse_all(payload):
            out += self._receive_event(event, timestamp, now)
            timestamp = (timestamp + event.duration) & 0xFFFFFFFF
        return out

    def _receive_event(self, event: TelephoneEvent, timestamp: int, now: float) -> list[DtmfEvent]:
        out: list[DtmfEvent] = []
        current = self._current
        if current is not None and current[0] == timestamp and current[1] == event.event:
            if self._ended:
                return out
        else:
            if current is not None and timestamp_delta(timestamp, current[0]) < 0:
                return out  # a late packet of an older event
            if current is not None and timestamp == current[0] and self._ended:
                return out  # a different code on a finished timestamp: ignore
            if not self._ended:
                out.append(self._end())
            self._current = (timestamp, event.event)
            self._duration = 0
            self._ended = False
            out.append(DtmfStarted(event.digit, timestamp))
        self._last_seen = now
        self._duration = max(self._duration, event.duration)
        if event.end:
            out.append(self._end())
        return out

    def get_timer(self) -> float | None:
        """When :meth:`handle_timer` must run, or None while no digit is in progress."""
        return None if self._ended else self._last_seen + self.timeout

    def handle_timer(self, now: float) -> list[DtmfEvent]:
        """End a digit whose packets stopped coming without an end bit."""
        if self._ended or now < self._last_seen + self.timeout:
            return []
        return [self._end()]

    def _end(self) -> DtmfEnded:
        assert self._current is not None
        self._ended = True
        timestamp, event = self._current
        digit = TelephoneEvent(event, True, 0, 0).digit
        duration_ms = 1000.0 * self._duration / self.clock_rate
        return DtmfEnded(digit, timestamp, self._duration, duration_ms)


def event_code(digit: str) -> int:
    """RFC 4733 event code of a DTMF character (``0-9 * # A-D``, case-insensitive)."""
    code = EVENTS.find(digit.upper()) if len(digit) == 1 else -1
    if code < 0:
        raise DtmfError(f"DTMF digit {digit!r}: expected one of {EVENTS}")
    return code


def generate_dtmf(
    digit: str,
    *,
    payload_type: int,
    ssrc: int,
    sequence_number: int,
    timestamp: int,
    duration_ms: int = 100,
    packet_ms: int = 20,
    volume: int = 10,
    clock_rate: int = 8000,
    end_repeats: int = 3,
) -> list[RtpPacket]:
    """The RTP packets that send one digit: marker on the first, updates, then end x3."""
    code = event_code(digit)
    step = clock_rate * packet_ms // 1000
    total = clock_rate * duration_ms // 1000
    if step <= 0 or total <= 0 or total > 0xFFFF:
        raise DtmfError(f"DTMF duration {duration_ms} ms in {packet_ms} ms packets")
    durations = list(range(step, total, step)) + [total] * end_repeats
    packets = []
    for index, duration in enumerate(durations):
        end = index >= len(durations) - end_repeats
        payload = TelephoneEvent(code, end, volume, duration).serialize()
        packets.append(
            RtpPacket(
                payload_type=payload_type,
                sequence_number=(sequence_number + index) & 0xFFFF,
                timestamp=timestamp,
                ssrc=ssrc,
                payload=payload,
                marker=index == 0,
            )
        )
    return packets


# --- in-band detection ---------------------------------------------------------------------

ROW_FREQUENCIES = (697.0, 770.0, 852.0, 941.0)
COLUMN_FREQUENCIES = (1209.0, 1336.0, 1477.0, 1633.0)
KEYPAD = ("123A", "456B", "789C", "*0#D")
BLOCK_SIZE = 205
"""Goertzel block at 8 kHz (25.6 ms): bins fall close to all eight DTMF frequencies."""


class DtmfToneDetector:
    """In-band DTMF detector over 8 kHz int16 PCM (rules in the module docstring)."""

    __slots__ = (
        "_buffer",
        "_candidate",
        "_digit",
        "_misses",
        "_offset",
        "_start",
        "min_amplitude",
        "threshold",
    )

    def __init__(self, threshold: float = 0.5, min_amplitude: float = 300.0) -> None:
        """``threshold``: energy share of the two tones; ``min_amplitude``: of each tone."""
        self.threshold = threshold
        self.min_amplitude = min_amplitude
        self._buffer = np.zeros(0, dtype=np.float64)
        self._offset = 0
        self._candidate = ""
        self._digit = ""
        self._start = 0
        self._misses = 0

    def feed(self, pcm: npt.NDArray[np.int16]) -> list[DtmfEvent]:
        """Append samples; return digits started or ended in the complete blocks."""
        buffer = np.concatenate((self._buffer, pcm.astype(np.float64)))
        blocks = len(buffer) // BLOCK_SIZE
        self._buffer = buffer[blocks * BLOCK_SIZE :]
        out: list[DtmfEvent] = []
        if not blocks:
            return out
        frames = buffer[: blocks * BLOCK_SIZE].reshape(blocks, BLOCK_SIZE)
        for digit in _classify(frames, self.threshold, self.min_amplitude):
            out.extend(self._step(digit))
            self._offset += BLOCK_SIZE
        return out

    def _step(self, digit: str) -> list[DtmfEvent]:
        out: list[DtmfEvent] = []
        if self._digit:
            if digit == self._digit:
                self._misses = 0
                return out
            self._misses += 1
            if self._misses < 2:
                return out
            end = self._offset - BLOCK_SIZE
            duration = end - self._start
            out.append(DtmfEnded(self._digit, self._start, duration, duration / 8.0))
            self._digit = ""
        if digit and digit == self._candidate:
            self._digit = digit
            self._start = self._offset - BLOCK_SIZE
            self._misses = 0
            out.append(DtmfStarted(digit, self._start))
            self._candidate = ""
        else:
            self._candidate = digit
        return out


def _goertzel_kernel() -> npt.NDArray[np.complex128]:
    frequencies = np.array(ROW_FREQUENCIES + COLUMN_FREQUENCIES)
    bins = np.round(frequencies * BLOCK_SIZE / 8000.0)
    n = np.arange(BLOCK_SIZE)
    kernel: npt.NDArray[np.complex128] = np.exp(-2j * np.pi * np.outer(n, bins) / BLOCK_SIZE)
    return kernel


_KERNEL = _goertzel_kernel()


def _classify(frames: npt.NDArray[np.float64], threshold: float, min_amplitude: float) -> list[str]:
    """Digit (or "") per block; the Goertzel powers come from one matrix product."""
    power = np.abs(frames @ _KERNEL) ** 2 * (2.0 / BLOCK_SIZE)
    energy = np.sum(frames * frames, axis=1) + 1e-9
    rows = power[:, :4]
    columns = power[:, 4:]
    row = np.argmax(rows, axis=1)
    column = np.argmax(columns, axis=1)
    index = np.arange(len(frames))
    row_power = rows[index, row]
    column_power = columns[index, column]
    rows_sorted = np.sort(rows, axis=1)
    columns_sorted = np.sort(columns, axis=1)
    ok = (row_power + column_power) >= threshold * energy
    # A tone of amplitude A holds A**2 * N / 2 of the block's energy.
    ok &= np.minimum(row_power, column_power) >= min_amplitude**2 * BLOCK_SIZE / 2
    ok &= column_power <= row_power * 10 ** (4 / 10)  # reverse twist (column stronger)
    ok &= column_power >= row_power * 10 ** (-8 / 10)  # normal twist (column weaker)
    ok &= rows_sorted[:, -2] * 10 ** (8 / 10) <= row_power
    ok &= columns_sorted[:, -2] * 10 ** (8 / 10) <= column_power
    return [KEYPAD[r][c] if good else "" for r, c, good in zip(row, column, ok, strict=True)]
