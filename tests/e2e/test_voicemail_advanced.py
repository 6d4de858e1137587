"""VoiceMailMain's advanced options (``3``) on the reference config: alice replies to bob's
message, calls him back, dials out and leaves him a message; ``VoiceMail(101&102)``
leaves one message in both boxes; switchboard.conf's ``recording_cap`` ends a message when
voicemail.conf sets no limit. SIPp carries the signalling (and bob's phone when he is
called), a Python RTP phone the media."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.e2e import calls
from tests.e2e.rtp_phone import RtpPhone
from tests.e2e.server import Ports, ServerProcess, free_port, reference_config
from tests.e2e.test_calls import ANCHORED
from tests.e2e.test_voicemail_menus import (
    box_dir,
    forget,
    hang_up_with_hash,
    keys,
    login,
    put_message,
    tone_in,
    until,
)
from tests.e2e.voicemail_calls import LAMP, MESSAGE_TONE, beep_frequency, call, leave_message

pytestmark = pytest.mark.e2e

REPLY_TONE = 660


def start(tmp_path: Path, general: str = ""):  # type: ignore[no-untyped-def]
    """The reference deployment with ``general`` added to voicemail.conf's [general]."""
    ports = Ports()
    config = reference_config(tmp_path / "config", ports, extra_pjsip=LAMP + ANCHORED)
    voicemail = config / "voicemail.conf"
    voicemail.write_text(voicemail.read_text().replace("[general]\n", f"[general]\n{general}", 1))
    return ports, ServerProcess(config, tmp_path / "state"), beep_frequency(config)


def bobs_phone(tmp_path: Path, ports: Ports) -> calls.Phone:
    """bob registered with a SIPp phone that answers, then hangs up a second later."""
    bob = calls.Phone(tmp_path / "bob", ports.udp, "bob", "bob102", free_port())
    bob.register()
    bob.start(calls.callee(answer_after_ms=300, hangs_up_after_ms=1000), timeout=60)
    return bob


def record_after_beep(phone: RtpPhone, beep: float, seconds: float) -> None:
    """Wait for the beep, speak the reply tone, end with ``#`` and accept (review=yes)."""
    assert phone.wait_for_beep_end(beep, timeout=40), "no beep before the recording"
    phone.say(REPLY_TONE, seconds)
    keys(phone, "#")
    time.sleep(1.0)
    keys(phone, "1")


def assert_left_for_bob(tmp_path: Path, seconds: float) -> None:
    """bob's INBOX holds one message from alice, of ``seconds`` of the reply tone."""
    bobs = box_dir(tmp_path, "102") / "INBOX"
    assert until((bobs / "msg0000.txt").exists), "nothing arrived for 102"
    text = (bobs / "msg0000.txt").read_text()
    assert "callerid=" in text and "alice" in text.split("callerid=")[1].splitlines()[0]
    for path in bobs.glob("msg0000.*"):
        if path.suffix != ".txt":
            assert seconds - 0.4 <= tone_in(path, REPLY_TONE) <= seconds + 0.2, path


def test_alice_replies_to_bobs_message(tmp_path: Path) -> None:
    ports, server, beep = start(tmp_path)
    with server:
        put_message(tmp_path)
        phone = RtpPhone()
        alice = call(tmp_path, ports, "reply", "199", phone, user="alice")
        try:
            login(phone)
            keys(phone, "1")
            assert phone.wait_for_tone(MESSAGE_TONE, timeout=20, seconds=1.0), "not heard"
            forget(phone)
            keys(phone, "31")  # advanced options, reply: bob's number 102 has a box
            record_after_beep(phone, beep, 2.0)
            assert until((box_dir(tmp_path, "102") / "INBOX" / "msg0000.txt").exists)
            hang_up_with_hash(phone, alice)
        finally:
            alice.stop()
            phone.close()
        assert server.wait_for("VoiceMailMain: reply to 102@default")
    assert_left_for_bob(tmp_path, 2.0)


def test_a_reply_to_a_caller_without_a_box_is_refused(tmp_path: Path) -> None:
    ports, server, _ = start(tmp_path)
    with server:
        message = put_message(tmp_path)
        info = box_dir(tmp_path) / "INBOX" / "msg0000.txt"
        info.write_text(info.read_text().replace('"bob" <102>', '"carol" <555>'))
        phone = RtpPhone()
        alice = call(tmp_path, ports, "nobox", "199", phone, user="alice")
        try:
            login(phone)
            keys(phone, "1")
            assert phone.wait_for_tone(MESSAGE_TONE, timeout=20, seconds=1.0), "not heard"
            keys(phone, "31")
            assert server.wait_for("no mailbox 555 to reply to")
            hang_up_with_hash(phone, alice)
        finally:
            alice.stop()
            phone.close()
    assert message.info.callerid == '"bob" <102>'
    assert not (box_dir(tmp_path, "555")).exists()


def test_alice_calls_bob_back_from_his_message(tmp_path: Path) -> None:
    ports, server, _ = start(tmp_path, "callback=from-internal\n")
    with server:
        put_message(tmp_path)
        bob = bobs_phone(tmp_path, ports)
        phone = RtpPhone()
        alice = call(tmp_path, ports, "callback", "199", phone, user="alice")
        try:
            login(phone)
            keys(phone, "1")
            assert phone.wait_for_tone(MESSAGE_TONE, timeout=20, seconds=1.0), "not heard"
            keys(phone, "32")  # advanced options, call back: "the number I have is 1 0 2"
            time.sleep(1.0)
            keys(phone, "1")  # call this number
            status, messages = bob.wait(timeout=60)
            assert status == 0, "bob's phone did not take the call back"
            invite = next(m for m in messages if m.first_line.startswith("INVITE"))
            assert "alice" in (invite.header("From") or "")
            status, _ = alice.wait(timeout=30)
            assert status == 0  # bob hung up, and the PBX hung up on alice
        finally:
            alice.stop()
            bob.stop()
            phone.close()
        assert server.wait_for("VoiceMailMain: calling 102 in context from-internal")


def test_alice_dials_out_from_the_advanced_menu(tmp_path: Path) -> None:
    ports, server, _ = start(tmp_path, "dialout=from-internal\n")
    with server:
        bob = bobs_phone(tmp_path, ports)
        phone = RtpPhone()
        alice = call(tmp_path, ports, "dialout", "199", phone, user="alice")
        try:
            login(phone)
            keys(phone, "34")  # advanced options, make a call: the number, then #
            time.sleep(1.0)
            keys(phone, "102#")
            status, messages = bob.wait(timeout=60)
            assert status == 0, "bob's phone did not get the call"
            assert any(m.first_line.startswith("INVITE") for m in messages)
            status, _ = alice.wait(timeout=30)
            assert status == 0
        finally:
            alice.stop()
            bob.stop()
            phone.close()


def test_alice_leaves_bob_a_message_from_her_mailbox(tmp_path: Path) -> None:
    ports, server, beep = start(tmp_path, "sendvoicemail=yes\n")
    with server:
        phone = RtpPhone()
        alice = call(tmp_path, ports, "leave", "199", phone, user="alice")
        try:
            login(phone)
            keys(phone, "35")  # advanced options, leave a message: "extension", then #
            time.sleep(1.0)
            keys(phone, "102#")
            record_after_beep(phone, beep, 2.0)
            assert until((box_dir(tmp_path, "102") / "INBOX" / "msg0000.txt").exists)
            hang_up_with_hash(phone, alice)
        finally:
            alice.stop()
            phone.close()
    assert_left_for_bob(tmp_path, 2.0)


def test_what_is_not_configured_is_answered_sorry(tmp_path: Path) -> None:
    ports, server, _ = start(tmp_path)
    with server:
        phone = RtpPhone()
        alice = call(tmp_path, ports, "sorry", "199", phone, user="alice")
        try:
            login(phone)
            keys(phone, "34")  # no dialout= context: "vm-sorry", back to the main menu
            time.sleep(2.0)
            hang_up_with_hash(phone, alice)
        finally:
            alice.stop()
            phone.close()
        assert "VoiceMailMain: calling" not in server.log


def test_a_message_for_two_boxes_is_left_in_both(tmp_path: Path) -> None:
    ports = Ports()
    config = reference_config(tmp_path / "config", ports, extra_pjsip=LAMP)
    dialplan = config / "extensions.conf"
    dialplan.write_text(dialplan.read_text().replace("VoiceMail(101)", "VoiceMail(101&102)"))
    with ServerProcess(config, tmp_path / "state"):
        leave_message(tmp_path, ports, "both", 2.0, beep_frequency(config))
    for box in ("101", "102"):
        folder = box_dir(tmp_path, box) / "INBOX"
        assert until((folder / "msg0000.txt").exists), f"nothing in {box}"
        assert f"origmailbox={box}\n" in (folder / "msg0000.txt").read_text()
        for path in folder.glob("msg0000.*"):
            if path.suffix != ".txt":
                assert 1.6 <= tone_in(path, MESSAGE_TONE) <= 2.2, path


def test_a_message_stops_at_the_recording_cap_when_maxsecs_is_0(tmp_path: Path) -> None:
    ports = Ports()
    config = reference_config(tmp_path / "config", ports, extra_pjsip=LAMP)
    (config / "switchboard.conf").write_text("[voicemail]\nrecording_cap=10\n")
    with ServerProcess(config, tmp_path / "state"):
        phone = RtpPhone()
        bob = call(tmp_path, ports, "cap", "101", phone)
        try:
            assert phone.wait_for_tone(beep_frequency(config), timeout=40), "no beep"
            phone.say(MESSAGE_TONE, 13.0)  # never presses #: the cap ends the recording
            status, _ = bob.wait(timeout=40)
            assert status == 0  # saved, goodbye, and the PBX hung up
        finally:
            bob.stop()
            phone.close()
    folder = box_dir(tmp_path) / "INBOX"
    assert until((folder / "msg0000.txt").exists)
    assert "duration=10\n" in (folder / "msg0000.txt").read_text()
    for path in folder.glob("msg0000.*"):
        if path.suffix != ".txt":
            assert 9.4 <= tone_in(path, MESSAGE_TONE) <= 10.1, path
