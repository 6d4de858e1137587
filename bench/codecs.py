"""Benchmark the codecs per 20 ms frame, in one process on one core, against the G.711
table transcoding of the same frame measured in the same run.

Per frame: each codec's encode and decode (G.711 by numpy tables, G.722 and Opus through
PyAV/FFmpeg), a rate change (libswresample via PyAV), and a whole RTP packet through an
:class:`~switchboard.media.transcode.RtpTranscoder` for each direction of the calls the
relay transcodes (decode, resample, encode, header). The audio is speech-like: a 300 Hz
sawtooth with harmonics up to 4 kHz, so Opus and G.722 do real work.

The last lines give the CPU share of one core a transcoded call costs (both directions)
and how many such calls one core carries at most; the headline is the µ-law <-> Opus
packet against the µ-law <-> A-law table packet.

Run: ``.venv/bin/python bench/codecs.py [--seconds 0.5]``.
"""

from __future__ import annotations

import argparse
import struct
import time
from collections.abc import Callable

import numpy as np

from switchboard.media import g711
from switchboard.media.codecs import CODECS, Resampler, encode_all
from switchboard.media.rtp import translate_payload
from switchboard.media.transcode import RtpTranscoder

FRAMES = 250  # 5 s of audio, cycled


def speech_like(seconds: float, rate: int) -> np.ndarray:
    """A 300 Hz sawtooth (harmonics to the band edge), 8000 peak."""
    t = np.arange(round(seconds * rate)) / rate
    wave = 2 * ((300 * t) % 1.0) - 1
    return (wave * 8000).astype(np.int16)


def per_call(function: Callable[[int], object], seconds: float) -> float:
    """Microseconds per call of ``function(index)``, over at least ``seconds``."""
    count = 0
    start = time.perf_counter()
    while True:
        for index in range(FRAMES):
            function(index)
        count += FRAMES
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return elapsed / count * 1e6


def rtp(index: int, payload: bytes, ticks: int, payload_type: int) -> bytes:
    return struct.pack("!BBHII", 0x80, payload_type, index, index * ticks, 0x1234) + payload


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.5, help="per figure")
    seconds = parser.parse_args().seconds

    figures: dict[str, float] = {}
    for name, codec in CODECS.items():
        pcm = speech_like(FRAMES / 50, codec.sample_rate)
        frames = [
            pcm[i * codec.frame_samples : (i + 1) * codec.frame_samples] for i in range(FRAMES)
        ]
        encoder = codec.encoder()
        payloads = [encoder.encode(frame) for frame in frames]
        fresh = codec.encoder()
        decoder = codec.decoder()
        figures[f"{name} encode"] = per_call(lambda i, e=fresh, f=frames: e.encode(f[i]), seconds)
        figures[f"{name} decode"] = per_call(
            lambda i, d=decoder, p=payloads: d.decode(p[i]), seconds
        )
        octets = sum(map(len, payloads)) / FRAMES
        print(f"{name} payload: {octets:.0f} octets/frame ({octets * 8 * 50 / 1000:.1f} kbit/s)")

    narrow = [speech_like(0.02, 8000)] * FRAMES
    for target in (16000, 48000):
        resampler = Resampler(8000, target)
        figures[f"resample 8000->{target}"] = per_call(
            lambda i, r=resampler: r.resample(narrow[i]), seconds
        )

    packets: dict[str, list[bytes]] = {}
    for name, codec in CODECS.items():
        payloads = encode_all(speech_like(FRAMES / 50, 8000), 8000, codec)
        packets[name] = [rtp(i, p, codec.frame_ticks, 0) for i, p in enumerate(payloads)]
    table = g711.ULAW_TO_ALAW_BYTES
    ulaw = packets["ulaw"]
    baseline = per_call(lambda i: translate_payload(ulaw[i], table, 8), seconds)
    figures["ulaw->alaw packet (table, baseline)"] = baseline
    pairs = [("ulaw", "g722"), ("g722", "ulaw"), ("ulaw", "opus"), ("opus", "ulaw")]
    for source, target in pairs:
        transcoder = RtpTranscoder(CODECS[source], CODECS[target], 96)
        sent = packets[source]
        figures[f"{source}->{target} packet"] = per_call(
            lambda i, t=transcoder, s=sent: t(s[i]), seconds
        )

    for label, value in figures.items():
        print(f"{label}: {value:.1f} us/frame")
    for a, b in (("ulaw", "g722"), ("ulaw", "opus")):
        call = figures[f"{a}->{b} packet"] + figures[f"{b}->{a} packet"]
        print(f"{a}<->{b} call: {call / 200:.2f} % of a core")
        print(f"{a}<->{b} calls per core: {20000 / call:.0f}")
    opus_call = figures["ulaw->opus packet"] + figures["opus->ulaw packet"]
    print(f"ulaw<->opus vs ulaw<->alaw per call: {opus_call / (2 * baseline):.0f} x")


if __name__ == "__main__":
    main()
