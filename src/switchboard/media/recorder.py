"""A recording of what a phone sends: RTP packets in, 16-bit PCM at 8 kHz out.

Packets are placed by RTP timestamp, not arrival, so reordering is undone and a lost
packet leaves silence of its length (the recording keeps its true duration). Only the
payload type being recorded is kept: telephone-event and comfort noise packets are not
audio. A packet whose timestamp jumps more than ``max_gap`` seconds ahead starts a new
stretch right after what came before, as a phone that paused sending (hold, VAD) would.

Silence (voicemail.conf ``maxsilence``/``silencethreshold``) is judged as Asterisk's
``ast_dsp_silence`` judges it: a packet is silent when the average absolute value of its
16-bit samples is under the threshold. :meth:`Recorder.trailing_silence` keeps the length
of the silence at the end of the recording (in arrival order, as Asterisk sees frames),
measuring the packets that came since its last call in one table look-up and one
``np.add.reduceat``: nothing is added to :meth:`Recorder.feed`, the per-packet path.

G.711 payloads are kept as they came and decoded once at the end. Other codecs (G.722,
Opus: :mod:`.codecs`) carry decoder state from packet to packet, so each packet is decoded
and resampled to 8 kHz as it arrives (in arrival order) and the PCM is kept instead; the
RTP timestamps are read at the codec's clock (48 kHz for Opus) and placed at 8 kHz.
"""

from __future__ import annotations

import numpy as np

from switchboard.media.codecs import CODECS, PcmDecoder, codec_named
from switchboard.media.errors import MediaError
from switchboard.media.g711 import ALAW_DECODE, ULAW_DECODE, decode_payload
from switchboard.media.rtp import header_size, peek

RATE = 8000
_SILENCE = {"ulaw": 0xFF, "alaw": 0xD5}
"""The code each law decodes to (nearly) zero: what a lost packet leaves."""
_MAGNITUDE = {
    "ulaw": np.abs(ULAW_DECODE.astype(np.int32)),
    "alaw": np.abs(ALAW_DECODE.astype(np.int32)),
}
"""The absolute value each code decodes to, for the silence level."""
DEFAULT_SILENCE_THRESHOLD = 128


class Recorder:
    """Collects one stream's payloads; :meth:`samples` decodes them once, at the end."""

    def __init__(
        self,
        payload_type: int,
        codec: str,
        *,
        max_seconds: float,
        max_gap: float = 1.0,
        silence_threshold: int = DEFAULT_SILENCE_THRESHOLD,
    ):
        """Record PT ``payload_type`` of ``codec`` (Asterisk's name: ``ulaw``, ``g722``, ...)."""
        audio = codec_named(codec)
        if audio is None:
            raise MediaError(f"cannot record {codec!r}: expected one of {', '.join(CODECS)}")
        self.payload_type = payload_type
        self.silence_threshold = silence_threshold
        self.law = audio.law
        self.clock_rate = audio.clock_rate
        self._decoder = None if self.law is not None else PcmDecoder(audio, RATE)
        self.max_samples = int(max_seconds * RATE)
        self.max_gap = int(max_gap * RATE)
        self._chunks: list[tuple[int, bytes | np.ndarray]] = []
        self._first: int | None = None
        self._offset = 0
        self._start = 0
        self._last_end = 0
        self.packets = 0
        self.full = False
        self._scanned = 0
        self._silent = 0

    def feed(self, packet: bytes) -> None:
        """One RTP packet as it arrived (the relay's capture sink)."""
        header = peek(packet)
        if header is None or header[0] != self.payload_type or self.full:
            return
        try:
            payload: bytes | np.ndarray = packet[header_size(packet) :]
            if self._decoder is not None:
                payload = self._decoder.decode(bytes(payload))
        except MediaError:
            return
        timestamp = header[2]
        if self._first is None:
            self._first = timestamp
        delta = ((timestamp - self._first + 0x80000000) & 0xFFFFFFFF) - 0x80000000
        position = delta * RATE // self.clock_rate + self._offset
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

    def trailing_silence(self) -> float:
        """Seconds of continuous silence at the end of what arrived so far: packets whose
        average absolute sample is under ``silence_threshold`` (``ast_dsp_silence``)."""
        chunks = self._chunks
        if self._scanned < len(chunks):
            fresh = [payload for _, payload in chunks[self._scanned :] if len(payload)]
            self._scanned = len(chunks)
            if fresh:
                self._silent = self._count_silence(fresh)
        return self._silent / RATE

    def _count_silence(self, payloads: list[bytes | np.ndarray]) -> int:
        """The trailing silent samples once ``payloads`` (non-empty) follow what was seen."""
        lengths = np.fromiter(map(len, payloads), dtype=np.int64, count=len(payloads))
        starts = np.zeros(len(payloads), dtype=np.int64)
        np.cumsum(lengths[:-1], out=starts[1:])
        if self.law is None:
            magnitudes = np.abs(np.concatenate(payloads).astype(np.int32))
        else:
            codes = np.frombuffer(b"".join(payloads), dtype=np.uint8)  # type: ignore[arg-type]
            magnitudes = _MAGNITUDE[self.law][codes]
        levels = np.add.reduceat(magnitudes, starts)
        # Asterisk: sum / len < threshold in integers, that is sum < threshold * len.
        loud = np.flatnonzero(levels >= self.silence_threshold * lengths)
        if len(loud) == 0:
            return self._silent + int(lengths.sum())
        return int(lengths[loud[-1] + 1 :].sum())

    def samples(self, trim_seconds: float = 0.0) -> np.ndarray:
        """The recording as int16 PCM, ``trim_seconds`` cut from its end; the codes are
        laid out first and decoded in one table look-up, gaps as the law's silence."""
        length = max(0, self._last_end - self._start - int(trim_seconds * RATE))
        if self.law is None:
            pcm = np.zeros(length, dtype=np.int16)
            for position, samples in self._chunks:
                start = position - self._start
                if start < length:
                    chunk = np.asarray(samples)[: length - start]
                    pcm[start : start + len(chunk)] = chunk
            return pcm
        codes = np.full(length, _SILENCE[self.law], dtype=np.uint8)
        for position, payload in self._chunks:
            start = position - self._start
            if start < length:
                chunk = np.frombuffer(payload, dtype=np.uint8)[: length - start]
                codes[start : start + len(chunk)] = chunk
        return decode_payload(codes.tobytes(), self.law)
