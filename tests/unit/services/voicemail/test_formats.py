"""Sound formats of the spool: each decodes to what was encoded, byte layouts as Asterisk's."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.services.voicemail import formats

RATE = 8000


def tone(seconds: float, freq: float = 1000.0, amplitude: int = 8000) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (np.sin(2 * np.pi * freq * t) * amplitude).astype(np.int16)


def peak_hz(samples: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64)))
    return float(np.argmax(spectrum) * RATE / len(samples))


FRAME = {"WAV": 320, "gsm": 160, "wav": 1, "ulaw": 1, "alaw": 1, "sln": 1, "g722": 200}


@pytest.mark.parametrize("ext", sorted(formats.ENCODERS))
def test_a_1khz_tone_comes_back_as_1khz_with_its_duration(ext: str) -> None:
    samples = tone(5.01)
    decoded = formats.decode(ext, formats.encode(ext, samples))
    assert abs(len(decoded) - len(samples)) < FRAME[ext]
    assert abs(peak_hz(decoded) - 1000) < 5


def test_format_names_map_to_asterisk_extensions() -> None:
    assert formats.extension("wav49") == "WAV"
    assert [formats.extension(f) for f in ("gsm", "wav", "ulaw", "alaw", "sln")] == [
        "gsm",
        "wav",
        "ulaw",
        "alaw",
        "sln",
    ]
    assert formats.extension("g722") == "g722"
    with pytest.raises(formats.SoundFormatError, match="g729"):
        formats.extension("g729")


def test_wav49_header_is_asterisks_60_bytes() -> None:
    data = formats.encode("WAV", tone(1.0))  # 8000 samples -> 25 blocks (odd): one pad byte
    fields = struct.unpack_from("<4sI4s4sIHHIIHHHH4sII4sI", data)
    assert fields == (
        b"RIFF",
        len(data) - 8,
        b"WAVE",
        b"fmt ",
        20,
        49,
        1,
        8000,
        1625,
        65,
        0,
        2,
        320,
        b"fact",
        4,
        8000,
        b"data",
        25 * 65 + 1,
    )
    assert len(data) == 60 + 25 * 65 + 1
    assert len(data) % 2 == 0


def test_wav49_pads_to_whole_65_byte_blocks_of_320_samples() -> None:
    data = formats.encode("WAV", tone(0.05))  # 400 samples -> 2 blocks
    assert len(data) == 60 + 2 * 65
    assert len(formats.decode("WAV", data)) == 640


def test_raw_gsm_is_33_byte_frames_with_the_d_signature() -> None:
    data = formats.encode("gsm", tone(0.1))  # 800 samples = 5 frames
    assert len(data) == 5 * 33
    assert all(data[i] >> 4 == 0xD for i in range(0, len(data), 33))


def test_gsm_of_silence_is_asterisks_silent_frame() -> None:
    # gsm_silence[] of Asterisk's formats/format_gsm.c
    asterisk_silence = bytes(
        [0xD8, 0x20, 0xA2, 0xE1, 0x5A, 0x50, 0x00, 0x49, 0x24, 0x92, 0x49, 0x24, 0x50, 0x00,
         0x49, 0x24, 0x92, 0x49, 0x24, 0x50, 0x00, 0x49, 0x24, 0x92, 0x49, 0x24, 0x50, 0x00,
         0x49, 0x24, 0x92, 0x49, 0x24]
    )  # fmt: skip
    assert formats.encode("gsm", np.zeros(160, dtype=np.int16)) == asterisk_silence


def test_wav_is_the_plain_44_byte_pcm_header() -> None:
    data = formats.encode("wav", np.array([1, -2, 3], dtype=np.int16))
    assert data[:44] == struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        42,
        b"WAVE",
        b"fmt ",
        16,
        1,
        1,
        8000,
        16000,
        2,
        16,
        b"data",
        6,
    )
    assert data[44:] == b"\x01\x00\xfe\xff\x03\x00"


def _bits_msb(data: bytes) -> list[int]:
    return [(byte >> (7 - i)) & 1 for byte in data for i in range(8)]


def _bits_lsb(data: bytes) -> list[int]:
    return [(byte >> i) & 1 for byte in data for i in range(8)]


GSM_WIDTHS = [6, 6, 5, 5, 4, 4, 3, 3] + ([7, 2, 2, 6] + [3] * 13) * 4  # 36 + 4*56 = 260 bits


def _params(bits: list[int], lsb_first: bool) -> list[int]:
    values, pos = [], 0
    for width in GSM_WIDTHS:
        chunk = bits[pos : pos + width]
        pos += width
        order = reversed(chunk) if lsb_first else chunk
        values.append(int("".join(map(str, order)), 2))
    return values


def test_wav49_blocks_carry_the_raw_gsm_frames_packed_lsb_first() -> None:
    """The Microsoft packing (Asterisk's conv66 in formats/msgsm.h): two 260-bit frames per
    65-byte block, parameters least significant bit first, no signature; raw GSM packs the
    same parameters most significant bit first after the 0xD nibble."""
    samples = tone(0.4, freq=700) + tone(0.4, freq=1900, amplitude=3000)
    raw = formats.encode("gsm", samples)
    blocks = formats.encode("WAV", samples)[60:]
    for k in range(len(samples) // 320):
        block = _bits_lsb(blocks[k * 65 : k * 65 + 65])
        for half in range(2):
            frame = raw[(2 * k + half) * 33 : (2 * k + half + 1) * 33]
            expected = _params(_bits_msb(frame)[4:], lsb_first=False)
            assert _params(block[half * 260 : half * 260 + 260], lsb_first=True) == expected


def test_decoders_refuse_what_is_not_their_format() -> None:
    with pytest.raises(formats.SoundFormatError, match="RIFF"):
        formats.decode("wav", b"not a wav file")
    with pytest.raises(formats.SoundFormatError, match="format 49"):
        formats.decode("WAV", formats.encode("wav", tone(0.1)))
    with pytest.raises(formats.SoundFormatError, match="format 1"):
        formats.decode("wav", formats.encode("WAV", tone(0.1)))


def test_truncated_files_decode_their_whole_frames() -> None:
    samples = tone(0.2)
    assert len(formats.decode("gsm", formats.encode("gsm", samples)[:-10])) == 1440
    wav49 = formats.encode("WAV", samples)
    assert len(formats.decode("WAV", wav49[:-30])) == 1280


def test_empty_audio_round_trips_in_every_format() -> None:
    for ext in formats.ENCODERS:
        assert len(formats.decode(ext, formats.encode(ext, np.zeros(0, dtype=np.int16)))) == 0


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(-32768, 32767), max_size=700))
def test_lossless_formats_round_trip_exactly(values: list[int]) -> None:
    samples = np.array(values, dtype=np.int16)
    for ext in ("wav", "sln"):
        assert np.array_equal(formats.decode(ext, formats.encode(ext, samples)), samples)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(-32768, 32767), max_size=1000))
def test_gsm_formats_keep_the_length_to_the_frame(values: list[int]) -> None:
    samples = np.array(values, dtype=np.int16)
    for ext, frame in (("gsm", 160), ("WAV", 320)):
        decoded = formats.decode(ext, formats.encode(ext, samples))
        assert len(decoded) == -(-len(samples) // frame) * frame


def test_g722_is_asterisks_raw_64_kbit_stream() -> None:
    data = formats.encode("g722", tone(1.0))
    assert len(data) == 8000  # 64 kbit/s: one octet per 8 kHz sample period
    assert abs(peak_hz(formats.decode("g722", data)) - 1000) < 5
