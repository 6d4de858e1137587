"""The audio codecs media can speak, by Asterisk name and payload type: each turns its RTP
payload into 16-bit linear PCM at the codec's own sample rate and back, 20 ms at a time.

- ``ulaw`` (PT 0) and ``alaw`` (PT 8): G.711 through the numpy tables of :mod:`.g711`
  (stateless; any number of samples).
- ``g722`` (PT 9): 16 kHz PCM, 64 kbit/s, RTP clock 8000 (RFC 3551 §4.5.2);
- ``opus`` (dynamic PT, ``opus/48000/2``): 48 kHz PCM, mono here (a stereo stream is
  mixed down by the decoder), RTP clock 48000 (RFC 7587).

G.722 and Opus come from FFmpeg (``g722`` and ``libopus``) through PyAV, which bundles its
own FFmpeg build: no DSP is written here, and the encoders and decoders keep their state
(ADPCM predictors, Opus's range coder) between the frames of one stream, so each stream
direction gets its own :meth:`AudioCodec.encoder` / :meth:`AudioCodec.decoder`.

Rates are changed by :class:`Resampler` (FFmpeg's libswresample through PyAV, also
stateful: its filter history carries across frames, so there is no click at every frame
edge). Nothing here does I/O; a library error becomes a :class:`CodecError`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import av
import numpy as np
import numpy.typing as npt

from switchboard.media.errors import MediaError
from switchboard.media.g711 import Law, decode_payload, encode_payload

Samples = npt.NDArray[np.int16]

FRAMES_PER_SECOND = 50
"""20 ms frames: what a phone sends and what every encoder here is fed."""

_EMPTY: Samples = np.zeros(0, dtype=np.int16)


class CodecError(MediaError):
    """A payload a decoder refused, or an encoder that failed: what and why."""


class Encoder(Protocol):
    """Turns one 20 ms frame of PCM, at the rate it was made for, into one RTP payload."""

    def encode(self, samples: Samples) -> bytes:
        """The payload of ``samples`` (one 20 ms frame)."""


class Decoder(Protocol):
    """Turns one RTP payload into PCM at the codec's rate."""

    def decode(self, payload: bytes) -> Samples:
        """The samples ``payload`` carries (empty for a payload with no audio)."""


@dataclass(frozen=True, slots=True)
class AudioCodec:
    """One codec: its names, its rates, and how to make a coder for one stream."""

    name: str
    """Asterisk's name (``allow=``), as :mod:`switchboard.sdp.codecs` has it."""
    sample_rate: int
    """The rate of the PCM it encodes and decodes."""
    clock_rate: int
    """The RTP timestamp rate (8000 for G.722 although it carries 16 kHz audio)."""
    static_payload_type: int | None
    make_encoder: Callable[[int], Encoder]
    """An encoder taking PCM at the given rate (one of :attr:`input_rates`)."""
    make_decoder: Callable[[], Decoder]
    sample_based: bool
    """Whether two payloads put end to end are one longer payload (G.711, G.722: yes;
    Opus: no, one packet is one frame)."""
    input_rates: tuple[int, ...] = ()
    """Other rates the encoder takes PCM at without a resampler in front (libopus: 8, 12,
    16 and 24 kHz besides 48)."""

    @property
    def frame_samples(self) -> int:
        """PCM samples in 20 ms."""
        return self.sample_rate // FRAMES_PER_SECOND

    @property
    def frame_ticks(self) -> int:
        """RTP timestamp units in 20 ms."""
        return self.clock_rate // FRAMES_PER_SECOND

    @property
    def law(self) -> Law | None:
        """The G.711 law, for the table-driven shortcuts; None for other codecs."""
        if self.name == "ulaw":
            return "ulaw"
        if self.name == "alaw":
            return "alaw"
        return None

    def input_rate(self, rate: int) -> int:
        """The rate to feed the encoder PCM that is at ``rate``: ``rate`` itself when the
        encoder takes it, else :attr:`sample_rate` (resample first)."""
        return rate if rate in self.input_rates else self.sample_rate

    def encoder(self, rate: int | None = None) -> Encoder:
        """A fresh encoder for one outgoing stream, fed PCM at ``rate`` (one of
        :attr:`input_rates`; default :attr:`sample_rate`)."""
        return self.make_encoder(self.sample_rate if rate is None else self.input_rate(rate))

    def decoder(self) -> Decoder:
        """A fresh decoder for one incoming stream."""
        return self.make_decoder()


class _G711:
    """G.711 both ways: stateless table look-ups."""

    __slots__ = ("law",)

    def __init__(self, law: Law) -> None:
        """Code ``law``."""
        self.law: Law = law

    def encode(self, samples: Samples) -> bytes:
        """Look each sample up in the encode table."""
        return encode_payload(samples, self.law)

    def decode(self, payload: bytes) -> Samples:
        """Look each code up in the decode table."""
        return decode_payload(payload, self.law)


def _pcm(frame: Any) -> Samples:
    """A decoded PyAV frame as mono int16 samples, whatever its sample format and channels
    (planar frames are one row per channel, packed ones interleave them in one row)."""
    data: npt.NDArray[Any] = frame.to_ndarray()
    channels = frame.layout.nb_channels
    if channels > 1:
        rows = data if frame.format.is_planar else data.reshape(-1, channels).T
        data = rows.astype(np.float64).mean(axis=0, keepdims=True)
        if frame.format.name.startswith("s16"):
            mixed: npt.NDArray[np.float64] = np.round(data.reshape(-1))
            return np.clip(mixed, -32768, 32767).astype(np.int16)
    if data.dtype == np.int16:
        return np.ascontiguousarray(data.reshape(-1), dtype=np.int16)
    if data.dtype.kind == "f":
        data = np.asarray(data, dtype=np.float64) * 32768.0
    return np.clip(np.round(data.reshape(-1)), -32768, 32767).astype(np.int16)


class _AvEncoder:
    """An FFmpeg encoder (PyAV) fed 20 ms mono int16 frames."""

    __slots__ = ("_context", "_pts", "_rate")

    def __init__(
        self,
        codec: str,
        rate: int,
        options: dict[str, str] | None = None,
        bit_rate: int | None = None,
    ) -> None:
        """Open FFmpeg's ``codec`` at ``rate`` Hz, mono, 16-bit."""
        context: Any = av.CodecContext.create(codec, "w")
        context.sample_rate = rate
        context.layout = "mono"
        context.format = "s16"
        if bit_rate is not None:
            context.bit_rate = bit_rate
        if options:
            context.options = options
        context.open()
        self._context = context
        self._rate = rate
        self._pts = 0

    def encode(self, samples: Samples) -> bytes:
        """The packet FFmpeg makes of ``samples``."""
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples, dtype=np.int16).reshape(1, -1),
            format="s16",
            layout="mono",
        )
        frame.sample_rate = self._rate
        frame.pts = self._pts
        self._pts += len(samples)
        try:
            packets = self._context.encode(frame)
        except av.FFmpegError as error:
            raise CodecError(f"{self._context.name} encoder: {error}") from None
        return b"".join(bytes(packet) for packet in packets)


class _AvDecoder:
    """An FFmpeg decoder (PyAV) giving mono int16 samples."""

    __slots__ = ("_context",)

    def __init__(self, codec: str, rate: int) -> None:
        """Open FFmpeg's ``codec`` at ``rate`` Hz, mono, 16-bit."""
        context: Any = av.CodecContext.create(codec, "r")
        context.sample_rate = rate
        context.layout = "mono"
        context.format = "s16"
        context.open()
        self._context = context

    def decode(self, payload: bytes) -> Samples:
        """Decode one payload; an empty one decodes to nothing."""
        if not payload:
            return _EMPTY
        try:
            frames = self._context.decode(av.Packet(payload))
        except av.FFmpegError as error:
            raise CodecError(f"{self._context.name} decoder: {error}") from None
        if len(frames) == 1:
            return _pcm(frames[0])
        return np.concatenate([_pcm(frame) for frame in frames]) if frames else _EMPTY


OPUS_OPTIONS = {"application": "voip", "vbr": "constrained"}
"""libopus tuned for speech (its default is general audio), its variable bit rate held
near :data:`OPUS_BIT_RATE` (unconstrained, a harmonic-rich voice went 1.7 times over)."""
OPUS_BIT_RATE = 32000
"""Opus's bit rate: fullband speech at about half of G.711's 64 kbit/s (FFmpeg's default,
near 120 kbit/s for 48 kHz mono, is for music)."""


def _codecs() -> dict[str, AudioCodec]:
    """The registry's rows, one per codec."""
    return {
        codec.name: codec
        for codec in (
            AudioCodec("ulaw", 8000, 8000, 0, lambda _: _G711("ulaw"), lambda: _G711("ulaw"), True),
            AudioCodec("alaw", 8000, 8000, 8, lambda _: _G711("alaw"), lambda: _G711("alaw"), True),
            AudioCodec(
                "g722",
                16000,
                8000,
                9,
                lambda _: _AvEncoder("g722", 16000),
                lambda: _AvDecoder("g722", 16000),
                True,
            ),
            AudioCodec(
                "opus",
                48000,
                48000,
                None,
                lambda rate: _AvEncoder("libopus", rate, OPUS_OPTIONS, OPUS_BIT_RATE),
                lambda: _AvDecoder("libopus", 48000),
                False,
                (8000, 12000, 16000, 24000),
            ),
        )
    }


CODECS: dict[str, AudioCodec] = _codecs()
"""Every codec media can encode and decode, by Asterisk name."""

BY_STATIC_PAYLOAD_TYPE: dict[int, AudioCodec] = {
    codec.static_payload_type: codec
    for codec in CODECS.values()
    if codec.static_payload_type is not None
}


def codec_named(name: str | None) -> AudioCodec | None:
    """The codec Asterisk calls ``name`` (``ulaw``, ``g722``, ``opus``), if media has it."""
    return None if name is None else CODECS.get(name.lower())


def codec_for(payload_type: int, names: dict[int, str] | None = None) -> AudioCodec | None:
    """The codec of ``payload_type``: through the stream's negotiated ``names`` (PT to
    Asterisk name: dynamic types mean what SDP said), else the static RFC 3551 type."""
    if names is not None and payload_type in names:
        return codec_named(names[payload_type])
    return BY_STATIC_PAYLOAD_TYPE.get(payload_type)


class Resampler:
    """Stateful rate change of one stream of mono int16 PCM (libswresample via PyAV)."""

    __slots__ = ("_resampler", "source_rate", "target_rate")

    def __init__(self, source_rate: int, target_rate: int) -> None:
        """From ``source_rate`` to ``target_rate`` Hz; the same rate passes samples through."""
        self.source_rate = source_rate
        self.target_rate = target_rate
        self._resampler: Any = (
            None
            if source_rate == target_rate
            else av.AudioResampler(format="s16", layout="mono", rate=target_rate)
        )

    def resample(self, samples: Samples) -> Samples:
        """The samples at the target rate so far (the filter holds back a few at first)."""
        if self._resampler is None or not len(samples):
            return samples
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples, dtype=np.int16).reshape(1, -1),
            format="s16",
            layout="mono",
        )
        frame.sample_rate = self.source_rate
        try:
            return self._frames(self._resampler.resample(frame))
        except av.FFmpegError as error:
            raise CodecError(
                f"resampler {self.source_rate} -> {self.target_rate} Hz: {error}"
            ) from None

    def flush(self) -> Samples:
        """What the filter still holds, at the end of the stream."""
        if self._resampler is None:
            return _EMPTY
        return self._frames(self._resampler.resample(None))

    @staticmethod
    def _frames(frames: Iterable[Any]) -> Samples:
        parts = [_pcm(frame) for frame in frames]
        if len(parts) == 1:
            return parts[0]
        return np.concatenate(parts) if parts else _EMPTY


def resample(samples: Samples, source_rate: int, target_rate: int) -> Samples:
    """A whole recording or sound file at another rate."""
    if source_rate == target_rate or not len(samples):
        return samples
    resampler = Resampler(source_rate, target_rate)
    head = resampler.resample(samples)
    tail = resampler.flush()
    return np.concatenate((head, tail)) if len(tail) else head


class PcmDecoder:
    """Decodes one stream's payloads to PCM at ``rate`` (a decoder, then a resampler)."""

    __slots__ = ("_decoder", "_resampler", "codec")

    def __init__(self, codec: AudioCodec, rate: int) -> None:
        """Decode ``codec`` and resample to ``rate`` Hz."""
        self.codec = codec
        self._decoder = codec.decoder()
        self._resampler = Resampler(codec.sample_rate, rate)

    def decode(self, payload: bytes) -> Samples:
        """The PCM of ``payload`` at the target rate."""
        return self._resampler.resample(self._decoder.decode(payload))


MAX_BACKLOG = 3
"""Frames a :class:`PcmEncoder` keeps waiting at most: a phone sending longer packets than
one Opus frame per packet can carry loses the excess rather than gaining delay."""


class PcmEncoder:
    """Encodes PCM at ``rate`` into one stream's 20 ms payloads (resampler, then encoder;
    no resampler when the encoder takes ``rate`` itself, as libopus takes 8 and 16 kHz),
    holding back what does not fill a frame yet."""

    __slots__ = ("_encoder", "_pending", "_resampler", "codec", "frame_samples")

    def __init__(self, codec: AudioCodec, rate: int) -> None:
        """Take PCM at ``rate`` Hz, encode ``codec``."""
        native = codec.input_rate(rate)
        self.codec = codec
        self.frame_samples = native // FRAMES_PER_SECOND
        self._encoder = codec.encoder(native)
        self._resampler = Resampler(rate, native)
        self._pending: Samples = _EMPTY

    def encode(self, samples: Samples, *, max_frames: int | None = None) -> list[bytes]:
        """One payload per whole 20 ms frame now available, at most ``max_frames`` of them:
        the rest waits, but never more than :data:`MAX_BACKLOG` frames (the oldest go)."""
        pending = self._resampler.resample(samples)
        if len(self._pending):
            pending = np.concatenate((self._pending, pending))
        size = self.frame_samples
        count = len(pending) // size
        if max_frames is not None:
            count = min(count, max_frames)
        rest = pending[count * size :]
        if len(rest) > MAX_BACKLOG * size:
            rest = rest[len(rest) - MAX_BACKLOG * size :]
        self._pending = rest
        return [self._encoder.encode(pending[i * size : (i + 1) * size]) for i in range(count)]

    def finish(self) -> list[bytes]:
        """The last payloads at the end of a stream: what remains, padded with silence."""
        rest = self._resampler.flush()
        pending = np.concatenate((self._pending, rest)) if len(rest) else self._pending
        self._pending = _EMPTY
        size = self.frame_samples
        if len(pending) % size:
            pending = np.concatenate((pending, np.zeros(size - len(pending) % size, np.int16)))
        return [self._encoder.encode(pending[i : i + size]) for i in range(0, len(pending), size)]


def encode_all(samples: Samples, rate: int, codec: AudioCodec) -> list[bytes]:
    """A whole sound at ``rate`` Hz as ``codec``'s 20 ms payloads, the last padded."""
    encoder = PcmEncoder(codec, rate)
    return [*encoder.encode(samples), *encoder.finish()]
