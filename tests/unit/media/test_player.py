"""The RTP player with real UDP sockets on 127.0.0.1, and the sound files it reads.

Timing is never asserted beyond what the schedule guarantees (a run cannot end before its
last packet is due); packets are checked by their headers and by their decoded content.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import pytest_asyncio

from switchboard.media import g711
from switchboard.media.player import (
    RtpPlayer,
    SoundFileError,
    parse_wav,
    read_sound,
    to_8khz,
)
from switchboard.media.rtp import RtpPacket, seq_delta, timestamp_delta
from switchboard.media.tones import sine, tone_fraction
from tests.unit.cycles import cyclic_garbage

HOST = "127.0.0.1"
DEADLINE = 5.0


def wav_bytes(
    samples: np.ndarray[Any, Any],
    *,
    rate: int = 8000,
    channels: int = 1,
    bits: int = 16,
    tag: int = 1,
    extensible: bool = False,
    extra_chunk: bytes = b"",
) -> bytes:
    """A RIFF/WAVE file around ``samples`` (already interleaved, already ``bits`` wide)."""
    data = np.asarray(samples).astype("<i2").tobytes() if bits == 16 else bytes(samples)
    block = channels * bits // 8
    if extensible:
        fmt = struct.pack(
            "<HHIIHHHHI16s", 0xFFFE, channels, rate, rate * block, block, bits, 22, bits, 0,
            struct.pack("<H", tag) + b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71",
        )  # fmt: skip
    else:
        fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt + extra_chunk
    chunks += b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


# -- sound files ----------------------------------------------------------------------------


def test_wav_8khz_mono_is_read_sample_for_sample():
    tone = sine(1000, 0.1)
    samples, rate = parse_wav(wav_bytes(tone))
    assert rate == 8000
    np.testing.assert_array_equal(samples, tone)


def test_wav_extensible_pcm_and_odd_chunks_before_data_are_read():
    tone = sine(1000, 0.05)
    odd = b"LIST" + struct.pack("<I", 3) + b"abc\x00"  # odd size: one pad octet follows
    samples, _ = parse_wav(wav_bytes(tone, extensible=True, extra_chunk=odd))
    np.testing.assert_array_equal(samples, tone)


def test_stereo_wav_is_mixed_down():
    left = sine(1000, 0.05)
    right = np.zeros_like(left)
    interleaved = np.column_stack((left, right)).reshape(-1)
    samples, _ = parse_wav(wav_bytes(interleaved, channels=2))
    np.testing.assert_array_equal(samples, (left.astype(np.int32) // 2).astype(np.int16))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not a wave file at all", "not a RIFF/WAVE file"),
        (wav_bytes(sine(1000, 0.01), tag=7), "WAV format 7: expected 1"),
        (wav_bytes(bytes(80), bits=8), "8-bit samples: expected 16-bit"),
        (wav_bytes(sine(1000, 0.01))[:36], "without a 'data' chunk"),
        (
            b"RIFF\x10\x00\x00\x00WAVEdata\x02\x00\x00\x00\x00\x00",
            "'data' chunk before any 'fmt ' chunk",
        ),
    ],
)
def test_unplayable_wav_files_say_what_is_wrong(data: bytes, message: str):
    with pytest.raises(SoundFileError, match=message):
        parse_wav(data)


@pytest.mark.parametrize(("rate", "folding"), [(16000, 7000), (48000, 9000)])
def test_whole_multiples_of_8khz_are_filtered_and_decimated(rate: int, folding: int):
    tone = sine(1000, 1.0, sample_rate=rate)
    alias = sine(folding, 1.0, sample_rate=rate)  # would fold onto 1 kHz unfiltered
    down = to_8khz(tone, rate)
    assert len(down) == 8000
    assert tone_fraction(down, 1000) == 1.0
    # Content above 4 kHz would fold back into the band; the low-pass removes it.
    folded = to_8khz(alias, rate)
    assert np.sqrt(np.mean(folded.astype(np.float64) ** 2)) < 0.01 * 16384


def test_other_sample_rates_are_refused_with_the_fix():
    with pytest.raises(SoundFileError, match=r"sample rate 44100 Hz: .*sox"):
        to_8khz(sine(1000, 0.1, sample_rate=44100), 44100)


def test_read_sound_encodes_or_transcodes_to_the_channel_law(tmp_path: Path):
    tone = sine(1000, 0.1)
    ulaw = g711.encode_payload(tone, "ulaw")
    alaw = g711.encode_payload(tone, "alaw")
    (tmp_path / "a.wav").write_bytes(wav_bytes(tone))
    (tmp_path / "a.ulaw").write_bytes(ulaw)
    (tmp_path / "a.al").write_bytes(alaw)
    (tmp_path / "a.sln").write_bytes(tone.astype("<i2").tobytes())
    assert read_sound(tmp_path / "a.wav", "ulaw") == ulaw
    assert read_sound(tmp_path / "a.wav", "alaw") == alaw
    assert read_sound(tmp_path / "a.sln", "alaw") == alaw
    assert read_sound(tmp_path / "a.ulaw", "ulaw") == ulaw
    assert read_sound(tmp_path / "a.ulaw", "alaw") == g711.ulaw_to_alaw(ulaw)
    assert read_sound(tmp_path / "a.al", "ulaw") == g711.alaw_to_ulaw(alaw)


def test_read_sound_names_the_file_it_cannot_play(tmp_path: Path):
    (tmp_path / "loud.wav").write_bytes(wav_bytes(sine(1000, 0.1, sample_rate=22050), rate=22050))
    with pytest.raises(SoundFileError, match=r"loud\.wav: sample rate 22050 Hz"):
        read_sound(tmp_path / "loud.wav", "ulaw")
    with pytest.raises(SoundFileError, match=r"missing\.ulaw"):
        read_sound(tmp_path / "missing.ulaw", "ulaw")
    with pytest.raises(SoundFileError, match=r"song\.mp3: unsupported format"):
        read_sound(tmp_path / "song.mp3", "ulaw")


# -- the player -----------------------------------------------------------------------------


class Collector(asyncio.DatagramProtocol):
    """The phone's RTP port: every datagram received, with the loop time it came."""

    def __init__(self) -> None:
        self.packets: list[tuple[bytes, float]] = []
        self.loop = asyncio.get_running_loop()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.packets.append((data, self.loop.time()))

    def parsed(self) -> list[RtpPacket]:
        return [RtpPacket.parse(data) for data, _ in self.packets]


class Sockets:
    def __init__(
        self,
        sender: asyncio.DatagramTransport,
        receiver: asyncio.DatagramTransport,
        collector: Collector,
    ) -> None:
        self.sender = sender
        self.receiver = receiver
        self.collector = collector

    @property
    def phone(self) -> tuple[str, int]:
        name = self.receiver.get_extra_info("sockname")
        return (name[0], name[1])

    def player(self, **options: Any) -> RtpPlayer:
        phone = self.phone
        options.setdefault("payload_type", 0)
        options.setdefault("law", "ulaw")
        return RtpPlayer(self.sender, lambda: phone, **options)

    async def wait_for(self, count: int) -> list[RtpPacket]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DEADLINE
        while len(self.collector.packets) < count:
            assert loop.time() < deadline, f"{len(self.collector.packets)} of {count} packets"
            await asyncio.sleep(0.01)
        return self.collector.parsed()


@pytest_asyncio.fixture
async def sockets() -> AsyncIterator[Sockets]:
    loop = asyncio.get_running_loop()
    sender, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=(HOST, 0))
    collector = Collector()
    receiver, _ = await loop.create_datagram_endpoint(lambda: collector, local_addr=(HOST, 0))
    yield Sockets(sender, receiver, collector)
    sender.close()
    receiver.close()


def assert_one_stream(packets: list[RtpPacket], payload_type: int = 0) -> None:
    """One SSRC, one payload type, sequence +1 and timestamp +160 from packet to packet."""
    assert len({p.ssrc for p in packets}) == 1
    assert {p.payload_type for p in packets} == {payload_type}
    for before, after in itertools.pairwise(packets):
        assert seq_delta(after.sequence_number, before.sequence_number) == 1
        assert timestamp_delta(after.timestamp, before.timestamp) == 160
        assert len(after.payload) == 160


@pytest.mark.asyncio
async def test_a_1khz_wav_comes_out_as_50_packets_a_second_of_1khz(sockets: Sockets):
    tone = sine(1000, 1.0)
    player = sockets.player(payload_type=0, law="ulaw")
    loop = asyncio.get_running_loop()
    started = loop.time()
    await player.play(g711.encode_payload(tone, "ulaw"))
    elapsed = loop.time() - started
    packets = await sockets.wait_for(50)
    assert len(packets) == 50 and player.packets_sent == 50
    assert_one_stream(packets)
    assert [p.marker for p in packets] == [True] + [False] * 49
    # The schedule is absolute: the 50th packet is not due before 49 * 20 ms.
    assert elapsed >= 0.98 - 0.005
    arrivals = [at for _, at in sockets.collector.packets]
    assert arrivals[-1] - arrivals[0] >= 0.98 - 0.005
    heard = g711.decode_payload(b"".join(p.payload for p in packets), "ulaw")
    assert tone_fraction(heard, 1000) == 1.0
    assert tone_fraction(heard, 2000) == 0.0


@pytest.mark.asyncio
async def test_alaw_with_a_dynamic_payload_type_and_a_padded_last_packet(sockets: Sockets):
    tone = sine(1000, 0.11)  # 880 samples: five packets and a half
    player = sockets.player(payload_type=118, law="alaw")
    await player.play(g711.encode_payload(tone, "alaw"))
    packets = await sockets.wait_for(6)
    assert_one_stream(packets, payload_type=118)
    assert packets[-1].payload[80:] == b"\xd5" * 80  # A-law silence
    heard = g711.decode_payload(b"".join(p.payload for p in packets), "alaw")
    np.testing.assert_array_equal(heard[:880], g711.alaw_decode(g711.alaw_encode(tone)))


@pytest.mark.asyncio
async def test_sequence_and_timestamp_wrap_around(sockets: Sockets):
    player = sockets.player(rng=random.Random(7))
    player.sender.sequence, player.sender.timestamp = 0xFFFE, 0xFFFFFF00
    await player.play(bytes(160 * 4))
    packets = await sockets.wait_for(4)
    assert [p.sequence_number for p in packets] == [0xFFFE, 0xFFFF, 0, 1]
    assert [p.timestamp for p in packets] == [0xFFFFFF00, 0xFFFFFFA0, 0x40, 0xE0]


@pytest.mark.asyncio
async def test_ssrc_sequence_and_timestamp_start_at_random():
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, (HOST, 0))
    try:
        players = [RtpPlayer(transport, lambda: None, payload_type=0, law="ulaw") for _ in range(4)]
    finally:
        transport.close()
    assert len({p.sender.ssrc for p in players}) == 4
    assert len({(p.sender.sequence, p.sender.timestamp) for p in players}) == 4


@pytest.mark.asyncio
async def test_files_back_to_back_continue_one_stream(sockets: Sockets):
    player = sockets.player()
    first = g711.encode_payload(sine(1000, 0.1), "ulaw")
    await player.play(first)
    await player.play(first)
    packets = await sockets.wait_for(10)
    assert len(packets) == 10
    assert_one_stream(packets)
    assert [p.marker for p in packets] == [True] + [False] * 9


@pytest.mark.asyncio
async def test_after_a_pause_the_timestamp_jumps_and_the_marker_is_set(sockets: Sockets):
    player = sockets.player()
    await player.play(bytes(160 * 2))
    await asyncio.sleep(0.2)
    await player.play(bytes(160 * 2))
    packets = await sockets.wait_for(4)
    steps = [
        seq_delta(b.sequence_number, a.sequence_number) for a, b in itertools.pairwise(packets)
    ]
    assert steps == [1, 1, 1]
    assert [p.marker for p in packets] == [True, False, True, False]
    assert timestamp_delta(packets[2].timestamp, packets[1].timestamp) >= 160 * 9


@pytest.mark.asyncio
async def test_cancelling_stops_at_once_and_nothing_follows(sockets: Sockets):
    player = sockets.player()
    task = asyncio.create_task(player.play(bytes(160 * 100)))
    await sockets.wait_for(5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    sent = player.packets_sent
    assert 5 <= sent < 100
    await asyncio.sleep(0.2)  # ten packet times: any stray packet would have arrived
    assert len(sockets.collector.packets) == sent == player.packets_sent


@pytest.mark.asyncio
async def test_without_a_destination_packets_are_skipped_not_delayed(sockets: Sockets):
    where: list[tuple[str, int] | None] = [None]
    player = RtpPlayer(sockets.sender, lambda: where[0], payload_type=0, law="ulaw")
    task = asyncio.create_task(player.play(bytes(160 * 10)))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while player.packets_skipped < 3:
        assert loop.time() < deadline
        await asyncio.sleep(0.005)
    where[0] = sockets.phone  # the phone's address became known (latched)
    await task
    packets = await sockets.wait_for(player.packets_sent)
    assert player.packets_skipped + player.packets_sent == 10
    assert packets[0].sequence_number == (packets[-1].sequence_number - len(packets) + 1) & 0xFFFF
    assert seq_delta(packets[0].sequence_number, player.sender.sequence) == -len(packets)


@pytest.mark.asyncio
async def test_empty_payload_sends_nothing(sockets: Sockets):
    player = sockets.player()
    await player.play(b"")
    await asyncio.sleep(0.05)
    assert sockets.collector.packets == [] and player.packets_sent == 0


@pytest.mark.asyncio
async def test_a_player_is_freed_by_reference_counting(sockets: Sockets):
    with cyclic_garbage() as left:
        player = sockets.player()
        await player.play(bytes(160 * 2))
        await sockets.wait_for(2)
        del player
    assert left == []
