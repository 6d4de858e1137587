"""G.711: bit-exact against the standard's values and audioop, for every sample and code."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from switchboard.media import g711

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import audioop
    except ImportError:  # pragma: no cover - Python 3.13 dropped audioop
        audioop = None  # type: ignore[assignment]

ALL_SAMPLES = np.arange(-32768, 32768, dtype=np.int16)
ALL_CODES = np.arange(256, dtype=np.uint8)
needs_audioop = pytest.mark.skipif(audioop is None, reason="audioop left Python in 3.13")


@needs_audioop
def test_ulaw_encode_every_sample_matches_audioop() -> None:
    assert g711.ulaw_encode(ALL_SAMPLES).tobytes() == audioop.lin2ulaw(ALL_SAMPLES.tobytes(), 2)


@needs_audioop
def test_alaw_encode_every_sample_matches_audioop() -> None:
    assert g711.alaw_encode(ALL_SAMPLES).tobytes() == audioop.lin2alaw(ALL_SAMPLES.tobytes(), 2)


@needs_audioop
def test_decode_every_code_matches_audioop() -> None:
    codes = ALL_CODES.tobytes()
    assert g711.ulaw_decode(ALL_CODES).tobytes() == audioop.ulaw2lin(codes, 2)
    assert g711.alaw_decode(ALL_CODES).tobytes() == audioop.alaw2lin(codes, 2)


@pytest.mark.parametrize(
    ("code", "value"),
    [
        # µ-law (G.711 Table 2a): 0xFF/0x7F are +0/-0, 0x80/0x00 the largest magnitudes
        # (8031 in 14-bit units, times 4 here), segment ends at 0xEF, 0xDF, ...
        (0xFF, 0),
        (0x7F, 0),
        (0xFE, 8),
        (0x80, 32124),
        (0x00, -32124),
        (0xF0, 4 * 30),
        (0xEF, 4 * 33),
    ],
)
def test_ulaw_reference_values(code: int, value: int) -> None:
    assert int(g711.ULAW_DECODE[code]) == value


@pytest.mark.parametrize(
    ("code", "value"),
    [
        # A-law (G.711 Table 1a): even bits inverted, so 0xD5/0x55 are the smallest +/-
        # steps (1 in 13-bit units, times 8 here) and 0xAA/0x2A the largest (4032 x 8).
        (0xD5, 8),
        (0x55, -8),
        (0xAA, 32256),
        (0x2A, -32256),
        (0xD4, 24),
    ],
)
def test_alaw_reference_values(code: int, value: int) -> None:
    assert int(g711.ALAW_DECODE[code]) == value


def test_encoders_invert_decoders_on_every_code() -> None:
    assert np.array_equal(
        g711.ulaw_encode(g711.ULAW_DECODE), np.where(ALL_CODES == 0x7F, 0xFF, ALL_CODES)
    )
    assert np.array_equal(g711.alaw_encode(g711.ALAW_DECODE), ALL_CODES)


def test_encoding_is_monotonic_in_the_sample() -> None:
    decoded = g711.ulaw_decode(g711.ulaw_encode(ALL_SAMPLES)).astype(np.int32)
    assert np.all(np.diff(decoded) >= 0)
    decoded = g711.alaw_decode(g711.alaw_encode(ALL_SAMPLES)).astype(np.int32)
    assert np.all(np.diff(decoded) >= 0)


@pytest.mark.parametrize(
    ("ulaw", "alaw"),
    # G.711 Table 3 rows: µ-law zero, the first and the last segment, and the codes where
    # the table differs from decode-then-encode.
    [(0xFF, 0xD5), (0x7F, 0x55), (0xFE, 0xD5), (0xFC, 0xD4), (0x80, 0xAA), (0xA0, 0x8A)],
)
def test_ulaw_to_alaw_table_3(ulaw: int, alaw: int) -> None:
    assert g711.ULAW_TO_ALAW[ulaw] == alaw
    assert g711.ulaw_to_alaw(bytes((ulaw,))) == bytes((alaw,))


@pytest.mark.parametrize(
    ("alaw", "ulaw"),
    [(0xD5, 0xFE), (0x55, 0x7E), (0xAA, 0x80), (0x2A, 0x00), (0x80, 0xAA), (0x9A, 0xB0)],
)
def test_alaw_to_ulaw_table_4(alaw: int, ulaw: int) -> None:
    assert g711.ALAW_TO_ULAW[alaw] == ulaw
    assert g711.alaw_to_ulaw(bytes((alaw,))) == bytes((ulaw,))


def test_transcoding_stays_within_one_step_of_the_value() -> None:
    via_alaw = g711.ALAW_DECODE[g711.ULAW_TO_ALAW].astype(np.int32)
    original = g711.ULAW_DECODE.astype(np.int32)
    step = np.maximum(16, np.abs(original) // 16)
    assert np.all(np.abs(via_alaw - original) <= step)
    via_ulaw = g711.ULAW_DECODE[g711.ALAW_TO_ULAW].astype(np.int32)
    original = g711.ALAW_DECODE.astype(np.int32)
    step = np.maximum(16, np.abs(original) // 16)
    assert np.all(np.abs(via_ulaw - original) <= step)
    assert np.sign(via_ulaw).tolist() == np.sign(original).tolist()


def test_payload_helpers_round_trip_a_frame() -> None:
    frame = (np.sin(np.arange(160) / 5.0) * 12000).astype(np.int16)
    for law, decode in (("ulaw", g711.ULAW_DECODE), ("alaw", g711.ALAW_DECODE)):
        payload = g711.encode_payload(frame, law)
        assert len(payload) == 160
        samples = g711.decode_payload(payload, law)
        assert samples.dtype == np.int16
        assert np.array_equal(samples, decode[np.frombuffer(payload, dtype=np.uint8)])
        assert np.max(np.abs(samples.astype(np.int32) - frame)) < 400


def test_tables_are_read_only() -> None:
    with pytest.raises(ValueError):
        g711.ULAW_ENCODE[0] = 1
