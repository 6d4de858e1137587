"""VoiceMailMain's menus on the reference config: alice records a temporary greeting that
callers then hear, changes her PIN, saves a message to Work and forwards one to 102.
SIPp carries the signalling, a Python RTP phone the media (tones and RFC 4733 keys)."""

from __future__ import annotations

import stat
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from switchboard.services.voicemail.formats import decode
from switchboard.services.voicemail.spool import Message, MessageInfo, Spool
from tests.e2e.audio import tone, tone_seconds
from tests.e2e.rtp_phone import RtpPhone
from tests.e2e.server import Ports, ServerProcess, reference_config
from tests.e2e.voicemail_calls import LAMP, MESSAGE_TONE, beep_frequency, call, leave_message

pytestmark = pytest.mark.e2e

GREETING_TONE = 600


@pytest.fixture
def pbx(tmp_path: Path):
    ports = Ports()
    config = reference_config(tmp_path / "config", ports, extra_pjsip=LAMP)
    with ServerProcess(config, tmp_path / "state") as server:
        yield ports, server, beep_frequency(config)


def box_dir(tmp_path: Path, box: str = "101") -> Path:
    return tmp_path / "state" / "voicemail" / "default" / box


def keys(phone: RtpPhone, typed: str) -> None:
    for key in typed:
        phone.press(key)
        time.sleep(0.2)


def forget(phone: RtpPhone) -> None:
    """Forget what the phone heard so far: the next wait looks at new audio only."""
    with phone._lock:
        phone.heard_payloads.clear()


def until(condition: Callable[[], bool], timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def login(phone: RtpPhone, pin: str = "1234") -> None:
    assert phone.wait_for_speech(timeout=20), "no vm-login prompt"
    keys(phone, "101#")
    time.sleep(1.0)
    keys(phone, pin + "#")
    time.sleep(1.0)


def put_message(tmp_path: Path, seconds: float = 2.0) -> Message:
    """A message from 102 in alice's INBOX, as a deposit would leave it."""
    now = int(time.time())
    info = MessageInfo(
        "101", "from-internal", "", "101", "", 2, "PJSIP/bob-1", '"bob" <102>', "", now, "",
        f"{now}-test", "", round(seconds),
    )  # fmt: skip
    spool = Spool(tmp_path / "state" / "voicemail", ["wav"], fsync=False)
    message = spool.deposit("default", "101", tone(MESSAGE_TONE, seconds), info)
    assert message is not None
    return message


def tone_in(path: Path, freq: float) -> float:
    return tone_seconds(np.asarray(decode(path.suffix[1:], path.read_bytes())), freq, 8000)


def hang_up_with_hash(phone: RtpPhone, session) -> None:  # type: ignore[no-untyped-def]
    keys(phone, "#")
    status, _ = session.wait(timeout=40)
    assert status == 0  # the PBX said goodbye and hung up


def test_a_temporary_greeting_recorded_from_199_greets_callers(tmp_path: Path, pbx) -> None:
    ports, _, beep = pbx
    phone = RtpPhone()
    alice = call(tmp_path, ports, "greet", "199", phone, user="alice")
    box = box_dir(tmp_path)
    try:
        login(phone)
        keys(phone, "04")  # mailbox options, temporary greeting: none yet, so record one
        assert phone.wait_for_beep_end(beep, timeout=40), "no beep before the recording"
        phone.say(GREETING_TONE, 3.0)
        keys(phone, "#")  # end of the recording: "1 to accept, 2 to listen, 3 to re-record"
        time.sleep(1.0)
        keys(phone, "1")
        assert until(lambda: (box / "temp.txt").exists() or (box / "temp.wav").exists())
        keys(phone, "*")  # back to the main menu
        hang_up_with_hash(phone, alice)
    finally:
        alice.stop()
        phone.close()
    names = sorted(p.name for p in box.glob("temp.*"))
    assert names == ["temp.WAV", "temp.gsm", "temp.ulaw", "temp.wav"]
    for path in box.glob("temp.*"):
        assert 2.6 <= tone_in(path, GREETING_TONE) <= 3.1, path
    # bob calls 101, alice does not answer: VoiceMail(101) plays the temporary greeting.
    caller = leave_message(tmp_path, ports, "after", 2.0, beep)
    greeting = caller.greeting  # type: ignore[attr-defined]
    assert tone_seconds(greeting, GREETING_TONE, 8000) >= 2.6, "the greeting was not heard"


def test_alice_changes_her_pin_and_logs_in_with_the_new_one(tmp_path: Path, pbx) -> None:
    ports, _, _ = pbx
    password = box_dir(tmp_path) / "password"
    phone = RtpPhone()
    alice = call(tmp_path, ports, "pin", "199", phone, user="alice")
    try:
        login(phone)
        keys(phone, "05")  # mailbox options, change password
        time.sleep(1.0)
        keys(phone, "5678#")
        time.sleep(1.0)
        keys(phone, "5678#")
        assert until(password.exists), "the new PIN was not stored"
        keys(phone, "*")
        hang_up_with_hash(phone, alice)
    finally:
        alice.stop()
        phone.close()
    assert password.read_text() == "5678\n"
    assert stat.S_IMODE(password.stat().st_mode) == 0o600
    put_message(tmp_path)
    phone = RtpPhone()
    alice = call(tmp_path, ports, "newpin", "199", phone, user="alice")
    try:
        login(phone, "5678")
        keys(phone, "1")
        assert phone.wait_for_tone(MESSAGE_TONE, timeout=20, seconds=1.5), "not logged in"
        hang_up_with_hash(phone, alice)
    finally:
        alice.stop()
        phone.close()


def test_a_message_saved_to_work_is_found_there(tmp_path: Path, pbx) -> None:
    ports, _, _ = pbx
    original = put_message(tmp_path)
    work = box_dir(tmp_path) / "Work"
    phone = RtpPhone()
    alice = call(tmp_path, ports, "save", "199", phone, user="alice")
    try:
        login(phone)
        keys(phone, "1")
        assert phone.wait_for_tone(MESSAGE_TONE, timeout=20, seconds=1.0), "message not heard"
        keys(phone, "92")  # save to folder 2, Work
        assert until((work / "msg0000.txt").exists), "nothing saved in Work"
        forget(phone)
        keys(phone, "22")  # change folder to Work
        time.sleep(1.0)
        keys(phone, "1")
        assert phone.wait_for_tone(MESSAGE_TONE, timeout=20, seconds=1.5), "not heard in Work"
        hang_up_with_hash(phone, alice)
    finally:
        alice.stop()
        phone.close()
    assert f"msg_id={original.info.msg_id}\n" in (work / "msg0000.txt").read_text()
    sounds = [p for p in work.glob("msg0000.*") if p.suffix != ".txt"]
    assert sounds
    for path in sounds:
        assert 1.8 <= tone_in(path, MESSAGE_TONE) <= 2.1, path
    box = box_dir(tmp_path)
    assert not list((box / "INBOX").glob("msg*")), "the original stayed in INBOX"
    assert not list((box / "Old").glob("msg*")) if (box / "Old").exists() else True


def test_a_message_forwarded_to_102_arrives_in_its_inbox(tmp_path: Path, pbx) -> None:
    ports, server, _ = pbx
    original = put_message(tmp_path)
    bobs = box_dir(tmp_path, "102") / "INBOX"
    phone = RtpPhone()
    alice = call(tmp_path, ports, "forward", "199", phone, user="alice")
    try:
        login(phone)
        keys(phone, "1")
        assert phone.wait_for_tone(MESSAGE_TONE, timeout=20, seconds=1.0), "message not heard"
        keys(phone, "8")  # forward: "extension"
        time.sleep(0.5)
        keys(phone, "102#")
        time.sleep(1.0)
        keys(phone, "2")  # forward without an introduction
        assert until((bobs / "msg0000.txt").exists), "nothing arrived for 102"
        hang_up_with_hash(phone, alice)
    finally:
        alice.stop()
        phone.close()
    text = (bobs / "msg0000.txt").read_text()
    assert 'callerid="bob" <102>\n' in text and original.info.msg_id not in text
    names = sorted(p.name for p in bobs.glob("msg0000.*"))
    assert names == ["msg0000.WAV", "msg0000.gsm", "msg0000.txt", "msg0000.ulaw", "msg0000.wav"]
    for path in bobs.glob("msg0000.*"):
        if path.suffix != ".txt":
            assert 1.8 <= tone_in(path, MESSAGE_TONE) <= 2.1, path
    assert server.wait_for('"mailbox": "102@default"')
    # alice heard it: her copy moved to Old when she left.
    old = box_dir(tmp_path) / "Old"
    assert until((old / "msg0000.txt").exists)
