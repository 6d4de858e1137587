"""The recorder places G.711 payloads by timestamp and decodes them once."""

from __future__ import annotations

import struct

import numpy as np

from switchboard.media.g711 import encode_payload
from switchboard.media.recorder import Recorder


def packet(seq: int, timestamp: int, payload: bytes, payload_type: int = 0) -> bytes:
    return struct.pack("!BBHII", 0x80, payload_type, seq, timestamp, 0x1234) + payload


def tone(frames: int) -> np.ndarray:
    t = np.arange(frames * 160) / 8000
    return (np.sin(2 * np.pi * 1000 * t) * 8000).astype(np.int16)


def test_packets_are_placed_by_timestamp_and_gaps_stay_silent() -> None:
    audio = tone(4)
    recorder = Recorder(0, "ulaw", max_seconds=10)
    chunks = [encode_payload(audio[i * 160 : (i + 1) * 160], "ulaw") for i in range(4)]
    for index in (1, 0, 3):  # reordered, and frame 2 lost
        recorder.feed(packet(index, 1000 + index * 160, chunks[index]))
    recorder.feed(packet(9, 1000, b"\x05\x00\x00\xa0", payload_type=101))  # DTMF: not audio
    pcm = recorder.samples()
    assert len(pcm) == 640 and recorder.packets == 3 and recorder.seconds == 0.08
    assert not pcm[320:480].any()
    assert np.abs(pcm[:160].astype(int) - audio[:160]).max() < 400


def test_a_long_pause_does_not_become_silence_and_the_cap_holds() -> None:
    recorder = Recorder(8, "alaw", max_seconds=0.05)
    frame = encode_payload(tone(1)[:160], "alaw")
    recorder.feed(packet(1, 0, frame, 8))
    recorder.feed(packet(2, 8000 * 60, frame, 8))  # a minute later: joined, not a gap
    assert recorder.seconds == 0.04
    recorder.feed(packet(3, 8000 * 60 + 160, frame, 8))
    assert recorder.full and recorder.seconds == 0.04
    assert len(recorder.samples(trim_seconds=0.02)) == 160
