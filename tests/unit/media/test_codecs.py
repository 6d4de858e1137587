"""The codec registry, resampling, RTP transcoding, and recording and playing in G.722 and
Opus: a tone goes through each codec and comes out at its own frequency."""

from __future__ import annotations

import itertools
import struct

import av
import numpy as np
import pytest

from switchboard.media.codecs import (
    CODECS,
    CodecError,
    PcmDecoder,
    PcmEncoder,
    _pcm,
    codec_for,
    codec_named,
    encode_all,
    resample,
)
from switchboard.media.errors import MediaError
from switchboard.media.player import RtpPlayer
from switchboard.media.ports import MediaGraph, SamplesSource
from switchboard.media.recorder import Recorder
from switchboard.media.rtpport import RtpReceiver, RtpSender
from switchboard.media.transcode import RtpTranscoder

_HEADER = struct.Struct("!BBHII")


def tone(freq: float, seconds: float, rate: int = 8000, level: float = 8000) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (np.sin(2 * np.pi * freq * t) * level).astype(np.int16)


def peak(samples: np.ndarray, rate: int = 8000) -> float:
    """The strongest frequency of the last half second."""
    tail = samples[-rate // 2 :].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(tail * np.hanning(len(tail))))
    return float(spectrum.argmax() * rate / len(tail))


def packet(seq: int, timestamp: int, payload: bytes, payload_type: int, marker: bool = False):
    second = payload_type | (0x80 if marker else 0)
    return _HEADER.pack(0x80, second, seq, timestamp, 0xCAFE) + payload


def test_codecs_are_found_by_name_and_payload_type() -> None:
    assert codec_named("G722") is CODECS["g722"]
    assert codec_named("gsm") is None and codec_named(None) is None
    assert codec_for(0) is CODECS["ulaw"] and codec_for(8) is CODECS["alaw"]
    assert codec_for(9) is CODECS["g722"]
    assert codec_for(107) is None  # dynamic: only what the SDP said
    assert codec_for(107, {107: "opus"}) is CODECS["opus"]
    assert codec_for(0, {0: "gsm"}) is None  # the stream's own map wins
    g722, opus = CODECS["g722"], CODECS["opus"]
    assert (g722.sample_rate, g722.clock_rate, g722.frame_samples, g722.frame_ticks) == (
        16000,
        8000,
        320,
        160,
    )
    assert (opus.frame_samples, opus.frame_ticks) == (960, 960)
    assert CODECS["ulaw"].law == "ulaw" and g722.law is None


@pytest.mark.parametrize("name", sorted(CODECS))
@pytest.mark.parametrize("freq", [440, 1000])
def test_a_tone_goes_through_each_codec(name: str, freq: int) -> None:
    codec = CODECS[name]
    payloads = encode_all(tone(freq, 1.0), 8000, codec)
    assert len(payloads) == 50  # 20 ms each
    if name in ("ulaw", "alaw", "g722"):
        assert {len(payload) for payload in payloads} == {160}  # 64 kbit/s
    decoder = PcmDecoder(codec, 8000)
    pcm = np.concatenate([decoder.decode(payload) for payload in payloads])
    assert 7600 <= len(pcm) <= 8000
    assert abs(peak(pcm) - freq) <= 10
    assert np.sqrt(np.mean(pcm[-4000:].astype(np.float64) ** 2)) > 3000  # not attenuated away


def test_decoders_keep_their_state_and_refuse_garbage() -> None:
    assert len(CODECS["g722"].decoder().decode(b"")) == 0
    with pytest.raises(CodecError):
        CODECS["opus"].decoder().decode(b"\xff" * 3)


def test_resampling_keeps_the_frequency_and_scales_the_length() -> None:
    up = resample(tone(1000, 1.0), 8000, 48000)
    assert abs(len(up) - 48000) <= 48 and abs(peak(up, 48000) - 1000) <= 10
    down = resample(tone(1000, 1.0, 16000), 16000, 8000)
    assert abs(len(down) - 8000) <= 8 and abs(peak(down) - 1000) <= 10
    same = tone(1000, 0.1)
    assert resample(same, 8000, 8000) is same


def test_the_encoder_waits_for_whole_frames_and_bounds_its_backlog() -> None:
    encoder = PcmEncoder(CODECS["opus"], 8000)
    assert encoder.encode(tone(440, 0.01)) == []  # 10 ms: no whole 20 ms frame yet
    assert len(encoder.encode(tone(440, 0.2), max_frames=1)) == 1
    # 200 ms arrived, one frame sent: at most MAX_BACKLOG (3) frames still wait.
    assert len(encoder.encode(tone(440, 0.0), max_frames=10)) <= 3


def transcode(source: str, target: str, freq: int, payload_type: int) -> list[bytes]:
    """One second of ``freq`` sent as ``source`` RTP, transcoded to ``target``."""
    source_codec = CODECS[source]
    transcoder = RtpTranscoder(source_codec, CODECS[target], payload_type)
    out = []
    for index, payload in enumerate(encode_all(tone(freq, 1.0), 8000, source_codec)):
        stamp = 0xFFFFFF00 + index * source_codec.frame_ticks  # wraps after a few packets
        sent = transcoder(packet(100 + index, stamp & 0xFFFFFFFF, payload, 0, index == 0))
        if sent is not None:
            out.append(sent)
    return out


@pytest.mark.parametrize(
    ("source", "target"),
    [("ulaw", "opus"), ("opus", "ulaw"), ("g722", "alaw"), ("alaw", "g722"), ("g722", "opus")],
)
def test_rtp_transcoding_decodes_resamples_and_encodes(source: str, target: str) -> None:
    packets = transcode(source, target, 1000, 107)
    assert len(packets) >= 48  # the resampler may hold back the first frame
    codec = CODECS[target]
    headers = [_HEADER.unpack_from(data) for data in packets]
    assert {header[1] & 0x7F for header in headers} == {107}
    assert {header[4] for header in headers} == {0xCAFE}
    steps = {(b[3] - a[3]) & 0xFFFFFFFF for a, b in itertools.pairwise(headers)}
    assert steps == {codec.frame_ticks}  # the target's clock, across the source's wrap
    assert [h[2] for h in headers] == sorted(h[2] for h in headers)  # sequence kept
    decoder = PcmDecoder(codec, 8000)
    pcm = np.concatenate([decoder.decode(data[12:]) for data in packets])
    assert abs(peak(pcm) - 1000) <= 10


def test_a_cut_packet_is_refused() -> None:
    transcoder = RtpTranscoder(CODECS["ulaw"], CODECS["g722"], 9)
    with pytest.raises(MediaError):
        transcoder(b"\x80\x00\x00")
    with pytest.raises(MediaError):
        transcoder(_HEADER.pack(0xA0, 0, 1, 0, 1) + b"\x00\x05")  # padding past the payload


@pytest.mark.parametrize(("name", "payload_type"), [("g722", 9), ("opus", 107)])
def test_the_recorder_decodes_wideband_packets_to_8khz(name: str, payload_type: int) -> None:
    codec = CODECS[name]
    recorder = Recorder(max_seconds=10)
    port = RtpReceiver(payload_type, codec, (recorder,))
    payloads = encode_all(tone(440, 1.0), 8000, codec)
    for index, payload in enumerate(payloads):
        port.put(packet(index, 5000 + index * codec.frame_ticks, payload, payload_type))
    port.flush()
    pcm = recorder.samples()
    assert port.packets == 50 and port.concealed == 0 and abs(recorder.seconds - 1.0) < 0.03
    assert abs(peak(pcm) - 440) <= 10
    assert recorder.trailing_silence() == 0.0
    quiet = encode_all(np.zeros(1600, dtype=np.int16), 8000, codec)
    for index, payload in enumerate(quiet, start=50):
        port.put(packet(index, 5000 + index * codec.frame_ticks, payload, payload_type))
    port.flush()
    assert recorder.trailing_silence() >= 0.12


class Sink:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def sendto(self, data: bytes, address: object) -> None:
        self.sent.append(data)

    def is_closing(self) -> bool:
        return False


@pytest.mark.parametrize(("name", "ticks"), [("g722", 160), ("opus", 960), ("alaw", 160)])
def test_the_sender_encodes_with_the_legs_codec(name: str, ticks: int) -> None:
    sent: list[bytes] = []
    sender = RtpSender(
        sent.append, payload_type=9, codec=CODECS[name], ssrc=1, sequence=0, timestamp=0
    )
    graph = MediaGraph()
    graph.connect(SamplesSource(tone(1000, 0.5)), sender, on_start=sender.begin)
    for number in range(25):
        graph.tick(number)
    sender.finish()
    assert len(graph) == 0 and 25 <= len(sent) <= 26
    stamps = [_HEADER.unpack_from(p)[3] for p in sent]
    assert {b - a for a, b in itertools.pairwise(stamps)} == {ticks}
    decoder = PcmDecoder(CODECS[name], 8000)
    heard = np.concatenate([decoder.decode(p[12:]) for p in sent])
    assert abs(peak(heard[:3600]) - 1000) <= 20


@pytest.mark.parametrize("layout", ["stereo", "mono"])
@pytest.mark.parametrize("sample_format", ["s16", "s16p", "flt", "fltp"])
def test_decoded_frames_of_any_format_become_mono_int16(layout: str, sample_format: str) -> None:
    left = tone(1000, 0.02, level=8000)
    channels = 2 if layout == "stereo" else 1
    planar = sample_format.endswith("p")
    rows = np.stack([left] * channels)
    if sample_format.startswith("flt"):
        rows = rows.astype(np.float32) / 32768
    data = rows if planar else rows.T.reshape(1, -1)
    frame = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(data), format=sample_format, layout=layout
    )
    mono = _pcm(frame)
    assert mono.dtype == np.int16 and len(mono) == len(left)
    assert np.abs(mono.astype(int) - left).max() <= 1


def test_a_g722_sound_file_plays_on_any_leg(tmp_path) -> None:
    path = tmp_path / "vm-intro.g722"
    path.write_bytes(b"".join(encode_all(tone(1000, 0.5), 8000, CODECS["g722"])))
    ulaw = RtpPlayer(Sink(), lambda: None, payload_type=0, law="ulaw")
    samples = ulaw.load(path)
    assert abs(len(samples) - 4000) <= 80
    assert abs(peak(samples[:3600]) - 1000) <= 20
    path.write_bytes(b"")
    assert len(ulaw.load(path)) == 0
