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
from tests.e2e.sipp import SIPP, call_options, start_sipp, uac_call_scenario, uas_call_scenario


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


def sipp_media() -> tuple[str, ...]:
    """SIPp's media address options: loopback and a free even port."""
    return ("-mi", "127.0.0.1", "-mp", str(rtp_port_range(4)[0]))


@pytest.mark.e2e
@pytest.mark.skipif(BARESIP is None or SIPP is None, reason="baresip or sipp is missing")
def test_a_sipp_caller_plays_a_pcap_tone_into_a_phone(tmp_path: Path):
    b, b_port = phone(tmp_path / "b", "b", 440, "auto")
    pcap = g711_rtp_pcap(tmp_path / "tone.pcap", 1000, 3)
    scenario = uac_call_scenario("b", authenticate=False, play_pcap=pcap, hold_ms=3500)
    with b:
        caller = start_sipp(
            scenario, tmp_path / "sipp", b_port, local_port=free_port(), extra=sipp_media()
        )
        result = caller.result(timeout=40)
        assert result.returncode == 0, result.stderr + result.messages
        assert b.close_reason() == "Connection reset by peer"
        assert tone_seconds(b.recorded_wav(), 1000) >= 2


@pytest.mark.e2e
@pytest.mark.skipif(BARESIP is None or SIPP is None, reason="baresip or sipp is missing")
def test_a_phone_calls_a_sipp_callee_that_answers_plays_and_hangs_up(tmp_path: Path):
    a, a_port = phone(tmp_path / "a", "a", 1000, "manual")
    pcap = g711_rtp_pcap(tmp_path / "tone.pcap", 440, 3)
    sipp_port = free_port()
    scenario = uas_call_scenario(ring_ms=300, play_pcap=pcap, hangup="send", hold_ms=3500)
    with a:
        callee = start_sipp(
            scenario, tmp_path / "sipp", a_port, local_port=sipp_port, extra=sipp_media()
        )
        a.dial(f"sip:bob@127.0.0.1:{sipp_port}")
        a.wait_event("CALL_RINGING")
        a.wait_event("CALL_ESTABLISHED")
        assert a.close_reason(timeout=15) == "Connection reset by peer"
        result = callee.result(timeout=40)
        assert result.returncode == 0, result.stderr + result.messages
        assert tone_seconds(a.recorded_wav(), 440) >= 2


@pytest.mark.e2e
@pytest.mark.skipif(BARESIP is None or SIPP is None, reason="baresip or sipp is missing")
def test_a_sipp_callee_that_is_busy_or_never_answers(tmp_path: Path):
    a, a_port = phone(tmp_path / "a", "a", 1000, "manual")
    with a:
        for index, final in enumerate((486, None)):
            sipp_port = free_port()
            callee = start_sipp(
                uas_call_scenario(ring_ms=300, final=final),
                tmp_path / f"sipp{index}",
                a_port,
                local_port=sipp_port,
            )
            a.dial(f"sip:bob@127.0.0.1:{sipp_port}")
            a.wait_event("CALL_RINGING")
            if final is None:
                a.hangup()
                assert a.close_reason() == "Connection reset by user"
            else:
                assert a.close_reason() == "486 Busy Here"
            result = callee.result(timeout=30)
            assert result.returncode == 0, result.stderr + result.messages


@pytest.mark.e2e
@pytest.mark.skipif(BARESIP is None or SIPP is None, reason="baresip or sipp is missing")
def test_a_sipp_caller_is_rejected_or_cancels(tmp_path: Path):
    b, b_port = phone(tmp_path / "b", "b", 440, "manual")
    with b:
        scenario = uac_call_scenario("b", authenticate=False, final=486)
        busy = start_sipp(scenario, tmp_path / "s1", b_port, local_port=free_port())
        b.wait_event("CALL_INCOMING")
        b.hangup()
        result = busy.result(timeout=30)
        assert result.returncode == 0, result.stderr + result.messages
        assert result.last_response().startswith("SIP/2.0 486")
        scenario = uac_call_scenario("b", authenticate=False, final=487, cancel_after_ms=500)
        cancelled = start_sipp(scenario, tmp_path / "s2", b_port, local_port=free_port())
        b.wait_event("CALL_INCOMING")
        result = cancelled.result(timeout=30)
        assert result.returncode == 0, result.stderr + result.messages
        assert result.last_response().startswith("SIP/2.0 487")


CHALLENGER = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="challenger">
<recv request="INVITE"/>
<send><![CDATA[
SIP/2.0 401 Unauthorized
[last_Via:]
[last_From:]
[last_To:];tag=ch[call_number]
[last_Call-ID:]
[last_CSeq:]
WWW-Authenticate: Digest realm="switchboard", nonce="0123456789abcdef", algorithm=MD5
Content-Length: 0
]]></send>
<recv request="ACK"/>
<recv request="INVITE">
<action><ereg regexp="Digest username=.alice.*uri=.sip:bob@" search_in="hdr"
 header="Authorization:" check_it="true" assign_to="digest"/></action>
</recv>
<Reference variables="digest"/>
<send><![CDATA[
SIP/2.0 404 Not Found
[last_Via:]
[last_From:]
[last_To:];tag=ch[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0
]]></send>
<recv request="ACK"/>
</scenario>
"""


@pytest.mark.e2e
@pytest.mark.skipif(SIPP is None, reason="sipp is missing")
def test_the_sipp_caller_answers_a_digest_challenge_and_acks_failures(tmp_path: Path):
    callee_port = free_port()
    callee = start_sipp(CHALLENGER, tmp_path / "uas", free_port(), local_port=callee_port)
    scenario = uac_call_scenario("bob", caller="alice", final=404)
    options = call_options("bob", callee_port)
    result = start_sipp(
        scenario, tmp_path / "uac", callee_port, local_port=free_port(), extra=options
    )
    assert result.result(timeout=30).returncode == 0, result.result().messages
    answered = callee.result(timeout=30)
    assert answered.returncode == 0, answered.stderr + answered.messages


@pytest.mark.e2e
@pytest.mark.skipif(SIPP is None, reason="sipp is missing")
@pytest.mark.parametrize("caller_hangs_up", [True, False])
def test_a_sipp_caller_and_a_sipp_callee_hang_up_either_way(tmp_path: Path, caller_hangs_up):
    callee_port = free_port()
    uas = uas_call_scenario(
        ring_ms=100, hangup="receive" if caller_hangs_up else "send", hold_ms=300
    )
    callee = start_sipp(uas, tmp_path / "uas", free_port(), local_port=callee_port)
    uac = uac_call_scenario(
        "bob", authenticate=False, hangup="send" if caller_hangs_up else "receive", hold_ms=300
    )
    caller = start_sipp(uac, tmp_path / "uac", callee_port, local_port=free_port())
    for run in (caller.result(timeout=30), callee.result(timeout=30)):
        assert run.returncode == 0, run.stderr + run.messages
