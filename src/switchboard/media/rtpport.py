"""The codec edge between the PCM graph of :mod:`.ports` and a phone's RTP stream.

:class:`RtpSender` is a sink: 8 kHz frames in, packets of the leg's codec out (G.711 by
table at the phone's ``ptime``; G.722 and Opus through a :class:`~.codecs.PcmEncoder`, one
20 ms frame per packet). It keeps one RTP stream across runs of frames: a run that starts
on the tick after the previous one ended continues it; a run after a pause jumps the
timestamp by the pause and sets the marker bit (RFC 3550 §5.1).

:class:`RtpReceiver` is the other way: it takes a leg's packets (its capture callable),
puts them in timestamp order with a :class:`~.jitter.JitterBuffer` (counted in packets,
so it needs no clock), decodes each to 8 kHz PCM and writes it to its sinks. A packet
that never came, or that does not decode, is written as silence of its length, so what
the sinks get keeps the stream's true duration; a jump of more than a second (hold, a
phone that stopped sending) starts over without filling the pause.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from functools import partial

import numpy as np

from switchboard.media.codecs import AudioCodec, PcmDecoder, PcmEncoder
from switchboard.media.errors import MediaError
from switchboard.media.g711 import decode_payload, encode_payload
from switchboard.media.jitter import JitterBuffer
from switchboard.media.ports import FRAME_SAMPLES, RATE, Frame, Sink
from switchboard.media.rtp import header_size, peek

PTIME = 0.020
SILENCE_CODE = {"ulaw": 0xFF, "alaw": 0xD5}
"""The G.711 code of a zero sample in each law."""
_HEADER = struct.Struct("!BBHII")
_MASK32 = 0xFFFFFFFF
_OPUS_FRAME_TICKS = (480, 960, 1920, 2880)
"""48 kHz ticks per frame of the SILK and hybrid configurations' four sizes (10-60 ms)."""


class RtpSender:
    """Encodes frames into one RTP stream and hands each packet to ``send``."""

    __slots__ = (
        "_encoder",
        "_marker",
        "_pending",
        "_silence",
        "_tick",
        "codec",
        "law",
        "packets",
        "payload_type",
        "ptime",
        "samples_per_packet",
        "send",
        "sequence",
        "ssrc",
        "ticks_per_packet",
        "timestamp",
    )

    def __init__(
        self,
        send: Callable[[bytes], None],
        *,
        payload_type: int,
        codec: AudioCodec,
        ssrc: int,
        sequence: int,
        timestamp: int,
        ptime: float = PTIME,
    ) -> None:
        """Send ``codec`` as ``payload_type``; ``ptime`` (seconds) applies to G.711, other
        codecs go in 20 ms packets. The stream's first SSRC, sequence number and timestamp
        are the caller's (drawn at random, RFC 3550 §5.1)."""
        self.send = send
        self.payload_type = payload_type
        self.codec = codec
        self.law = codec.law
        self.ptime = ptime if self.law is not None else PTIME
        self.samples_per_packet = round(RATE * self.ptime)
        self.ticks_per_packet = round(codec.clock_rate * self.ptime)
        """RTP timestamp units in one packet."""
        self.ssrc = ssrc & _MASK32
        self.sequence = sequence & 0xFFFF
        """The sequence number of the next packet."""
        self.timestamp = timestamp & _MASK32
        """The RTP timestamp of the next packet."""
        self.packets = 0
        self._encoder = None if self.law is not None else PcmEncoder(codec, RATE)
        self._pending = b""
        self._silence = bytes((SILENCE_CODE[self.law],)) if self.law is not None else b""
        self._marker = True
        self._tick: int | None = None

    @property
    def last_tick(self) -> int | None:
        """The clock tick of the last frame written (None before the first run)."""
        return self._tick

    def begin(self, tick: int) -> None:
        """A run of frames starts at clock ``tick``: after a pause since the last run the
        timestamp jumps by the pause and the next packet carries the marker."""
        last = self._tick
        if last is not None and tick != last + 1:
            gap = max(0, tick - last - 1)
            self.timestamp = (self.timestamp + gap * self.codec.frame_ticks) & _MASK32
            self._marker = True
        self._tick = tick - 1

    def write(self, frame: Frame) -> None:
        """Encode one frame; send every packet it completes."""
        if self._tick is not None:
            self._tick += 1
        if self.law is not None:
            pending = self._pending + encode_payload(frame, self.law)
            size = self.samples_per_packet
            while len(pending) >= size:
                self._emit(pending[:size])
                pending = pending[size:]
            self._pending = pending
            return
        assert self._encoder is not None
        for payload in self._encoder.encode(frame):
            self._emit(payload)

    def finish(self) -> None:
        """The run ended: send what is held back (padded with silence); the next run starts
        with a fresh encoder, as a new sound."""
        if self.law is not None:
            if self._pending:
                fill = self.samples_per_packet - len(self._pending)
                self._emit(self._pending + self._silence * fill)
                self._pending = b""
            return
        assert self._encoder is not None
        payloads = self._encoder.finish()
        self._encoder = PcmEncoder(self.codec, RATE)  # a finished resampler takes no more
        for payload in payloads:
            self._emit(payload)

    def discard(self) -> None:
        """The run was cut short: drop what is held back, and the encoder's state with it."""
        self._pending = b""
        if self._encoder is not None:
            self._encoder = PcmEncoder(self.codec, RATE)

    def _emit(self, payload: bytes) -> None:
        second = (0x80 if self._marker else 0) | self.payload_type
        self._marker = False
        header = _HEADER.pack(0x80, second, self.sequence, self.timestamp, self.ssrc)
        self.sequence = (self.sequence + 1) & 0xFFFF
        step = self.ticks_per_packet if self.law is not None else self.codec.frame_ticks
        self.timestamp = (self.timestamp + step) & _MASK32
        self.packets += 1
        self.send(header + payload)


def packet_ticks(codec: AudioCodec, payload: bytes) -> int:
    """RTP timestamp units one payload of ``codec`` spans (0 when it cannot be told)."""
    if codec.law is not None or codec.name == "g722":
        return len(payload)  # one octet per 8 kHz tick (G.722: two 16 kHz samples)
    if codec.name == "opus" and payload:
        return _opus_ticks(payload)
    return codec.frame_ticks


def _opus_ticks(payload: bytes) -> int:
    """The 48 kHz duration of an Opus packet from its TOC byte (RFC 6716 §3.1)."""
    toc = payload[0]
    config = toc >> 3
    if config < 12:
        frame = _OPUS_FRAME_TICKS[config & 3]
    elif config < 16:
        frame = 480 if config & 1 == 0 else 960
    else:
        frame = (120, 240, 480, 960)[config & 3]
    code = toc & 3
    if code == 0:
        count = 1
    elif code in (1, 2):
        count = 2
    else:
        count = payload[1] & 0x3F if len(payload) > 1 else 0
    return frame * count


class RtpReceiver:
    """One stream's packets of PT ``payload_type`` in, its audio as 8 kHz PCM to sinks."""

    __slots__ = (
        "_decode",
        "_jitter",
        "_silence",
        "codec",
        "concealed",
        "packets",
        "payload_type",
        "sinks",
    )

    def __init__(
        self,
        payload_type: int,
        codec: AudioCodec,
        sinks: Iterable[Sink] = (),
        *,
        depth: int = 2,
        max_gap: int = 50,
    ) -> None:
        """Order up to ``depth`` packets; a jump of over ``max_gap`` packets starts over."""
        self.payload_type = payload_type
        self.codec = codec
        self.sinks = list(sinks)
        self.packets = 0
        """Packets of the stream taken."""
        self.concealed = 0
        """Packets written as silence: lost, late or undecodable."""
        law = codec.law
        self._decode: Callable[[bytes], Frame] = (
            PcmDecoder(codec, RATE).decode if law is None else partial(decode_payload, law=law)
        )
        self._jitter = JitterBuffer(frame_samples=codec.frame_ticks, depth=depth, max_gap=max_gap)
        self._silence: Frame = np.zeros(FRAME_SAMPLES, dtype=np.int16)

    def put(self, packet: bytes) -> None:
        """One packet as it arrived (other payload types are not this stream's audio)."""
        header = peek(packet)
        if header is None or header[0] != self.payload_type:
            return
        try:
            start = header_size(packet)
        except MediaError:
            return
        end = len(packet) - (packet[-1] if packet[0] & 0x20 else 0)  # RTP padding
        if end < start:
            return
        payload = packet[start:end]
        jitter = self._jitter
        if jitter.frame_samples != (span := packet_ticks(self.codec, payload)) and span > 0:
            self._release(jitter.flush())
            self._resize(span)
            jitter = self._jitter
        self.packets += 1
        self._release(jitter.put(header[2], payload))

    def flush(self) -> None:
        """Write out the packets still held for ordering (the stream ends)."""
        self._release(self._jitter.flush())

    def _resize(self, span: int) -> None:
        """Packets span ``span`` ticks: the ordering grid and the silence follow them."""
        old = self._jitter
        self._jitter = JitterBuffer(frame_samples=span, depth=old.depth, max_gap=old.max_gap)
        self._silence = np.zeros(span * RATE // self.codec.clock_rate, dtype=np.int16)

    def _release(self, payloads: list[bytes | None]) -> None:
        for payload in payloads:
            pcm = self._silence
            if payload is None:
                self.concealed += 1
            else:
                try:
                    pcm = self._decode(payload)
                except MediaError:
                    self.concealed += 1
            for sink in self.sinks:
                sink.write(pcm)
