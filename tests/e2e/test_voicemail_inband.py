"""In-band DTMF: alice's phone (``dtmf_mode=inband``) sends its keys as dual tones in the
audio, not RFC 4733 events; VoiceMailMain still reads her mailbox, PIN and menu keys."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from tests.e2e.rtp_phone import RtpPhone
from tests.e2e.server import Ports, ServerProcess, reference_config
from tests.e2e.voicemail_calls import LAMP, MESSAGE_TONE, beep_frequency, call, leave_message

pytestmark = pytest.mark.e2e

INBAND = LAMP + "dtmf_mode=inband\n"
"""alice's endpoint (the section LAMP adds to) sends DTMF in-band."""


@pytest.fixture
def pbx(tmp_path: Path):
    ports = Ports()
    config = reference_config(tmp_path / "config", ports, extra_pjsip=INBAND)
    with ServerProcess(config, tmp_path / "state") as server:
        yield ports, server, beep_frequency(config)


def tones(phone: RtpPhone, typed: str) -> None:
    for key in typed:
        phone.press_tones(key)


def test_alice_logs_in_and_listens_with_tone_keys(tmp_path: Path, pbx) -> None:
    ports, server, beep = pbx
    leave_message(tmp_path, ports, "deposit", 3.0, beep)  # bob: RFC 4733 keys
    phone = RtpPhone()
    alice = call(tmp_path, ports, "listen", "199", phone, user="alice")
    try:
        assert phone.wait_for_speech(timeout=20), "no vm-login prompt"
        tones(phone, "101#")
        time.sleep(1.5)
        tones(phone, "1234#")
        time.sleep(3.0)  # "vous avez un nouveau message", then the menu
        tones(phone, "1")
        assert phone.wait_for_tone(MESSAGE_TONE, timeout=20, seconds=2.0), "message not heard"
        tones(phone, "#")
        status, _ = alice.wait(timeout=30)
        assert status == 0
    finally:
        alice.stop()
        phone.close()
    assert "VoicemailLoginFailed" not in server.log
    events = [
        json.loads(text) for text in re.findall(r"\{[^{}]*\"DtmfReceived\"[^{}]*\}", server.log)
    ]
    alice_keys = "".join(e["digit"] for e in events if e["channel"].startswith("PJSIP/alice-"))
    assert alice_keys == "101#1#"  # every tone once on the bus, but not the PIN's
