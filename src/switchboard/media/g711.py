"""G.711 µ-law (PCMU) and A-law (PCMA), vectorised with numpy lookup tables.

The encoders are 65,536-entry tables indexed by the 16-bit sample's bit pattern, built
once at import from the segment rules of ITU-T G.711 (µ-law on 14 bits with bias 33,
A-law on 13 bits, even bits inverted); the decoders are 256-entry tables. The results
are bit-exact with the reference implementation that Python's ``audioop`` carries.

Transcoding between the laws uses the direct 256-entry maps of G.711 Tables 3 and 4 (not
decode-then-encode, which differs on 80 codes), so a PCMU leg bridged to a PCMA leg costs
one ``numpy.take`` per frame.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

Law = Literal["ulaw", "alaw"]
Samples = npt.NDArray[np.int16]
Codes = npt.NDArray[np.uint8]

ULAW_BIAS = 33
ULAW_CLIP = 8159
ALAW_AMI_MASK = 0x55


def _build_ulaw_decode() -> Samples:
    codes = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (codes >> 4) & 0x07
    mantissa = codes & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return np.where(codes & 0x80, -magnitude, magnitude).astype(np.int16)


def _build_alaw_decode() -> Samples:
    codes = np.arange(256, dtype=np.int32) ^ ALAW_AMI_MASK
    exponent = (codes >> 4) & 0x07
    mantissa = codes & 0x0F
    magnitude = np.where(
        exponent == 0,
        (mantissa << 4) + 8,
        ((mantissa << 4) + 0x108) << np.maximum(exponent - 1, 0),
    )
    return np.where(codes & 0x80, magnitude, -magnitude).astype(np.int16)


def _build_ulaw_encode() -> Codes:
    pcm = np.arange(65536, dtype=np.int32)
    pcm = np.where(pcm >= 32768, pcm - 65536, pcm) >> 2
    mask = np.where(pcm < 0, 0x7F, 0xFF)
    magnitude = np.minimum(np.abs(pcm), ULAW_CLIP) + ULAW_BIAS
    ends = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], dtype=np.int32)
    segment = np.searchsorted(ends, magnitude, side="left").astype(np.int32)
    code = np.where(
        segment >= 8,
        0x7F,
        (segment << 4) | ((magnitude >> (segment + 1)) & 0x0F),
    )
    return (code ^ mask).astype(np.uint8)


def _build_alaw_encode() -> Codes:
    pcm = np.arange(65536, dtype=np.int32)
    pcm = np.where(pcm >= 32768, pcm - 65536, pcm) >> 3
    mask = np.where(pcm >= 0, 0xD5, 0x55)
    magnitude = np.where(pcm >= 0, pcm, -pcm - 1)
    ends = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF], dtype=np.int32)
    segment = np.searchsorted(ends, magnitude, side="left").astype(np.int32)
    shift = np.where(segment < 2, 1, segment)
    code = np.where(
        segment >= 8,
        0x7F,
        (segment << 4) | ((magnitude >> shift) & 0x0F),
    )
    return (code ^ mask).astype(np.uint8)


# G.711 Table 3 (µ -> A) and Table 4 (A -> µ) over magnitude codes: index = µ-law (resp.
# A-law) code with the sign bit cleared and the transmission inversion undone; value =
# the other law's magnitude code plus one (the form the standard tabulates).
_U2A_MAGNITUDE = (
    *(1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8),
    *range(9, 26),
    *(27, 29, 31),
    *range(33, 45),
    *(46, 48),
    *range(49, 63),
    *range(64, 80),
    *range(81, 129),
)
_A2U_MAGNITUDE = (
    *(1, 3, 5, 7, 9, 11, 13, 15),
    *range(16, 32),
    *(32, 32, 33, 33, 34, 34, 35, 35),
    *range(36, 48),
    *(48, 48, 49, 49),
    *range(50, 64),
    *(64, 64),
    *range(65, 80),
    *(79,),
    *range(80, 128),
)


def _build_ulaw_to_alaw() -> Codes:
    codes = np.arange(256, dtype=np.int32)
    table = np.array(_U2A_MAGNITUDE, dtype=np.int32) - 1
    positive = (codes & 0x80) != 0
    magnitude_index = np.where(positive, 0xFF ^ codes, 0x7F ^ codes)
    return np.where(positive, 0xD5 ^ table[magnitude_index], 0x55 ^ table[magnitude_index]).astype(
        np.uint8
    )


def _build_alaw_to_ulaw() -> Codes:
    codes = np.arange(256, dtype=np.int32)
    table = np.array(_A2U_MAGNITUDE, dtype=np.int32)
    positive = (codes & 0x80) != 0
    magnitude_index = np.where(positive, codes ^ 0xD5, codes ^ 0x55)
    return np.where(positive, 0xFF ^ table[magnitude_index], 0x7F ^ table[magnitude_index]).astype(
        np.uint8
    )


ULAW_DECODE: Samples = _build_ulaw_decode()
ALAW_DECODE: Samples = _build_alaw_decode()
ULAW_ENCODE: Codes = _build_ulaw_encode()
ALAW_ENCODE: Codes = _build_alaw_encode()
ULAW_TO_ALAW: Codes = _build_ulaw_to_alaw()
ALAW_TO_ULAW: Codes = _build_alaw_to_ulaw()
for _table in (ULAW_DECODE, ALAW_DECODE, ULAW_ENCODE, ALAW_ENCODE, ULAW_TO_ALAW, ALAW_TO_ULAW):
    _table.flags.writeable = False

ULAW_TO_ALAW_BYTES = ULAW_TO_ALAW.tobytes()
"""Table 3 as a ``bytes.translate`` map: the cheapest way to transcode a payload."""
ALAW_TO_ULAW_BYTES = ALAW_TO_ULAW.tobytes()


def ulaw_encode(samples: Samples) -> Codes:
    """Encode int16 samples to µ-law codes."""
    return ULAW_ENCODE[samples.view(np.uint16)]


def alaw_encode(samples: Samples) -> Codes:
    """Encode int16 samples to A-law codes."""
    return ALAW_ENCODE[samples.view(np.uint16)]


def ulaw_decode(codes: Codes) -> Samples:
    """Decode µ-law codes to int16 samples."""
    return ULAW_DECODE[codes]


def alaw_decode(codes: Codes) -> Samples:
    """Decode A-law codes to int16 samples."""
    return ALAW_DECODE[codes]


def ulaw_to_alaw(payload: bytes) -> bytes:
    """Transcode a PCMU payload to PCMA with the G.711 Table 3 map."""
    return payload.translate(ULAW_TO_ALAW_BYTES)


def alaw_to_ulaw(payload: bytes) -> bytes:
    """Transcode a PCMA payload to PCMU with the G.711 Table 4 map."""
    return payload.translate(ALAW_TO_ULAW_BYTES)


def encode_payload(samples: Samples, law: Law) -> bytes:
    """Encode int16 samples to a PCMU (``"ulaw"``) or PCMA (``"alaw"``) payload."""
    table = ULAW_ENCODE if law == "ulaw" else ALAW_ENCODE
    return bytes(table[np.asarray(samples, dtype=np.int16).view(np.uint16)].tobytes())


def decode_payload(payload: bytes, law: Law) -> Samples:
    """Decode a PCMU (``"ulaw"``) or PCMA (``"alaw"``) payload to int16 samples."""
    table = ULAW_DECODE if law == "ulaw" else ALAW_DECODE
    return table[np.frombuffer(payload, dtype=np.uint8)]
