"""Helpers for voicemail end-to-end tests: bob calls and leaves a message as a caller would
(SIPp signalling, a Python RTP phone speaking a tone)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from switchboard.apps.playback import BEEP_HZ, find_sound
from switchboard.media.player import read_sound
from switchboard.sounds import default_sounds_dirs
from tests.e2e import calls
from tests.e2e.audio import decode_g711
from tests.e2e.rtp_phone import RtpPhone
from tests.e2e.server import Ports, free_port

MESSAGE_TONE = 440


def beep_frequency(config: Path) -> float:
    """The pitch of the beep the server will play: the file it finds, as it finds it
    (Asterisk's own beep.gsm is 700 Hz), else its tone generator's 1 kHz."""
    path = find_sound("beep", "fr", "ulaw", default_sounds_dirs(config))
    if path is None:
        return BEEP_HZ
    samples = decode_g711(read_sound(path, "ulaw"), "ulaw").astype(float)
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(spectrum.argmax() * 8000 / len(samples))


def prompt_audio(config: Path, name: str, language: str = "fr") -> bytes:
    """The µ-law bytes the server sends for prompt ``name``: the file it finds, as it reads
    it (the player sends them unchanged, 160 to a packet)."""
    path = find_sound(name, language, "ulaw", default_sounds_dirs(config))
    assert path is not None, name
    return read_sound(path, "ulaw")


def said_in_order(heard: bytes, prompts: list[bytes]) -> bool:
    """Whether the prompts arrived whole and back to back in ``heard``: each starts within
    one packet (the silence padding the previous one's last packet) of the previous end."""
    start = 0
    while (first := heard.find(prompts[0], start)) >= 0:
        end = first + len(prompts[0])
        for audio in prompts[1:]:
            found = heard.find(audio, end, end + 160 + len(audio))
            if found < 0:
                break
            end = found + len(audio)
        else:
            return True
        start = first + 1
    return False


LAMP = "[alice](+type=endpoint)\nmailboxes=101@default\n"
"""The reference warns that alice's phone has no message lamp; tests give it one."""


def call(
    tmp_path: Path, ports: Ports, name: str, exten: str, phone: RtpPhone, *, user: str = "bob"
) -> calls.Phone:
    """``user`` calls ``exten``; the call stays up until the PBX hangs up."""
    password = {"bob": "bob102", "alice": "alice101"}[user]
    bob = calls.Phone(tmp_path / name, ports.udp, user, password, free_port())
    bye = '<recv request="BYE"/>\n' + calls.response("200 OK", tag=False)
    bob.start(
        calls.caller(body=phone.sdp(), during_call=bye, ends_call=True, user=user),
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
        assert phone.wait_for_beep_end(beep, timeout=40), f"no beep ({beep:.0f} Hz) heard"
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
