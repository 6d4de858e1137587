"""The media graph's ports and the RTP edge, ticked by hand (no clock, no sockets)."""

from __future__ import annotations

import asyncio
import gc
import itertools
import struct
import weakref

import numpy as np
import pytest

from switchboard.media import clock as clock_module
from switchboard.media import g711
from switchboard.media.clock import MediaClock
from switchboard.media.codecs import CODECS
from switchboard.media.player import RtpPlayer
from switchboard.media.ports import (
    FRAME_SAMPLES,
    Frame,
    MediaGraph,
    SamplesSource,
    SilenceSource,
    ToneSource,
)
from switchboard.media.rtpport import RtpReceiver, RtpSender, packet_ticks
from switchboard.media.tones import tone_fraction

_HEADER = struct.Struct("!BBHII")


class Collect:
    """A sink that keeps what it is given."""

    def __init__(self) -> None:
        self.frames: list[Frame] = []

    def write(self, frame: Frame) -> None:
        self.frames.append(frame)

    def pcm(self) -> Frame:
        return np.concatenate(self.frames) if self.frames else np.zeros(0, np.int16)


def sender(sent: list[bytes], **options: object) -> RtpSender:
    options.setdefault("codec", CODECS["ulaw"])
    return RtpSender(
        sent.append,
        payload_type=0,
        ssrc=7,
        sequence=100,
        timestamp=1000,
        **options,  # type: ignore[arg-type]
    )


def headers(sent: list[bytes]) -> list[tuple[int, int, int]]:
    """(marker, sequence, timestamp) of each packet."""
    return [(p[1] >> 7, *_HEADER.unpack_from(p)[2:4]) for p in sent]


def test_a_samples_source_pads_its_last_frame_and_then_ends() -> None:
    source = SamplesSource(np.arange(1, 201, dtype=np.int16))
    assert source.frames_left == 2 and not source.ended
    first, second = source.read(), source.read()
    assert source.ended and first[0] == 1 and second[39] == 200 and not second[40:].any()
    assert not source.read().any()


def test_the_tone_generator_is_a_continuous_sine_of_its_length() -> None:
    tone = ToneSource(1000, 0.25)
    frames = []
    while not tone.ended:
        frames.append(tone.read())
    pcm = np.concatenate(frames)
    assert len(frames) == 13 and tone_fraction(pcm, 1000) == 1.0
    reference = np.round(0.5 * 32767 * np.sin(2 * np.pi * 1000 * np.arange(len(pcm)) / 8000))
    assert np.abs(pcm - reference).max() <= 1  # no phase jump between frames


def test_silence_lasts_its_length_or_until_disconnected() -> None:
    short, endless = SilenceSource(0.04), SilenceSource()
    graph, sink = MediaGraph(), Collect()
    graph.connect(short, sink)
    flow = graph.connect(endless, sink)
    for number in range(5):
        graph.tick(number)
    assert short.ended and not endless.ended and len(graph) == 1
    graph.disconnect(flow)
    graph.disconnect(flow)
    assert len(graph) == 0 and len(sink.frames) == 2 + 5 and not sink.pcm().any()


def test_the_graph_moves_one_frame_per_tick_to_every_sink_and_reports_the_end() -> None:
    graph, left, right = MediaGraph(), Collect(), Collect()
    starts: list[int] = []
    flow = graph.connect(SamplesSource(np.ones(480, np.int16)), left, right, on_start=starts.append)
    assert graph.tick(7) == [] and graph.tick(8) == []
    assert graph.tick(9) == [flow] and len(graph) == 0
    assert starts == [7] and flow.first_tick == 7 and flow.frames == 3
    assert len(left.frames) == len(right.frames) == 3 and graph.tick(10) == []


def test_the_sender_continues_its_stream_on_the_next_tick_and_jumps_after_a_pause() -> None:
    sent: list[bytes] = []
    out = sender(sent)
    for tick in (0, 1, 5):  # runs at ticks 0, 1 (back to back) and 5 (three ticks of pause)
        out.begin(tick)
        out.write(np.zeros(FRAME_SAMPLES, np.int16))
        out.finish()
    assert headers(sent) == [(1, 100, 1000), (0, 101, 1160), (1, 102, 1000 + 160 * 5)]
    assert out.last_tick == 5 and out.packets == 3


def test_the_sender_packs_g711_at_the_phones_ptime_and_pads_the_end() -> None:
    sent: list[bytes] = []
    out = sender(sent, codec=CODECS["alaw"], ptime=0.03)
    out.begin(0)
    for _ in range(4):  # 80 ms: two 30 ms packets and 20 ms held back
        out.write(np.full(FRAME_SAMPLES, 1000, np.int16))
    assert [len(p) - 12 for p in sent] == [240, 240]
    out.finish()
    assert len(sent) == 3 and sent[2][12 + 160 :] == b"\xd5" * 80
    assert [t for _, _, t in headers(sent)] == [1000, 1240, 1480]
    assert (
        g711.decode_payload(sent[0][12:], "alaw")[0]
        == g711.alaw_decode(g711.alaw_encode(np.array([1000], np.int16)))[0]
    )


def test_a_cut_run_drops_what_was_held_back() -> None:
    sent: list[bytes] = []
    out = sender(sent, ptime=0.03)
    out.begin(0)
    out.write(np.zeros(FRAME_SAMPLES, np.int16))
    out.discard()
    out.finish()
    assert sent == []


@pytest.mark.parametrize(
    ("toc", "ticks"),
    [
        (bytes([(1 << 3) | 0]), 960),  # SILK 20 ms, one frame
        (bytes([(3 << 3) | 1]), 2 * 2880),  # SILK 60 ms, two frames
        (bytes([(13 << 3) | 2]), 2 * 960),  # hybrid 20 ms, two frames
        (bytes([(31 << 3) | 3, 3]), 3 * 960),  # CELT 20 ms, three frames (code 3)
        (bytes([(16 << 3) | 0]), 120),  # CELT 2.5 ms
    ],
)
def test_an_opus_packet_s_length_comes_from_its_toc(toc: bytes, ticks: int) -> None:
    assert packet_ticks(CODECS["opus"], toc + b"\x00" * 10) == ticks


def test_g711_and_g722_packet_lengths_are_their_octets() -> None:
    assert packet_ticks(CODECS["ulaw"], bytes(240)) == 240
    assert packet_ticks(CODECS["g722"], bytes(160)) == 160


class Socket:
    def __init__(self) -> None:
        self.sent: list[tuple[float, bytes]] = []

    def sendto(self, data: bytes, address: object) -> None:
        self.sent.append((asyncio.get_running_loop().time(), data))

    def is_closing(self) -> bool:
        return False


@pytest.mark.asyncio
async def test_prompts_playing_at_once_share_one_clock_that_stops_when_idle() -> None:
    clock = MediaClock.running()
    sockets = [Socket() for _ in range(3)]
    players = [RtpPlayer(s, lambda: ("127.0.0.1", 9), payload_type=0, law="ulaw") for s in sockets]
    sources = [ToneSource(1000, 0.2), SilenceSource(0.1), SamplesSource(np.ones(800, np.int16))]
    await asyncio.gather(*(p.play_source(s) for p, s in zip(players, sources, strict=True)))
    assert [len(s.sent) for s in sockets] == [10, 5, 5]
    assert len(clock.graph) == 0 and clock._handle is None
    for socket in sockets:
        stamps = [_HEADER.unpack_from(data)[3] for _, data in socket.sent]
        assert {b - a for a, b in itertools.pairwise(stamps)} == {160}
    heard = g711.decode_payload(b"".join(d[12:] for _, d in sockets[0].sent), "ulaw")
    assert tone_fraction(heard, 1000) == 1.0


@pytest.mark.parametrize("name", ["g722", "opus"])
def test_a_codec_sender_plays_one_sound_after_another(name: str) -> None:
    sent: list[bytes] = []
    out = sender(sent, codec=CODECS[name])
    tone = ToneSource(700, 0.2)
    for run in range(2):  # each run ends with finish(): the second must encode as well
        out.begin(run * 20)
        while not tone.ended:
            out.write(tone.read())
        out.finish()
        tone = ToneSource(700, 0.2)
    assert len(sent) >= 20 and out.packets == len(sent)


class Broken:
    def write(self, frame: Frame) -> None:
        raise ValueError("codec failed")


def test_a_port_that_raises_ends_its_flow_only() -> None:
    graph, sink = MediaGraph(), Collect()
    broken = graph.connect(SilenceSource(1.0), Broken())
    fine = graph.connect(SilenceSource(0.06), sink)
    assert graph.tick(0) == [broken] and isinstance(broken.error, ValueError)
    assert graph.tick(1) == [] and graph.tick(2) == [fine] and fine.error is None
    assert len(sink.frames) == 3


@pytest.mark.asyncio
async def test_a_failed_play_raises_and_the_clock_keeps_ticking_for_the_others() -> None:
    clock = MediaClock.running()
    good = RtpPlayer(Socket(), lambda: ("127.0.0.1", 9), payload_type=0, law="ulaw")
    bad = RtpPlayer(Socket(), lambda: ("127.0.0.1", 9), payload_type=0, law="ulaw")
    results = await asyncio.gather(
        good.play_source(SilenceSource(0.1)),
        clock.play(SilenceSource(0.1), bad.sender, Broken()),
        return_exceptions=True,
    )
    assert results[0] is None and isinstance(results[1], ValueError)
    assert good.packets_sent == 5 and len(clock.graph) == 0


def test_a_closed_loop_s_clock_goes_with_it() -> None:
    loop = asyncio.new_event_loop()
    player = RtpPlayer(Socket(), lambda: None, payload_type=0, law="ulaw")
    loop.run_until_complete(player.play_source(SilenceSource(0.04)))
    loop.close()
    assert loop in clock_module._clocks
    gone = weakref.ref(loop)
    del loop
    gc.collect()
    assert gone() is None


def test_the_receiver_drops_rtp_padding_and_refuses_padding_longer_than_the_packet() -> None:
    sink = Collect()
    port = RtpReceiver(0, CODECS["ulaw"], (sink,), depth=0)
    frame = g711.encode_payload(np.full(160, 1000, np.int16), "ulaw")
    padded = bytes([0xA0]) + _HEADER.pack(0x80, 0, 1, 0, 7)[1:] + frame + b"\0\0\0\4"
    port.put(padded)
    port.put(bytes([0xA0]) + _HEADER.pack(0x80, 0, 2, 160, 7)[1:] + b"\xff")
    port.flush()
    assert [len(f) for f in sink.frames] == [160] and port.packets == 1
