"""Voicemail on the reference config: bob leaves alice a message when she cannot answer,
and alice hears it from 199. SIPp carries the signalling, a Python socket the media."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest

from switchboard.apps.playback import find_sound
from switchboard.media.player import read_sound
from switchboard.services.voicemail.formats import decode
from switchboard.sounds import default_sounds_dirs
from tests.e2e import calls
from tests.e2e.audio import decode_g711, tone_seconds
from tests.e2e.rtp_phone import RtpPhone
from tests.e2e.server import Ports, ServerProcess, free_port, reference_config

pytestmark = pytest.mark.e2e

MESSAGE_TONE = 440


def beep_frequency(config: Path) -> float:
    """The pitch of the beep the server will play: the file it finds, as it finds it
    (Asterisk's own beep.gsm is 700 Hz; Switchboard's built-in beep is 1 kHz)."""
    path = find_sound("beep", "fr", "ulaw", default_sounds_dirs(config))
    assert path is not None
    samples = decode_g711(read_sound(path, "ulaw"), "ulaw").astype(float)
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(spectrum.argmax() * 8000 / len(samples))


@pytest.fixture
def pbx(tmp_path: Path):
    ports = Ports()
    config = reference_config(tmp_path / "config", ports)
    with ServerProcess(config, tmp_path / "state") as server:
        yield ports, server, beep_frequency(config)


def call(tmp_path: Path, ports: Ports, name: str, exten: str, phone: RtpPhone) -> calls.Phone:
    """bob calls ``exten``; the call stays up until the PBX hangs up."""
    bob = calls.Phone(tmp_path / name, ports.udp, "bob", "bob102", free_port())
    bye = '<recv request="BYE"/>\n' + calls.response("200 OK", tag=False)
    bob.start(
        calls.caller(body=phone.sdp(), during_call=bye, ends_call=True),
        extra=("-s", exten, "-recv_timeout", "90000"),
        timeout=90,
        name=name,
    )
    return bob


def leave_message(tmp_path: Path, ports: Ports, name: str, seconds: float, beep: float) -> RtpPhone:
    """bob calls 101 (alice is not registered: priority 2, VoiceMail(101)), waits for the
    beep, speaks ``seconds`` of the tone, presses # then 1 (review=yes: accept)."""
    phone = RtpPhone()
    bob = call(tmp_path, ports, name, "101", phone)
    try:
        assert phone.wait_for_tone(beep, timeout=40), f"no beep ({beep:.0f} Hz) heard"
        before_beep = phone.heard()
        phone.say(MESSAGE_TONE, seconds)
        phone.press("#")
        time.sleep(1.0)
        phone.press("1")
        status, _ = bob.wait(timeout=60)
        assert status == 0
    finally:
        bob.stop()
        phone.close()
    phone.greeting = before_beep  # type: ignore[attr-defined]
    return phone


def inbox(tmp_path: Path) -> Path:
    return tmp_path / "state" / "voicemail" / "default" / "101" / "INBOX"


def test_bob_leaves_alice_a_message_in_every_format(tmp_path: Path, pbx) -> None:
    ports, server, beep = pbx
    phone = leave_message(tmp_path, ports, "deposit", 5.0, beep)
    greeting = phone.greeting  # type: ignore[attr-defined]
    assert len(greeting) > 8000, "the greeting prompt did not arrive"  # > 1 s of prompt audio
    folder = inbox(tmp_path)
    names = sorted(path.name for path in folder.iterdir())
    assert names == ["msg0000.WAV", "msg0000.gsm", "msg0000.txt", "msg0000.ulaw", "msg0000.wav"]
    for path in folder.glob("msg0000.*"):
        if path.suffix == ".txt":
            continue
        samples = decode(path.suffix[1:], path.read_bytes())
        assert 4.5 <= tone_seconds(np.asarray(samples), MESSAGE_TONE, 8000) <= 5.1, path
    info = (folder / "msg0000.txt").read_text()
    assert re.search(r"^callerid=.*<bob>$", info, re.MULTILINE), info
    duration = int(re.search(r"^duration=(\d+)$", info, re.MULTILINE).group(1))  # type: ignore[union-attr]
    assert 4 <= duration <= 6
    assert server.wait_for('"type": "VoicemailDeposited"')


def test_a_message_under_minsecs_is_discarded(tmp_path: Path, pbx) -> None:
    ports, _, beep = pbx
    leave_message(tmp_path, ports, "short", 0.5, beep)
    assert not inbox(tmp_path).exists() or not list(inbox(tmp_path).glob("msg*"))
