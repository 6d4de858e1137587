"""The audio test tools work without the PBX: the tone detector, the RTP pcap writer, and
two real baresip phones calling each other directly with a tone each way."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import pytest

from tests.e2e.audio import (
    decode_g711,
    encode_g711,
    g711_rtp_pcap,
    read_pcap_rtp,
    read_wav,
    rtp_samples,
    tone,
    tone_seconds,
    write_tone_wav,
)
from tests.e2e.baresip import BARESIP, Baresip, rtp_port_range
from tests.e2e.server import free_port


def test_a_1khz_wav_is_found_whole(tmp_path: Path):
    path = write_tone_wav(tmp_path / "tone.wav", 1000, 3)
    samples, rate = read_wav(path)
    assert (rate, len(samples)) == (8000, 24000)
    assert tone_seconds(path, 1000) == pytest.approx(3.0)


def test_other_frequencies_silence_and_noise_are_not_the_tone():
    assert tone_seconds(tone(440, 3), 1000) == 0
    assert tone_seconds(tone(440, 3), 440) == pytest.approx(3.0)
    assert tone_seconds(tone(1100, 3), 1000) == 0
    assert tone_seconds(np.zeros(24000, dtype=np.int16), 1000) == 0
    noise = np.random.default_rng(7).normal(0, 3000, 24000).astype(np.int16)
    assert tone_seconds(noise, 1000) == 0


def test_a_tone_with_a_gap_counts_only_the_tone():
    samples = np.concatenate([tone(1000, 1), np.zeros(8000, dtype=np.int16), tone(1000, 1)])
    assert tone_seconds(samples, 1000) == pytest.approx(2.0)


@pytest.mark.parametrize("codec", ["ulaw", "alaw"])
def test_g711_round_trip_keeps_the_tone(codec):
    samples = decode_g711(encode_g711(tone(1000, 1), codec), codec)
    assert tone_seconds(samples, 1000) == pytest.approx(1.0)


@pytest.mark.parametrize(("codec", "payload_type"), [("ulaw", 0), ("alaw", 8)])
def test_the_pcap_holds_20ms_rtp_packets_of_the_tone(tmp_path: Path, codec, payload_type):
    path = g711_rtp_pcap(tmp_path / "tone.pcap", 1000, 2, codec=codec, ssrc=0x1234)
    packets = read_pcap_rtp(path)
    assert len(packets) == 100
    assert {(p.payload_type, p.ssrc, len(p.payload)) for p in packets} == {
        (payload_type, 0x1234, 160)
    }
    assert [p.sequence for p in packets] == list(range(100))
    assert [p.timestamp for p in packets] == [160 * i for i in range(100)]
    assert packets[0].marker and not any(p.marker for p in packets[1:])
    assert tone_seconds(rtp_samples(packets, codec), 1000) == pytest.approx(2.0)
    assert tone_seconds(rtp_samples(packets, codec), 440) == 0


def phone(
    folder: Path, name: str, freq_hz: int, answermode: Literal["auto", "manual"]
) -> tuple[Baresip, int]:
    """A baresip that does not register, plays ``freq_hz`` and records what it hears."""
    folder.mkdir(parents=True)
    port = free_port(pair=True)
    account = f"<sip:{name}@127.0.0.1:{port}>;regint=0"
    return Baresip(
        folder,
        account,
        sip_port=port,
        ctrl_port=free_port(),
        audio_source=write_tone_wav(folder / "tone.wav", freq_hz, 30),
        record=True,
        rtp_ports=rtp_port_range(),
        answermode=answermode,
        audio_codecs="pcmu",
    ), port


@pytest.mark.e2e
@pytest.mark.skipif(BARESIP is None, reason="baresip is not installed")
def test_two_baresips_hear_each_others_tone(tmp_path: Path):
    a, _ = phone(tmp_path / "a", "a", 1000, "manual")
    b, b_port = phone(tmp_path / "b", "b", 440, "manual")
    with a, b:
        a.dial(f"sip:b@127.0.0.1:{b_port}")
        assert b.wait_event("CALL_INCOMING")["param"] == f"sip:a@127.0.0.1:{a.sip_port}"
        a.wait_event("CALL_RINGING")
        b.accept()
        a.wait_event("CALL_ESTABLISHED")
        b.wait_event("CALL_ESTABLISHED")
        a.send_dtmf("5")
        assert b.wait_event("CALL_DTMF_START")["param"] == "5"
        b.wait_event("CALL_DTMF_END")
        a.wait_recorded(3)
        b.wait_recorded(3)
        a.hangup()
        assert a.close_reason() == "Connection reset by user"
        assert b.close_reason() == "Connection reset by peer"
        heard_by_b = b.recorded_wav()
        heard_by_a = a.recorded_wav()
    assert tone_seconds(heard_by_b, 1000) >= 2
    assert tone_seconds(heard_by_a, 440) >= 2
    assert tone_seconds(heard_by_b, 440) == 0
    assert tone_seconds(heard_by_a, 1000) == 0


@pytest.mark.e2e
@pytest.mark.skipif(BARESIP is None, reason="baresip is not installed")
def test_a_call_rejected_while_ringing_reports_the_status(tmp_path: Path):
    a, _ = phone(tmp_path / "a", "a", 1000, "manual")
    b, b_port = phone(tmp_path / "b", "b", 440, "manual")
    with a, b:
        a.dial(f"sip:b@127.0.0.1:{b_port}")
        b.wait_event("CALL_INCOMING")
        b.hangup()
        assert a.close_reason().startswith("486")
