"""bob calls 101 and alice answers, two baresip softphones: each hears the other's tone,
found by FFT in what it recorded, with direct media, anchored media, and transcoding."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.e2e.audio import tone_seconds, write_tone_wav
from tests.e2e.baresip import BARESIP, Baresip, rtp_port_range
from tests.e2e.server import Ports, ServerProcess, free_port, reference_config

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(BARESIP is None, reason="baresip is not installed"),
]

ALICE_TONE, BOB_TONE = 440, 1000


def softphone(folder: Path, user: str, password: str, *, port: int, tone: int, codec: str):
    """A registered baresip that answers by itself, plays ``tone`` and records."""
    folder.mkdir(parents=True)
    account = f"<sip:{user}@127.0.0.1:{port}>;auth_pass={password};regint=600;answermode=auto"
    return Baresip(
        folder,
        account,
        sip_port=free_port(pair=True),
        ctrl_port=free_port(),
        audio_source=write_tone_wav(folder / "tone.wav", tone, 30),
        record=True,
        rtp_ports=rtp_port_range(),
        audio_codecs=codec,
    )


def call_and_listen(
    tmp_path: Path, extra_pjsip: str, bob_codec: str = "pcmu", alice_codec: str = "pcmu"
):
    """bob calls 101 and they talk for 3 s; what each heard, and the server's log."""
    ports = Ports()
    config = reference_config(tmp_path / "config", ports, extra_pjsip=extra_pjsip)
    with ServerProcess(config, tmp_path / "state") as server:
        alice = softphone(
            tmp_path / "alice",
            "alice",
            "alice101",
            port=ports.udp,
            tone=ALICE_TONE,
            codec=alice_codec,
        )
        bob = softphone(
            tmp_path / "bob", "bob", "bob102", port=ports.udp, tone=BOB_TONE, codec=bob_codec
        )
        with alice, bob:
            alice.wait_registered()
            bob.wait_registered()
            bob.dial(f"sip:101@127.0.0.1:{ports.udp}")
            bob.wait_event("CALL_ESTABLISHED")
            alice.wait_event("CALL_ESTABLISHED")
            bob.wait_recorded(3)
            alice.wait_recorded(3)
            bob.hangup()
            assert alice.close_reason() == "Connection reset by peer"
            heard_by_alice, heard_by_bob = alice.recorded_wav(), bob.recorded_wav()
        server.wait_for('"type": "CallEnded"')
        log = server.log
    with sqlite3.connect(tmp_path / "state" / "switchboard.db") as db:
        received = db.execute(
            "select caller_packets_received, callee_packets_received from cdr"
        ).fetchone()
    return heard_by_alice, heard_by_bob, log, received


def test_direct_media_after_the_answer(tmp_path: Path) -> None:
    alice_heard, bob_heard, log, received = call_and_listen(tmp_path, "")
    assert "direct media with PJSIP/alice-" in log
    # The relay only saw what the phones sent before the re-INVITEs: well under 3 s.
    assert all(count is None or count < 50 for count in received), received
    assert tone_seconds(alice_heard, BOB_TONE) >= 2
    assert tone_seconds(bob_heard, ALICE_TONE) >= 2
    assert tone_seconds(alice_heard, ALICE_TONE) == 0


ANCHORED = "".join(f"[{name}](+type=endpoint)\ndirect_media=no\n" for name in ("alice", "bob"))


def test_anchored_media_through_the_relay(tmp_path: Path) -> None:
    alice_heard, bob_heard, log, received = call_and_listen(tmp_path, ANCHORED)
    assert "direct media" not in log
    assert tone_seconds(alice_heard, BOB_TONE) >= 2
    assert tone_seconds(bob_heard, ALICE_TONE) >= 2
    caller, callee = received
    assert caller >= 100 and callee >= 100  # 3 s of 20 ms packets each way, counted


def test_ulaw_alice_and_alaw_bob_are_transcoded(tmp_path: Path) -> None:
    bob_alaw = "[bob](+type=endpoint)\ndisallow=all\nallow=alaw\n"
    alice_heard, bob_heard, log, received = call_and_listen(tmp_path, bob_alaw, "pcma")
    assert "direct media" not in log  # different codecs: the relay must stay
    assert tone_seconds(alice_heard, BOB_TONE) >= 2
    assert tone_seconds(bob_heard, ALICE_TONE) >= 2
    assert received[0] >= 100 and received[1] >= 100
