"""The sound formats of the voicemail spool, encoded and decoded whole, as Asterisk stores them.

A format is named as in voicemail.conf's ``format=`` (Asterisk's format module names); the file
extension is the name, except ``wav49``, stored as ``.WAV`` (``build_filename`` in Asterisk's
``main/file.c``). Every format is 8 kHz mono but ``g722`` (16 kHz).

- ``wav`` (``format_wav.c``): RIFF/WAVE, 16-bit linear PCM, the 44-byte header (``fmt `` of
  16 bytes, then ``data``).
- ``wav49`` (``format_wav_gsm.c``): GSM 6.10 in WAV the Microsoft way (``WAVE_FORMAT_GSM610``,
  49): a 60-byte header (``fmt `` of 20 bytes: format 49, 1 channel, 8000 Hz, 1625 bytes/s,
  block align 65, 0 bits per sample, 2 extra bytes = 320 samples per block; ``fact`` of 4
  bytes = the sample count; ``data``), then 65-byte blocks, each two GSM frames (320
  samples) bit-packed the Microsoft way; the file is padded to an even length and the
  ``data`` size counts the pad byte.
- ``gsm`` (``format_gsm.c``): headerless GSM 6.10, 33-byte frames of 160 samples, each
  starting with the 0xD signature nibble.
- ``ulaw`` / ``alaw`` (``format_pcm.c``): headerless G.711, one byte per sample.
- ``sln`` (``format_sln.c``): headerless 16-bit little-endian linear PCM.
- ``g722`` (``format_g722.c``): headerless G.722 at 64 kbit/s (16 kHz audio), through the
  media codec registry (FFmpeg's G.722 via PyAV); written from the 8 kHz recording
  resampled to 16 kHz, read back resampled to 8 kHz.

GSM 6.10 is libsndfile's (through ``soundfile``): it writes both packings (``RAW`` and
``WAV`` with the ``GSM610`` subtype). libsndfile drops a trailing partial frame, so the
encoders pad with silence to whole frames (160 samples for ``gsm``, 320 for ``wav49``), as
Asterisk only ever writes whole frames. The WAV49 header is written here, byte for byte as
Asterisk writes it, around the blocks libsndfile produced.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import soundfile

from switchboard.media.codecs import CODECS, encode_all, resample
from switchboard.media.g711 import decode_payload, encode_payload

Samples = npt.NDArray[np.int16]

SAMPLE_RATE = 8000
GSM_FRAME_SIZE = 33
GSM_SAMPLES = 160
MSGSM_FRAME_SIZE = 65
MSGSM_SAMPLES = 320
WAVE_FORMAT_PCM = 1
WAVE_FORMAT_GSM610 = 49
WAVE_FORMAT_EXTENSIBLE = 0xFFFE
WAV49_HEADER_SIZE = 60

EXTENSIONS: dict[str, str] = {
    "wav49": "WAV",
    "gsm": "gsm",
    "wav": "wav",
    "ulaw": "ulaw",
    "alaw": "alaw",
    "sln": "sln",
    "g722": "g722",
}
"""Format name (voicemail.conf ``format=``) -> file extension, as Asterisk names the files."""

READ_ORDER: tuple[str, ...] = ("wav", "sln", "ulaw", "alaw", "g722", "gsm", "WAV")
"""Extensions by preference when decoding: lossless first, then G.711 and G.722, then GSM."""


class SpoolError(Exception):
    """Base of the voicemail spool's errors."""


class SoundFormatError(SpoolError):
    """A format name that is not supported, or a file that does not hold what its name says."""


def extension(fmt: str) -> str:
    """The file extension of format ``fmt`` (``wav49`` -> ``WAV``)."""
    try:
        return EXTENSIONS[fmt]
    except KeyError:
        known = ", ".join(EXTENSIONS)
        raise SoundFormatError(
            f"unsupported voicemail format {fmt!r} (expected one of {known})"
        ) from None


def _as_samples(samples: npt.ArrayLike) -> Samples:
    array = np.asarray(samples)
    if array.ndim != 1:
        raise SoundFormatError(f"expected mono samples (one dimension), found shape {array.shape}")
    return array.astype("<i2", copy=False).astype(np.int16, copy=False)


def _pad(samples: Samples, frame: int) -> Samples:
    short = -len(samples) % frame
    if short == 0:
        return samples
    return np.concatenate([samples, np.zeros(short, dtype=np.int16)])


# --- encoders ----------------------------------------------------------------------------


def encode_wav(samples: Samples) -> bytes:
    """16-bit PCM WAV with the plain 44-byte header."""
    data = _as_samples(samples).astype("<i2").tobytes()
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + len(data),
        b"WAVE",
        b"fmt ",
        16,
        WAVE_FORMAT_PCM,
        1,
        SAMPLE_RATE,
        SAMPLE_RATE * 2,
        2,
        16,
        b"data",
        len(data),
    )
    return header + data


def encode_sln(samples: Samples) -> bytes:
    return _as_samples(samples).astype("<i2").tobytes()


def encode_ulaw(samples: Samples) -> bytes:
    return encode_payload(_as_samples(samples), "ulaw")


def encode_alaw(samples: Samples) -> bytes:
    return encode_payload(_as_samples(samples), "alaw")


def _libsndfile_gsm(samples: Samples, container: str) -> bytes:
    buffer = io.BytesIO()
    with soundfile.SoundFile(
        buffer,
        mode="w",
        samplerate=SAMPLE_RATE,
        channels=1,
        format=container,
        subtype="GSM610",
    ) as sound:
        sound.write(samples)
    return buffer.getvalue()


def encode_gsm(samples: Samples) -> bytes:
    """Raw GSM 6.10: 33-byte frames, padded with silence to whole frames."""
    padded = _pad(_as_samples(samples), GSM_SAMPLES)
    if len(padded) == 0:
        return b""
    data = _libsndfile_gsm(padded, "RAW")
    if len(data) != len(padded) // GSM_SAMPLES * GSM_FRAME_SIZE:
        raise SoundFormatError(
            f"libsndfile wrote {len(data)} bytes of GSM for {len(padded)} samples, "
            f"expected {len(padded) // GSM_SAMPLES * GSM_FRAME_SIZE}"
        )
    return data


def wav49_header(data_length: int, sample_count: int) -> bytes:
    """Asterisk's 60-byte WAV49 header; ``data_length`` already rounded up to even."""
    return struct.pack(
        "<4sI4s4sIHHIIHHHH4sII4sI",
        b"RIFF",
        WAV49_HEADER_SIZE - 8 + data_length,
        b"WAVE",
        b"fmt ",
        20,
        WAVE_FORMAT_GSM610,
        1,
        SAMPLE_RATE,
        SAMPLE_RATE * MSGSM_FRAME_SIZE // MSGSM_SAMPLES,
        MSGSM_FRAME_SIZE,
        0,
        2,
        MSGSM_SAMPLES,
        b"fact",
        4,
        sample_count,
        b"data",
        data_length,
    )


def encode_wav49(samples: Samples) -> bytes:
    """GSM 6.10 in WAV (Microsoft 65-byte blocks), with Asterisk's header and even padding."""
    padded = _pad(_as_samples(samples), MSGSM_SAMPLES)
    blocks = b""
    if len(padded):
        blocks = _chunks(_libsndfile_gsm(padded, "WAV")).get(b"data", b"")
    if len(blocks) != len(padded) // MSGSM_SAMPLES * MSGSM_FRAME_SIZE:
        raise SoundFormatError(
            f"libsndfile wrote {len(blocks)} bytes of WAV49 data for {len(padded)} samples, "
            f"expected {len(padded) // MSGSM_SAMPLES * MSGSM_FRAME_SIZE}"
        )
    pad = b"\x00" * (len(blocks) & 1)
    return wav49_header(len(blocks) + len(pad), len(padded)) + blocks + pad


# --- decoders ----------------------------------------------------------------------------


def _chunks(data: bytes) -> dict[bytes, bytes]:
    """The chunks of a RIFF/WAVE file by id (first of each id); a truncated last chunk is cut."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise SoundFormatError(f"expected a RIFF/WAVE header, found {data[:12]!r}")
    chunks: dict[bytes, bytes] = {}
    offset = 12
    while offset + 8 <= len(data):
        chunk_id, size = struct.unpack_from("<4sI", data, offset)
        body = data[offset + 8 : offset + 8 + size]
        chunks.setdefault(chunk_id, body)
        offset += 8 + size + (size & 1)
    if b"fmt " not in chunks or b"data" not in chunks:
        raise SoundFormatError(f"expected 'fmt ' and 'data' chunks, found {sorted(chunks)}")
    return chunks


def _check_fmt(fmt: bytes, expected_format: int, what: str) -> None:
    if len(fmt) < 16:
        raise SoundFormatError(f"{what}: 'fmt ' chunk of {len(fmt)} bytes, expected 16 or more")
    tag, channels, rate = struct.unpack_from("<HHI", fmt)
    if tag == WAVE_FORMAT_EXTENSIBLE and len(fmt) >= 26:
        (tag,) = struct.unpack_from("<H", fmt, 24)
    if tag != expected_format or channels != 1 or rate != SAMPLE_RATE:
        raise SoundFormatError(
            f"{what}: expected format {expected_format}, 1 channel, {SAMPLE_RATE} Hz; "
            f"found format {tag}, {channels} channels, {rate} Hz"
        )


def decode_wav(data: bytes) -> Samples:
    chunks = _chunks(data)
    fmt = chunks[b"fmt "]
    _check_fmt(fmt, WAVE_FORMAT_PCM, "wav")
    (bits,) = struct.unpack_from("<H", fmt, 14)
    if bits != 16:
        raise SoundFormatError(f"wav: expected 16 bits per sample, found {bits}")
    body = chunks[b"data"]
    return np.frombuffer(body[: len(body) // 2 * 2], dtype="<i2").astype(np.int16)


def decode_sln(data: bytes) -> Samples:
    return np.frombuffer(data[: len(data) // 2 * 2], dtype="<i2").astype(np.int16)


def decode_ulaw(data: bytes) -> Samples:
    return decode_payload(data, "ulaw").copy()


def decode_alaw(data: bytes) -> Samples:
    return decode_payload(data, "alaw").copy()


def _libsndfile_read(data: bytes, **kwargs: object) -> Samples:
    if not data:
        return np.zeros(0, dtype=np.int16)
    samples, _ = soundfile.read(io.BytesIO(data), dtype="int16", always_2d=False, **kwargs)
    return np.asarray(samples, dtype=np.int16)


def decode_gsm(data: bytes) -> Samples:
    """Raw GSM 6.10; a trailing partial frame is ignored, as Asterisk's reader does."""
    whole = data[: len(data) // GSM_FRAME_SIZE * GSM_FRAME_SIZE]
    return _libsndfile_read(
        whole, samplerate=SAMPLE_RATE, channels=1, format="RAW", subtype="GSM610"
    )


def decode_wav49(data: bytes) -> Samples:
    """GSM 6.10 in WAV; whole 65-byte blocks only (Asterisk's pad byte is ignored)."""
    chunks = _chunks(data)
    _check_fmt(chunks[b"fmt "], WAVE_FORMAT_GSM610, "wav49")
    body = chunks[b"data"]
    blocks = body[: len(body) // MSGSM_FRAME_SIZE * MSGSM_FRAME_SIZE]
    if not blocks:
        return np.zeros(0, dtype=np.int16)
    sample_count = len(blocks) // MSGSM_FRAME_SIZE * MSGSM_SAMPLES
    # libsndfile counts one block more when the data is an odd number of bytes (it takes
    # the RIFF pad into account), so cut to the blocks there are.
    return _libsndfile_read(wav49_header(len(blocks), sample_count) + blocks)[:sample_count]


def encode_g722(samples: Samples) -> bytes:
    """Raw G.722 (``format_g722``) of 8 kHz samples, resampled to 16 kHz, whole 20 ms frames."""
    g722 = CODECS["g722"]
    return b"".join(encode_all(samples, SAMPLE_RATE, g722)) if len(samples) else b""


def decode_g722(data: bytes) -> Samples:
    """8 kHz samples of a raw G.722 file."""
    g722 = CODECS["g722"]
    return resample(g722.decoder().decode(data), g722.sample_rate, SAMPLE_RATE)


ENCODERS: dict[str, Callable[[Samples], bytes]] = {
    "WAV": encode_wav49,
    "gsm": encode_gsm,
    "wav": encode_wav,
    "ulaw": encode_ulaw,
    "alaw": encode_alaw,
    "sln": encode_sln,
    "g722": encode_g722,
}
"""Extension -> encoder (int16 samples at 8 kHz -> file bytes)."""

DECODERS: dict[str, Callable[[bytes], Samples]] = {
    "WAV": decode_wav49,
    "gsm": decode_gsm,
    "wav": decode_wav,
    "ulaw": decode_ulaw,
    "alaw": decode_alaw,
    "sln": decode_sln,
    "g722": decode_g722,
}
"""Extension -> decoder (file bytes -> int16 samples at 8 kHz)."""


def encode(ext: str, samples: npt.ArrayLike) -> bytes:
    """Encode ``samples`` (int16, 8 kHz, mono) as a file of extension ``ext``."""
    return ENCODERS[ext](_as_samples(samples))


def decode(ext: str, data: bytes) -> Samples:
    """Decode a file's bytes by its extension ``ext`` to int16 samples at 8 kHz."""
    return DECODERS[ext](data)
