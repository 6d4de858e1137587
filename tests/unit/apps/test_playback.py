"""Playback: Asterisk's file look-up, its options and PLAYBACKSTATUS, and what the caller's
phone receives (a real relay on 127.0.0.1, a stand-in engine for answer and 183)."""

from __future__ import annotations

import asyncio
import itertools
import socket
import struct
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import pytest_asyncio

from switchboard.apps import playback, registry
from switchboard.apps.prompts import Prompter
from switchboard.config.pjsip import Endpoint
from switchboard.diagnostics import Location
from switchboard.dialplan.interpreter import Continue, Hangup
from switchboard.media import g711
from switchboard.media.portpool import PortPool
from switchboard.media.relay import MediaRelay
from switchboard.media.rtp import RtpPacket, seq_delta
from switchboard.media.tones import sine, tone_fraction
from switchboard.sdp.model import Direction
from switchboard.sdp.negotiate import LocalMedia, NegotiatedCodec, NegotiatedStream, OfferAnswer
from switchboard.services.calls.channel import Channel, LegState
from switchboard.sip.peer import Peer
from tests.unit.media.test_portpool import free_range

HOST = "127.0.0.1"
DEADLINE = 5.0


def wav(samples: np.ndarray[Any, Any], rate: int = 8000) -> bytes:
    data = samples.astype("<i2").tobytes()
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    body = b"WAVEfmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", len(data))
    return b"RIFF" + struct.pack("<I", len(body) + len(data)) + body + data


def touch(path: Path, data: bytes = b"\xff" * 160) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# -- look-up ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "order"),
    [
        ("fr", ["fr", None, "en"]),
        ("en", ["en", None]),
        ("", [None, "en"]),
        ("fr_CA", ["fr_CA", "fr", None, "en"]),
        ("en_GB_posh", ["en_GB_posh", "en_GB", "en", None]),
    ],
)
def test_languages_are_tried_as_asterisk_does(language: str, order: list[str | None]):
    assert playback.languages(language) == order


def test_the_language_folder_comes_before_the_plain_one_then_english(tmp_path: Path):
    sounds = tmp_path / "sounds"
    touch(sounds / "en" / "hello.wav")
    assert playback.find_sound("hello", "fr", "ulaw", [sounds]) == sounds / "en" / "hello.wav"
    touch(sounds / "hello.wav")
    assert playback.find_sound("hello", "fr", "ulaw", [sounds]) == sounds / "hello.wav"
    touch(sounds / "fr" / "hello.alaw")
    assert playback.find_sound("hello", "fr", "ulaw", [sounds]) == sounds / "fr" / "hello.alaw"
    touch(sounds / "fr_CA" / "hello.sln")
    assert playback.find_sound("hello", "fr_CA", "ulaw", [sounds]) == (
        sounds / "fr_CA" / "hello.sln"
    )


def test_in_one_place_the_channel_codec_wins_then_wav(tmp_path: Path):
    sounds = tmp_path / "sounds"
    for extension in ("sln", "alaw", "wav", "ulaw"):
        touch(sounds / "fr" / f"menu.{extension}")
    assert playback.find_sound("menu", "fr", "ulaw", [sounds]) == sounds / "fr" / "menu.ulaw"
    assert playback.find_sound("menu", "fr", "alaw", [sounds]) == sounds / "fr" / "menu.alaw"
    (sounds / "fr" / "menu.ulaw").unlink()
    (sounds / "fr" / "menu.alaw").unlink()
    assert playback.find_sound("menu", "fr", "ulaw", [sounds]) == sounds / "fr" / "menu.wav"


def test_ulaw_under_its_other_asterisk_extensions(tmp_path: Path):
    touch(tmp_path / "beep.pcm")
    touch(tmp_path / "beep.wav")
    assert playback.find_sound("beep", "en", "ulaw", [tmp_path]) == tmp_path / "beep.pcm"


def test_subfolders_in_names_and_several_sounds_folders(tmp_path: Path):
    custom, system = tmp_path / "custom", tmp_path / "system"
    touch(system / "fr" / "digits" / "1.wav")
    touch(custom / "digits" / "1.wav")
    # The language decides first, then the folders in their order.
    assert playback.find_sound("digits/1", "fr", "ulaw", [custom, system]) == (
        system / "fr" / "digits" / "1.wav"
    )
    touch(custom / "fr" / "digits" / "1.wav")
    assert playback.find_sound("digits/1", "fr", "ulaw", [custom, system]) == (
        custom / "fr" / "digits" / "1.wav"
    )


def test_an_absolute_name_is_used_as_given_without_language(tmp_path: Path):
    touch(tmp_path / "fr" / "x.wav")
    found = touch(tmp_path / "x.ulaw")
    assert playback.find_sound(str(tmp_path / "x"), "fr", "alaw", []) == found
    assert playback.find_sound(str(tmp_path / "nothing"), "fr", "ulaw", [tmp_path]) is None


@pytest.mark.parametrize("name", ["hello.wav", "missing", "", "fr/..", "unknown"])
def test_names_that_find_nothing(tmp_path: Path, name: str):
    touch(tmp_path / "fr" / "hello.wav")
    touch(tmp_path / "unknown.mp3")
    touch(tmp_path / "unknown")
    assert playback.find_sound(name, "fr", "ulaw", [tmp_path]) is None


def test_configure_sets_the_folders_find_sound_uses(tmp_path: Path):
    saved = playback.sounds_dirs()
    try:
        touch(tmp_path / "a" / "x.wav")
        playback.configure([tmp_path / "a"])
        assert playback.sounds_dirs() == (tmp_path / "a",)
        assert playback.find_sound("x", "en", "ulaw") == tmp_path / "a" / "x.wav"
    finally:
        playback.configure(saved)


def test_playback_is_registered():
    application = registry().get("playback")
    assert application is not None and application.handler is playback.run


# -- the application ----------------------------------------------------------------------------


class FakeEngine:
    """What Playback asks of the call engine: answer, or a 183."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.loop = asyncio.get_running_loop()

    def answer(self, channel: Channel) -> None:
        self.calls.append("answer")
        channel.state = LegState.UP

    def ring(self, channel: Channel, status: int = 180) -> None:
        self.calls.append(str(status))


class Phone:
    """A phone's RTP socket (blocking reads with a short timeout, drained on demand)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, 0))
        self.sock.setblocking(False)
        self.received: list[RtpPacket] = []

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.sock.getsockname()
        return (host, port)

    def drain(self) -> list[RtpPacket]:
        while True:
            try:
                data = self.sock.recv(2048)
            except BlockingIOError:
                return self.received
            self.received.append(RtpPacket.parse(data))

    async def wait_for(self, count: int) -> list[RtpPacket]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DEADLINE
        while len(self.drain()) < count:
            assert loop.time() < deadline, f"{len(self.received)} of {count} packets"
            await asyncio.sleep(0.01)
        return self.received


class Call:
    def __init__(self, channel: Channel, engine: FakeEngine, phone: Phone, relay: MediaRelay):
        self.channel, self.engine, self.phone, self.relay = channel, engine, phone, relay


def stream(codec: str, payload_type: int, ptime: float | None = None) -> NegotiatedStream:
    return NegotiatedStream(
        index=0,
        media="audio",
        proto="RTP/AVP",
        local_port=0,
        remote_address=HOST,
        remote_port=0,
        remote_rtcp_port=0,
        rtcp_mux=False,
        codecs=(
            NegotiatedCodec(
                payload_type,
                payload_type,
                "PCMU" if codec == "ulaw" else "PCMA",
                8000,
                1,
                codec,
            ),
        ),
        telephone_event=None,
        ptime=ptime,
        direction=Direction.SENDRECV,
    )


@pytest.fixture
def sounds(tmp_path: Path) -> Iterator[Path]:
    saved = playback.sounds_dirs()
    folder = tmp_path / "sounds"
    touch(folder / "tone.wav", wav(sine(1000, 0.5)))
    touch(folder / "fr" / "beep.ulaw", g711.encode_payload(sine(2000, 0.2), "ulaw"))
    playback.configure([folder])
    yield folder
    playback.configure(saved)


@pytest_asyncio.fixture
async def call(sounds: Path) -> AsyncIterator[Call]:
    start = free_range(4)
    relay = MediaRelay(PortPool(start, start + 8, HOST))
    await relay.start()
    phone = Phone()
    relay.a.set_remote(phone.address)
    engine = FakeEngine()
    endpoint = Endpoint("alice", Location("pjsip.conf", 1), language="fr")
    channel = Channel(
        engine,  # type: ignore[arg-type]
        "PJSIP/alice-00000001",
        uniqueid="1.1",
        endpoint=endpoint,
        peer=Peer("udp", HOST, 5060),
        offer_answer=OfferAnswer(LocalMedia(HOST, relay.a.port, ("ulaw",)), "1", 1),
        inbound=True,
    )
    channel.relay, channel.media_leg = relay, relay.a
    channel.streams = (stream("ulaw", 0),)
    yield Call(channel, engine, phone, relay)
    relay.close()
    phone.sock.close()


def heard(packets: list[RtpPacket], law: g711.Law = "ulaw") -> np.ndarray[Any, Any]:
    return g711.decode_payload(b"".join(p.payload for p in packets), law)


@pytest.mark.asyncio
async def test_answers_then_plays_and_reports_success(call: Call):
    outcome = await playback.run(call.channel, "tone")
    assert outcome == Continue({"PLAYBACKSTATUS": "SUCCESS"})
    assert call.engine.calls == ["answer"]
    packets = await call.phone.wait_for(25)
    assert len(packets) == 25 and {p.payload_type for p in packets} == {0}
    assert tone_fraction(heard(packets), 1000) == 1.0


@pytest.mark.asyncio
async def test_several_files_play_in_order_as_one_stream(call: Call):
    outcome = await playback.run(call.channel, "beep&tone")
    assert outcome == Continue({"PLAYBACKSTATUS": "SUCCESS"})
    packets = await call.phone.wait_for(35)
    assert len({p.ssrc for p in packets}) == 1
    steps = {
        seq_delta(b.sequence_number, a.sequence_number) for a, b in itertools.pairwise(packets)
    }
    assert steps == {1}
    assert tone_fraction(heard(packets[:10]), 2000) == 1.0  # fr/beep.ulaw, sent as it is
    assert tone_fraction(heard(packets[10:]), 1000) == 1.0


@pytest.mark.asyncio
async def test_a_missing_file_fails_the_status_but_the_others_play(
    call: Call, caplog: pytest.LogCaptureFixture
):
    outcome = await playback.run(call.channel, "nothing-here&tone")
    assert outcome == Continue({"PLAYBACKSTATUS": "FAILED"})
    assert "file nothing-here does not exist in any supported format" in caplog.text
    assert "PJSIP/alice-00000001" in caplog.text
    packets = await call.phone.wait_for(25)
    assert tone_fraction(heard(packets), 1000) == 1.0


@pytest.mark.asyncio
async def test_a_name_with_its_extension_gets_a_hint(call: Call, caplog: pytest.LogCaptureFixture):
    outcome = await playback.run(call.channel, "tone.wav")
    assert outcome == Continue({"PLAYBACKSTATUS": "FAILED"})
    assert "give the name without its extension" in caplog.text


@pytest.mark.asyncio
async def test_an_unreadable_file_fails_with_the_reason(
    call: Call, sounds: Path, caplog: pytest.LogCaptureFixture
):
    touch(sounds / "cd.wav", wav(sine(1000, 0.1, sample_rate=44100), rate=44100))
    outcome = await playback.run(call.channel, "cd")
    assert outcome == Continue({"PLAYBACKSTATUS": "FAILED"})
    assert "sample rate 44100 Hz" in caplog.text
    await asyncio.sleep(0.05)
    assert call.phone.drain() == []


@pytest.mark.asyncio
async def test_skip_does_nothing_on_a_channel_not_up(call: Call):
    outcome = await playback.run(call.channel, "tone,skip")
    assert outcome == Continue({"PLAYBACKSTATUS": "SUCCESS"})
    assert call.engine.calls == []
    await asyncio.sleep(0.05)
    assert call.phone.drain() == []


@pytest.mark.asyncio
async def test_skip_plays_on_a_channel_already_up(call: Call):
    call.channel.state = LegState.UP
    outcome = await playback.run(call.channel, "beep,SKIP")
    assert outcome == Continue({"PLAYBACKSTATUS": "SUCCESS"})
    assert call.engine.calls == []
    assert len(await call.phone.wait_for(10)) == 10


@pytest.mark.asyncio
async def test_noanswer_plays_early_media_after_a_183(call: Call):
    outcome = await playback.run(call.channel, "beep,noanswer")
    assert outcome == Continue({"PLAYBACKSTATUS": "SUCCESS"})
    assert call.engine.calls == ["183"]
    assert call.channel.state is LegState.RING
    assert len(await call.phone.wait_for(10)) == 10


@pytest.mark.asyncio
async def test_alaw_caller_gets_ulaw_file_transcoded_and_its_ptime(call: Call):
    call.channel.streams = (stream("alaw", 8, ptime=30),)
    outcome = await playback.run(call.channel, "beep")
    assert outcome == Continue({"PLAYBACKSTATUS": "SUCCESS"})
    packets = await call.phone.wait_for(7)  # 1600 samples in 240-sample packets
    assert {p.payload_type for p in packets} == {8}
    assert {len(p.payload) for p in packets} == {240}
    assert tone_fraction(heard(packets, "alaw")[:1600], 2000) == 1.0


@pytest.mark.asyncio
async def test_no_file_name_hangs_up(call: Call, caplog: pytest.LogCaptureFixture):
    assert await playback.run(call.channel, "") == Hangup()
    assert await playback.run(call.channel, ",noanswer") == Hangup()
    assert "Playback requires an argument (filename)" in caplog.text


@pytest.mark.asyncio
async def test_a_codec_the_player_cannot_send_fails(call: Call, caplog: pytest.LogCaptureFixture):
    call.channel.streams = ()
    outcome = await playback.run(call.channel, "tone")
    assert outcome == Continue({"PLAYBACKSTATUS": "FAILED"})
    assert "not G.711" in caplog.text


@pytest.mark.asyncio
async def test_hanging_up_stops_the_file_at_once(call: Call):
    task = asyncio.create_task(playback.run(call.channel, "tone"))
    await call.phone.wait_for(5)
    call.channel.finish(16)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    sent = len(call.phone.drain())
    await asyncio.sleep(0.2)
    assert len(call.phone.drain()) == sent < 25


@pytest.mark.asyncio
async def test_the_other_leg_is_muted_while_a_file_plays_and_relayed_after(call: Call):
    relay = call.relay
    other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other.bind((HOST, 0))
    relay.b.set_remote(other.getsockname())
    try:

        def send_from_b(count: int, first: int) -> None:
            for n in range(count):
                packet = RtpPacket(0, first + n, 160 * n, 0xB0B, b"\x7f" * 160)
                other.sendto(packet.serialize(), (HOST, relay.b.port))

        task = asyncio.create_task(playback.run(call.channel, "tone"))
        await call.phone.wait_for(3)
        send_from_b(10, 100)
        assert await task == Continue({"PLAYBACKSTATUS": "SUCCESS"})
        assert {p.ssrc for p in call.phone.drain()} != {0xB0B}
        assert 0xB0B not in {p.ssrc for p in call.phone.received}
        send_from_b(3, 110)
        packets = await call.phone.wait_for(25 + 3)
        assert [p.ssrc for p in packets[25:]] == [0xB0B] * 3
    finally:
        other.close()


@pytest.mark.asyncio
async def test_the_beep_is_the_tone_generator_when_no_sound_file_has_it(call: Call):
    (playback.sounds_dirs()[0] / "fr" / "beep.ulaw").unlink()  # the fixture's 2 kHz beep
    assert playback.find_sound("beep", "fr", "ulaw") is None
    await Prompter(call.channel).play("beep")
    packets = await call.phone.wait_for(13)
    assert len(packets) == 13 and [p.marker for p in packets[:2]] == [True, False]
    assert tone_fraction(heard(packets)[:2000], 1000) == 1.0


@pytest.mark.asyncio
async def test_silence_n_plays_n_seconds_of_silence_without_a_file(call: Call):
    outcome = await playback.run(call.channel, "silence/1&tone")
    assert outcome == Continue({"PLAYBACKSTATUS": "SUCCESS"})
    packets = await call.phone.wait_for(75)
    assert len(packets) == 75 and not heard(packets[:50]).any()
    assert tone_fraction(heard(packets[50:]), 1000) == 1.0
    assert playback.generated_sound("silence/11") is None
    assert playback.generated_sound("silence/x") is None
