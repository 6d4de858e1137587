"""Voicemail on the reference config: bob leaves alice a message when she cannot answer,
and alice hears it from 199. SIPp carries the signalling, a Python socket the media."""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

import numpy as np
import pytest

from switchboard.apps.playback import BEEP_HZ, find_sound
from switchboard.media.player import read_sound
from switchboard.services.voicemail.formats import decode
from switchboard.services.voicemail.spool import MessageInfo, Spool
from switchboard.sounds import builtin_sounds_dir
from tests.e2e.audio import tone_seconds
from tests.e2e.rtp_phone import RtpPhone
from tests.e2e.server import Ports, ServerProcess, free_port, reference_config
from tests.e2e.sipp import register_scenario, run_sipp
from tests.e2e.voicemail_calls import (
    LAMP,
    MESSAGE_TONE,
    beep_frequency,
    call,
    inbox,
    leave_message,
    prompt_audio,
    said_in_order,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
def pbx(tmp_path: Path):
    ports = Ports()
    config = reference_config(tmp_path / "config", ports, extra_pjsip=LAMP)
    with ServerProcess(config, tmp_path / "state") as server:
        yield ports, server, beep_frequency(config)


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


class Lamp:
    """alice's desk phone, for its message lamp: SIPp registers it, then a socket on the
    same port reads the NOTIFYs the PBX sends there."""

    def __init__(self, tmp_path: Path, ports: Ports) -> None:
        port = free_port()
        result = run_sipp(register_scenario("alice"), tmp_path / "lamp", ports.udp, local_port=port)
        assert result.returncode == 0, result.messages
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", port))
        self.socket.settimeout(0.2)
        self.seen: list[str] = []

    def waiting(self, state: str, timeout: float = 10) -> bool:
        """Whether a NOTIFY saying ``Messages-Waiting: <state>`` arrives within ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                text = self.socket.recv(4096).decode(errors="replace")
            except TimeoutError:
                continue
            if text.startswith("NOTIFY"):
                self.seen.append(text)
                if f"Messages-Waiting: {state}" in text:
                    return True
        return False


def keys(phone: RtpPhone, typed: str) -> None:
    for key in typed:
        phone.press(key)
        time.sleep(0.2)


def test_alice_hears_her_message_from_199_and_deletes_it(tmp_path: Path, pbx) -> None:
    ports, server, beep = pbx
    lamp = Lamp(tmp_path, ports)
    leave_message(tmp_path, ports, "deposit", 3.0, beep)
    assert lamp.waiting("yes"), lamp.seen
    phone = RtpPhone()
    alice = call(tmp_path, ports, "listen", "199", phone, user="alice")
    try:
        assert phone.wait_for_speech(timeout=20), "no vm-login prompt"
        keys(phone, "101#")
        time.sleep(1.5)
        keys(phone, "1234#")
        time.sleep(3.0)  # "vous avez un nouveau message", then the menu
        keys(phone, "1")
        assert phone.wait_for_tone(MESSAGE_TONE, timeout=20, seconds=2.0), "message not heard"
        with phone._lock:
            heard = b"".join(phone.heard_payloads)
        keys(phone, "7")
        time.sleep(2.0)
        keys(phone, "#")
        status, _ = alice.wait(timeout=30)
        assert status == 0
    finally:
        alice.stop()
        phone.close()
    # The count was said: "vous avez" "un" "nouveau" "message", each prompt's audio whole
    # and back to back ("deux" there, or any other word, would not match).
    count = ["vm-youhave", "digits/1", "vm-INBOX", "vm-message"]
    assert said_in_order(heard, [prompt_audio(tmp_path / "config", name) for name in count])
    wrong = ["vm-youhave", "digits/2", "vm-INBOX", "vm-messages"]
    assert not said_in_order(heard, [prompt_audio(tmp_path / "config", name) for name in wrong])
    assert lamp.waiting("no"), lamp.seen
    assert server.wait_for(r'"new": 0, "old": 0, "type": "VoicemailChanged"')
    leftovers = list((tmp_path / "state" / "voicemail" / "default" / "101").rglob("msg*"))
    assert leftovers == []
    lamp.socket.close()


def test_three_wrong_passwords_end_the_call(tmp_path: Path, pbx) -> None:
    ports, server, _ = pbx
    phone = RtpPhone()
    alice = call(tmp_path, ports, "guess", "199", phone, user="alice")
    try:
        for _ in range(3):
            assert phone.wait_for_speech(timeout=20)
            keys(phone, "101#")
            time.sleep(1.0)
            keys(phone, "0000#")
            time.sleep(2.5)
        status, _ = alice.wait(timeout=30)
        assert status == 0  # the PBX hung up: the scenario got its BYE
    finally:
        alice.stop()
        phone.close()
    assert server.wait_for('"type": "VoicemailLoginFailed"')


def test_a_full_mailbox_refuses_the_31st_message(tmp_path: Path, pbx) -> None:
    ports, _, beep = pbx
    spool = Spool(tmp_path / "state" / "voicemail", ["wav"], fsync=False)
    silence = np.zeros(8000, dtype=np.int16)
    for number in range(30):  # maxmsg=30 in the reference voicemail.conf
        info = MessageInfo(
            "101",
            "from-internal",
            "",
            "101",
            "",
            2,
            "PJSIP/x",
            "<9>",
            "",
            0,
            "",
            str(number),
            "",
            1,
        )
        assert spool.deposit("default", "101", silence, info, maxmsg=30) is not None
    phone = RtpPhone()
    bob = call(tmp_path, ports, "full", "101", phone)
    try:
        assert phone.wait_for_speech(timeout=20), "vm-mailboxfull was not said"
        status, _ = bob.wait(timeout=40)
        assert status == 0  # the PBX hung up after saying the box is full
    finally:
        bob.stop()
        phone.close()
    assert tone_seconds(phone.heard(), beep, 8000) == 0  # no beep: nothing recorded
    assert len(list(inbox(tmp_path).glob("msg*.txt"))) == 30


def test_a_killed_server_leaves_no_half_message(tmp_path: Path, pbx) -> None:
    ports, server, beep = pbx
    phone = RtpPhone()
    bob = call(tmp_path, ports, "killed", "101", phone)
    try:
        assert phone.wait_for_tone(beep, timeout=40)
        phone.say(MESSAGE_TONE, 2.0)
        assert server.process is not None
        server.process.kill()  # SIGKILL while recording
        server.process.wait()
    finally:
        bob.stop()
        phone.close()
    box = tmp_path / "state" / "voicemail" / "default" / "101"
    assert not list(box.rglob("msg*")), "a half message was left"
    # What a kill in the middle of writing the files would leave: a temporary file and a
    # sound file whose .txt never came. A restart removes both.
    (box / "tmp").mkdir(parents=True, exist_ok=True)
    (box / "tmp" / "0123abcd.wav").write_bytes(b"RIFF")
    (box / "INBOX").mkdir(exist_ok=True)
    (box / "INBOX" / "msg0000.ulaw").write_bytes(b"\xff" * 160)
    restarted = ServerProcess(server.config_dir, server.state_dir).start()
    try:
        assert not list(box.rglob("msg*")), "the orphan sound file survived the restart"
        assert not [p for p in box.rglob("*") if p.is_file() and p.parent.name == "tmp"]
    finally:
        restarted.stop()


def test_without_asterisk_s_sounds_the_built_in_prompts_and_the_1khz_beep_play(
    tmp_path: Path,
) -> None:
    ports = Ports()
    config = reference_config(tmp_path / "config", ports)
    nowhere = tmp_path / "no-asterisk-sounds"
    nowhere.mkdir()
    (config / "switchboard.conf").write_text(f"[media]\nsounds_dir = {nowhere}\n")
    with ServerProcess(config, tmp_path / "state") as server:
        phone = leave_message(tmp_path, ports, "deposit", 2.0, BEEP_HZ)
        assert server.wait_for('"type": "VoicemailDeposited"')
    heard = b"".join(phone.heard_payloads)
    intro = find_sound("vm-intro", "fr", "ulaw", [builtin_sounds_dir()])
    assert intro is not None
    assert said_in_order(heard, [read_sound(intro, "ulaw")]), "no built-in vm-intro heard"
    samples = decode("wav", (inbox(tmp_path) / "msg0000.wav").read_bytes())
    assert 1.5 <= tone_seconds(np.asarray(samples), MESSAGE_TONE, 8000) <= 2.1
