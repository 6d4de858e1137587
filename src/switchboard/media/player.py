"""Playing audio to a phone: sound files read into 8 kHz PCM, and :class:`RtpPlayer`, which
plays PCM sources through the media graph's clock into the phone's codec, as RTP packets
from a relay leg's own RTP socket.

Sound files (Asterisk's formats):

- ``.wav``: RIFF/WAVE, 16-bit linear PCM (format 1, or WAVE_FORMAT_EXTENSIBLE with the PCM
  sub-format), 8 kHz mono as Asterisk's ``format_wav`` requires. More channels are mixed
  down; a rate that is a whole multiple of 8 kHz (16, 24, 32, 48 kHz) is low-pass filtered
  and decimated. Other rates and sample sizes are refused with a :class:`SoundFileError`
  that says what was found.
- ``.sln`` / ``.raw``: headerless 16-bit little-endian PCM at 8 kHz (``format_sln``).
- ``.ulaw`` / ``.pcm`` / ``.ul`` / ``.mu`` / ``.ulw`` and ``.alaw`` / ``.al`` / ``.alw``:
  headerless G.711 (``format_pcm``), decoded with the G.711 tables. Encoding gives every
  code back in the same law (µ-law's negative zero, 0x7F, aside: it becomes 0xFF), so such
  a file reaches a phone of that law unchanged.
- ``.gsm``: raw GSM 6.10 full-rate frames, 33 octets for 20 ms each (``format_gsm``; what
  the Debian ``asterisk-core-sounds-*-gsm`` packages ship), decoded with libsndfile
  through ``soundfile``. Every frame must carry the GSM signature nibble ``0xD``; a partial
  frame at the end is dropped, as Asterisk's reader does.
- ``.g722``: raw G.722 at 64 kbit/s (``format_g722``; the ``asterisk-core-sounds-*-g722``
  packages), decoded through the media codec registry and decimated to 8 kHz.

A file is decoded whole, once (numpy, vectorised; :meth:`RtpPlayer.load`, meant to run on
a worker thread). Encoding into the phone's codec happens frame by frame at the edge
(:class:`~switchboard.media.rtpport.RtpSender`), paced by the loop's
:class:`~switchboard.media.clock.MediaClock`: one timer for every prompt playing, a run
that follows the previous one straight away continues its RTP stream, one after a pause
jumps the timestamp and sets the marker. Cancelling a play disconnects its flow at once:
nothing is sent afterwards.
"""

from __future__ import annotations

import io
import random
import struct
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import soundfile

from switchboard.media.clock import MediaClock
from switchboard.media.codecs import CODECS, AudioCodec
from switchboard.media.errors import MediaError
from switchboard.media.g711 import (
    ALAW_TO_ULAW_BYTES,
    ULAW_TO_ALAW_BYTES,
    Law,
    decode_payload,
    encode_payload,
)
from switchboard.media.ports import SamplesSource, Source
from switchboard.media.rtpport import PTIME, RtpSender

if TYPE_CHECKING:
    from switchboard.media.relay import DatagramSink

Address = tuple[Any, ...]
Samples = npt.NDArray[np.int16]

SAMPLE_RATE = 8000

ULAW_EXTENSIONS = ("ulaw", "pcm", "ul", "mu", "ulw")
ALAW_EXTENSIONS = ("alaw", "al", "alw")
SLIN_EXTENSIONS = ("sln", "raw")
WAV_EXTENSIONS = ("wav",)
GSM_EXTENSIONS = ("gsm",)
G722_EXTENSIONS = ("g722",)
EXTENSION_FORMAT: dict[str, str] = {
    **dict.fromkeys(ULAW_EXTENSIONS, "ulaw"),
    **dict.fromkeys(ALAW_EXTENSIONS, "alaw"),
    **dict.fromkeys(SLIN_EXTENSIONS, "slin"),
    **dict.fromkeys(WAV_EXTENSIONS, "wav"),
    **dict.fromkeys(GSM_EXTENSIONS, "gsm"),
    **dict.fromkeys(G722_EXTENSIONS, "g722"),
}
"""Every extension the player reads, to the format it holds (``ulaw``, ``alaw``, ``slin``,
``wav``, ``gsm``, ``g722``)."""
GSM_FRAME_SIZE = 33
"""Octets of one raw GSM 6.10 frame (160 samples, 20 ms)."""

_WAVE_FORMAT_PCM = 1
_WAVE_FORMAT_EXTENSIBLE = 0xFFFE
_FIR_TAPS_PER_RATIO = 32


class SoundFileError(MediaError):
    """A sound file that cannot be played: what was expected and what was found."""


def parse_wav(data: bytes) -> tuple[Samples, int]:
    """The samples (mixed down to mono) and sample rate of a 16-bit PCM WAV file."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise SoundFileError("not a RIFF/WAVE file (expected 'RIFF....WAVE' at the start)")
    position = 12
    fmt: tuple[int, int, int, int] | None = None
    while position + 8 <= len(data):
        chunk_id = data[position : position + 4]
        (size,) = struct.unpack_from("<I", data, position + 4)
        body = data[position + 8 : position + 8 + size]
        if chunk_id == b"fmt ":
            if len(body) < 16:
                raise SoundFileError(f"WAV 'fmt ' chunk of {len(body)} octets: expected 16+")
            tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", body)
            if tag == _WAVE_FORMAT_EXTENSIBLE and len(body) >= 26:
                (tag,) = struct.unpack_from("<H", body, 24)
            fmt = (tag, channels, rate, bits)
        elif chunk_id == b"data":
            if fmt is None:
                raise SoundFileError("WAV 'data' chunk before any 'fmt ' chunk")
            return _wav_samples(body, *fmt)
        position += 8 + size + (size & 1)
    raise SoundFileError("WAV file without a 'data' chunk")


def _wav_samples(body: bytes, tag: int, channels: int, rate: int, bits: int) -> tuple[Samples, int]:
    if tag != _WAVE_FORMAT_PCM:
        raise SoundFileError(f"WAV format {tag}: expected 1 (16-bit linear PCM)")
    if bits != 16:
        raise SoundFileError(f"WAV of {bits}-bit samples: expected 16-bit")
    if channels < 1 or rate < 1:
        raise SoundFileError(f"WAV of {channels} channels at {rate} Hz")
    usable = len(body) - len(body) % (2 * channels)
    samples = np.frombuffer(body[:usable], dtype="<i2").astype(np.int16)
    if channels > 1:
        mixed = samples.reshape(-1, channels).astype(np.int32).sum(axis=1) // channels
        samples = mixed.astype(np.int16)
    return samples, rate


def to_8khz(samples: Samples, rate: int) -> Samples:
    """``samples`` at 8 kHz: unchanged at 8 kHz; low-pass filtered and decimated when
    ``rate`` is a whole multiple of 8 kHz; :class:`SoundFileError` otherwise."""
    if rate == SAMPLE_RATE:
        return samples
    if rate % SAMPLE_RATE:
        raise SoundFileError(
            f"sample rate {rate} Hz: expected 8000 Hz (or a whole multiple of it); "
            "convert it with 'sox FILE -r 8000 -c 1 -b 16 OUT.wav'"
        )
    if not len(samples):
        return samples
    ratio = rate // SAMPLE_RATE
    taps = _FIR_TAPS_PER_RATIO * ratio + 1
    # Windowed-sinc low-pass at 3.6 kHz (below the 4 kHz Nyquist of the output).
    n = np.arange(taps, dtype=np.float64) - (taps - 1) / 2
    cutoff = 3600.0 / rate
    kernel = 2 * cutoff * np.sinc(2 * cutoff * n) * np.blackman(taps)
    kernel /= kernel.sum()
    filtered = np.convolve(samples.astype(np.float64), kernel, mode="same")[::ratio]
    return np.clip(np.round(filtered), -32768, 32767).astype(np.int16)


def decode_gsm(data: bytes) -> Samples:
    """The samples of raw GSM 6.10 frames (``format_gsm``: 33 octets each, signature
    nibble ``0xD``); a partial last frame is dropped."""
    whole = data[: len(data) - len(data) % GSM_FRAME_SIZE]
    if not whole:
        return np.zeros(0, dtype=np.int16)
    signatures = np.frombuffer(whole, dtype=np.uint8)[::GSM_FRAME_SIZE] >> 4
    bad = np.flatnonzero(signatures != 0xD)
    if bad.size:
        frame = int(bad[0])
        raise SoundFileError(
            f"not raw GSM 6.10: frame {frame} (octet {frame * GSM_FRAME_SIZE}) starts with "
            f"0x{whole[frame * GSM_FRAME_SIZE]:02x}, expected 0xD_ (33-octet frames)"
        )
    try:
        samples = soundfile.read(
            io.BytesIO(whole),
            format="RAW",
            subtype="GSM610",
            samplerate=SAMPLE_RATE,
            channels=1,
            dtype="int16",
        )[0]
    except (RuntimeError, ValueError, TypeError) as error:  # libsndfile's errors
        raise SoundFileError(f"GSM 6.10 decoder: {error}") from None
    return np.asarray(samples, dtype=np.int16)


def _read(path: Path) -> tuple[str, bytes]:
    """The format (by extension) and content of a sound file."""
    kind = EXTENSION_FORMAT.get(path.suffix[1:].lower())
    if kind is None:
        raise SoundFileError(f"{path.name}: unsupported format (expected one of {_known()})")
    try:
        return kind, path.read_bytes()
    except OSError as error:
        raise SoundFileError(f"{path}: {error.strerror or error}") from None


def read_sound(path: Path, law: Law) -> bytes:
    """The G.711 payload (``law``) of the whole sound file at ``path``, by its extension."""
    kind, data = _read(path)
    if kind == law:
        return data
    if kind in ("ulaw", "alaw"):
        return data.translate(ULAW_TO_ALAW_BYTES if kind == "ulaw" else ALAW_TO_ULAW_BYTES)
    return encode_payload(_samples(path, kind, data), law)


def read_samples(path: Path) -> Samples:
    """The whole sound file at ``path`` as 8 kHz 16-bit PCM."""
    kind, data = _read(path)
    return _samples(path, kind, data)


def _samples(path: Path, kind: str, data: bytes) -> Samples:
    """Decode ``data`` of format ``kind`` to 8 kHz PCM."""
    if kind in ("ulaw", "alaw"):
        return decode_payload(data, "ulaw" if kind == "ulaw" else "alaw")
    if kind == "slin":
        samples = np.frombuffer(data[: len(data) & ~1], dtype="<i2").astype(np.int16)
    elif kind == "gsm":
        try:
            samples = decode_gsm(data)
        except SoundFileError as error:
            raise SoundFileError(f"{path.name}: {error}") from None
    elif kind == "g722":
        g722 = CODECS["g722"]
        try:
            samples = to_8khz(g722.decoder().decode(data), g722.sample_rate)
        except MediaError as error:
            raise SoundFileError(f"{path.name}: {error}") from None
    else:
        try:
            samples, rate = parse_wav(data)
            samples = to_8khz(samples, rate)
        except SoundFileError as error:
            raise SoundFileError(f"{path.name}: {error}") from None
    return samples


def _known() -> str:
    return ", ".join(f".{extension}" for extension in EXTENSION_FORMAT)


class RtpPlayer:
    """Plays to a phone in its codec: PCM sources go through the loop's
    :class:`~switchboard.media.clock.MediaClock` into an
    :class:`~switchboard.media.rtpport.RtpSender`, one RTP stream of its own (SSRC,
    sequence numbers and timestamps start at random), whose packets leave through an
    existing datagram ``transport`` (a relay leg's output: on an SRTP leg it protects every
    packet).

    ``destination`` is called for each packet, so a relay leg's latched address is
    followed as it changes; while it returns None packets are skipped, not delayed.
    """

    def __init__(
        self,
        transport: DatagramSink,
        destination: Callable[[], Address | None],
        *,
        payload_type: int,
        law: Law | None = None,
        codec: AudioCodec | None = None,
        rng: random.Random | None = None,
        ptime: float = PTIME,
    ) -> None:
        """Send ``codec`` (or the G.711 ``law``) with ``payload_type`` (what the phone's SDP
        gave it); a codec other than G.711 is sent in 20 ms packets whatever ``ptime``."""
        entropy = rng if rng is not None else random.SystemRandom()
        audio = codec if codec is not None else CODECS[law or "ulaw"]
        self.codec = audio
        self.law: Law | None = audio.law
        """The G.711 law (table-driven coding); None for other codecs."""
        self._output = _Output(transport, destination)
        self.sender = RtpSender(
            self._output.send,
            payload_type=payload_type,
            codec=audio,
            ssrc=entropy.getrandbits(32),
            sequence=entropy.getrandbits(16),
            timestamp=entropy.getrandbits(32),
            ptime=ptime,
        )

    @property
    def packets_sent(self) -> int:
        """Packets sent to the phone so far."""
        return self._output.sent

    @property
    def packets_skipped(self) -> int:
        """Packets skipped while the phone had no address (or the socket was closing)."""
        return self._output.skipped

    def load(self, path: Path) -> Samples:
        """The 8 kHz PCM of the sound file at ``path`` (blocking: run on a thread)."""
        return read_samples(path)

    async def play(self, payload: bytes) -> None:
        """Play ``payload``, G.711 codes in :attr:`law`, in real time."""
        await self.play_samples(decode_payload(payload, self.law or "ulaw"))

    async def play_samples(self, samples: Samples) -> None:
        """Play 8 kHz PCM in real time; return when the last packet is sent. Cancelling
        stops at once: no packet leaves afterwards."""
        await self.play_source(SamplesSource(samples))

    async def play_source(self, source: Source) -> None:
        """Play a media source (a tone, silence, ...) until it ends, as :meth:`play_samples`."""
        await MediaClock.running().play(source, self.sender)


class _Output:
    """Where a player's packets go: the phone's address of the moment, through
    ``transport``; skipped (and counted) while there is none or the socket is closing.
    Apart from the player because its sender keeps this: with a method of the player, the
    two would be a cycle, which only the cyclic garbage collector could free."""

    __slots__ = ("destination", "sent", "skipped", "transport")

    def __init__(self, transport: DatagramSink, destination: Callable[[], Address | None]) -> None:
        self.transport = transport
        self.destination = destination
        self.sent = 0
        self.skipped = 0

    def send(self, packet: bytes) -> None:
        """Send one packet, or count it skipped."""
        address = self.destination()
        if address is None or self.transport.is_closing():
            self.skipped += 1
            return
        self.transport.sendto(packet, address)
        self.sent += 1
