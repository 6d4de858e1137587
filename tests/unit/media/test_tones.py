"""Tones and the FFT check that finds a tone in audio (used by end-to-end tests)."""

from __future__ import annotations

import numpy as np
import pytest

from switchboard.media import g711
from switchboard.media.errors import DtmfError
from switchboard.media.tones import dtmf_tone, sine, tone_fraction


def test_sine_shape_and_level() -> None:
    tone = sine(1000, 0.5)
    assert tone.dtype == np.int16
    assert len(tone) == 4000
    assert int(np.max(tone)) == pytest.approx(16384, abs=2)
    assert sine(1000, 0.01, amplitude=1.0).max() == 32767


def test_a_tone_is_found_and_other_audio_is_not() -> None:
    tone = sine(1000, 2.0)
    assert tone_fraction(tone, 1000) == 1.0
    assert tone_fraction(tone, 1200) == 0.0
    assert tone_fraction(np.zeros(16000, dtype=np.int16), 1000) == 0.0
    noise = np.random.default_rng(3).normal(0, 4000, 16000).astype(np.int16)
    assert tone_fraction(noise, 1000) == 0.0
    assert tone_fraction(tone[:100], 1000) == 0.0


def test_half_tone_half_silence_and_through_g711() -> None:
    pcm = np.concatenate((sine(1000, 1.0), np.zeros(8000, dtype=np.int16)))
    assert tone_fraction(pcm, 1000) == 0.5
    through = g711.alaw_decode(g711.ULAW_TO_ALAW[g711.ulaw_encode(pcm)])
    assert tone_fraction(through, 1000) == 0.5


def test_tone_survives_moderate_noise() -> None:
    rng = np.random.default_rng(4)
    noisy = (sine(1000, 1.0).astype(np.float64) + rng.normal(0, 2000, 8000)).astype(np.int16)
    assert tone_fraction(noisy, 1000) == 1.0


def test_dtmf_tone_holds_both_frequencies() -> None:
    pcm = dtmf_tone("1", 1.0)
    assert tone_fraction(pcm, 697, share=0.4) == 1.0
    assert tone_fraction(pcm, 1209, share=0.4) == 1.0
    with pytest.raises(DtmfError):
        dtmf_tone("E", 0.1)
    with pytest.raises(DtmfError):
        dtmf_tone("12", 0.1)
