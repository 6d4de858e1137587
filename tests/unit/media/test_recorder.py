"""The recorder keeps what the receive port writes: packets in timestamp order, decoded,
lost ones as silence; its silence meter is Asterisk's."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from switchboard.media.codecs import CODECS
from switchboard.media.g711 import decode_payload, encode_payload
from switchboard.media.recorder import Recorder
from switchboard.media.rtpport import RtpReceiver


def packet(seq: int, timestamp: int, payload: bytes, payload_type: int = 0) -> bytes:
    return struct.pack("!BBHII", 0x80, payload_type, seq, timestamp, 0x1234) + payload


def tone(frames: int) -> np.ndarray:
    t = np.arange(frames * 160) / 8000
    return (np.sin(2 * np.pi * 1000 * t) * 8000).astype(np.int16)


def receiver(recorder: Recorder, payload_type: int = 0, law: str = "ulaw") -> RtpReceiver:
    return RtpReceiver(payload_type, CODECS[law], (recorder,))


def test_packets_are_placed_by_timestamp_and_gaps_stay_silent() -> None:
    audio = tone(4)
    recorder = Recorder(max_seconds=10)
    port = receiver(recorder)
    chunks = [encode_payload(audio[i * 160 : (i + 1) * 160], "ulaw") for i in range(4)]
    for index in (1, 0, 3):  # reordered, and frame 2 lost
        port.put(packet(index, 1000 + index * 160, chunks[index]))
    port.put(packet(9, 1000, b"\x05\x00\x00\xa0", payload_type=101))  # DTMF: not audio
    assert recorder.seconds == 0.04  # two frames out, two held for ordering
    port.flush()
    pcm = recorder.samples()
    assert len(pcm) == 640 and port.packets == 3 and recorder.seconds == 0.08
    assert port.concealed == 1 and not pcm[320:480].any()
    assert np.abs(pcm[:160].astype(int) - audio[:160]).max() < 400


def test_a_long_pause_does_not_become_silence_and_the_cap_holds() -> None:
    recorder = Recorder(max_seconds=0.05)
    port = receiver(recorder, 8, "alaw")
    frame = encode_payload(tone(1)[:160], "alaw")
    port.put(packet(1, 0, frame, 8))
    port.put(packet(2, 8000 * 60, frame, 8))  # a minute later: joined, not a gap
    port.flush()
    assert recorder.seconds == 0.04
    port.put(packet(3, 8000 * 60 + 160, frame, 8))
    port.flush()
    assert recorder.full and recorder.seconds == 0.04
    assert len(recorder.samples(trim_seconds=0.02)) == 160


def test_packets_of_another_length_set_the_grid_and_the_silence() -> None:
    recorder = Recorder(max_seconds=10)
    port = receiver(recorder)
    frame = encode_payload(tone(2)[:240], "ulaw")  # 30 ms packets (a=ptime:30)
    for index in (0, 1, 3, 4):  # packet 2 lost
        port.put(packet(index, index * 240, frame))
    port.flush()
    pcm = recorder.samples()
    assert len(pcm) == 5 * 240 and not pcm[480:720].any() and pcm[720:].any()


def level_frame(level: int, law: str = "ulaw") -> np.ndarray:
    """A 20 ms frame whose samples are all +-``level`` after a G.711 round trip."""
    samples = np.where(np.arange(160) % 2 == 0, level, -level).astype(np.int16)
    return decode_payload(encode_payload(samples, law), law)  # type: ignore[arg-type]


def test_trailing_silence_counts_quiet_frames_at_the_end_only() -> None:
    recorder = Recorder(max_seconds=10, silence_threshold=128)
    assert recorder.trailing_silence() == 0.0
    for _ in range(5):
        recorder.write(level_frame(0))
    assert recorder.trailing_silence() == 0.1  # silence from the start counts
    recorder.write(level_frame(2000))
    recorder.write(level_frame(50))
    assert recorder.trailing_silence() == 0.02  # the loud frame reset it
    for _ in range(10):
        recorder.write(level_frame(100))
    assert recorder.trailing_silence() == pytest.approx(0.22)
    assert recorder.trailing_silence() == pytest.approx(0.22)  # nothing new: unchanged


def test_the_threshold_is_on_the_average_absolute_sample() -> None:
    decoded = int(np.abs(level_frame(128, "alaw").astype(int)).mean())
    quiet = Recorder(max_seconds=1, silence_threshold=decoded + 1)
    loud = Recorder(max_seconds=1, silence_threshold=decoded)
    for recorder in (quiet, loud):
        recorder.write(level_frame(128, "alaw"))
    assert quiet.trailing_silence() == 0.02  # average < threshold: silent
    assert loud.trailing_silence() == 0.0  # average == threshold: not silent (Asterisk)


def test_a_loud_frame_within_one_batch_keeps_only_what_follows_it() -> None:
    recorder = Recorder(max_seconds=10)
    frames = [level_frame(0)] * 3 + [level_frame(5000)] + [level_frame(10)] * 4
    for frame in frames:
        recorder.write(frame)
    recorder.write(np.zeros(0, np.int16))  # an empty frame is not a frame
    assert recorder.trailing_silence() == 0.08


def test_samples_trims_the_silence_asked() -> None:
    recorder = Recorder(max_seconds=10)
    for index in range(50):
        recorder.write(level_frame(3000 if index < 25 else 0))
    assert recorder.trailing_silence() == 0.5
    assert len(recorder.samples(0.5 - 0.2)) == 8000 * 0.7
