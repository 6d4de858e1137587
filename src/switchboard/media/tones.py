"""Test tones and a check of audio by content: sine generation and an FFT tone finder.

End-to-end tests send a tone (1 kHz, or DTMF) through the PBX and check with
:func:`tone_fraction` that what came out carries it: the share of ``window``-second windows
whose spectrum (Hann window, mean removed) holds more than ``share`` of its energy within
``tolerance`` of the frequency. Windows quieter than ``min_rms`` never count, so silence and
noise score 0.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from switchboard.media.dtmf import COLUMN_FREQUENCIES, KEYPAD, ROW_FREQUENCIES, event_code

SAMPLE_RATE = 8000
_KEYPAD_POSITION = {
    event_code(key): (row, column)
    for row, keys in enumerate(KEYPAD)
    for column, key in enumerate(keys)
}


def sine(
    frequency: float,
    duration: float,
    *,
    amplitude: float = 0.5,
    sample_rate: int = SAMPLE_RATE,
    phase: float = 0.0,
) -> npt.NDArray[np.int16]:
    """A sine of ``frequency`` Hz for ``duration`` s, ``amplitude`` of full scale, int16."""
    t = np.arange(round(duration * sample_rate), dtype=np.float64) / sample_rate
    wave = amplitude * 32767.0 * np.sin(2.0 * np.pi * frequency * t + phase)
    return np.round(wave).astype(np.int16)


def dtmf_tone(
    digit: str, duration: float, *, amplitude: float = 0.25, sample_rate: int = SAMPLE_RATE
) -> npt.NDArray[np.int16]:
    """The two-tone DTMF signal of ``digit``, each tone at ``amplitude`` of full scale."""
    row, column = _KEYPAD_POSITION[event_code(digit)]
    low = sine(ROW_FREQUENCIES[row], duration, amplitude=amplitude, sample_rate=sample_rate)
    high = sine(COLUMN_FREQUENCIES[column], duration, amplitude=amplitude, sample_rate=sample_rate)
    return (low.astype(np.int32) + high).astype(np.int16)


def tone_fraction(
    pcm: npt.NDArray[np.int16],
    frequency: float,
    *,
    sample_rate: int = SAMPLE_RATE,
    window: float = 0.1,
    tolerance: float = 0.05,
    share: float = 0.5,
    min_rms: float = 100.0,
) -> float:
    """Share of 100 ms windows with over ``share`` of their energy within ±5 % of ``frequency``."""
    size = round(window * sample_rate)
    count = len(pcm) // size
    if count == 0:
        return 0.0
    frames = pcm[: count * size].astype(np.float64).reshape(count, size)
    frames -= frames.mean(axis=1, keepdims=True)
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(size), axis=1)) ** 2
    bins = np.fft.rfftfreq(size, 1.0 / sample_rate)
    band = (bins >= frequency * (1 - tolerance)) & (bins <= frequency * (1 + tolerance))
    total = spectrum.sum(axis=1)
    in_band = spectrum[:, band].sum(axis=1)
    loud = np.sqrt((frames * frames).mean(axis=1)) >= min_rms
    hits = loud & (in_band > share * np.maximum(total, 1e-12))
    return float(np.count_nonzero(hits)) / count
