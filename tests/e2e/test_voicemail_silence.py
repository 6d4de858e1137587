"""voicemail.conf ``maxsilence``: a caller who stops talking leaves a message all the same;
the recording ends by itself after that much silence, which is cut from the message but
for the 200 ms Asterisk keeps."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import numpy as np
import pytest

from switchboard.services.voicemail.formats import decode
from tests.e2e.audio import tone_seconds
from tests.e2e.rtp_phone import RtpPhone
from tests.e2e.server import Ports, ServerProcess, reference_config
from tests.e2e.voicemail_calls import LAMP, MESSAGE_TONE, beep_frequency, call, inbox

pytestmark = pytest.mark.e2e

MAXSILENCE = 2


@pytest.fixture
def pbx(tmp_path: Path):
    ports = Ports()
    config = reference_config(tmp_path / "config", ports, extra_pjsip=LAMP)
    voicemail = (config / "voicemail.conf").read_text()
    voicemail = voicemail.replace("[general]\n", f"[general]\nmaxsilence={MAXSILENCE}\n", 1)
    (config / "voicemail.conf").write_text(voicemail)
    with ServerProcess(config, tmp_path / "state") as server:
        yield ports, server, beep_frequency(config)


def test_silence_ends_the_message_and_is_cut_from_it(tmp_path: Path, pbx) -> None:
    ports, server, beep = pbx
    phone = RtpPhone()
    bob = call(tmp_path, ports, "silent", "101", phone)
    done = threading.Event()
    quiet: threading.Thread | None = None
    try:
        assert phone.wait_for_beep_end(beep, timeout=40), f"no beep ({beep:.0f} Hz) heard"
        phone.say(MESSAGE_TONE, 2.0)

        def keep_quiet() -> None:  # silence packets, as a phone does, until the hangup
            while not done.is_set():
                phone.silence(0.1)

        quiet = threading.Thread(target=keep_quiet, daemon=True)
        quiet.start()
        status, _ = bob.wait(timeout=30)  # no "#": the PBX saves and hangs up by itself
        assert status == 0
    finally:
        done.set()
        if quiet is not None:
            quiet.join(timeout=2)
        bob.stop()
        phone.close()
    assert server.wait_for("recording stopped after")
    folder = inbox(tmp_path)
    for path in folder.glob("msg0000.*"):
        if path.suffix == ".txt":
            continue
        samples = np.asarray(decode(path.suffix[1:], path.read_bytes()))
        # The tone, less what was said while the beep still played (not recorded yet).
        assert 1.4 <= tone_seconds(samples, MESSAGE_TONE, 8000) <= 2.1, path
        assert len(samples) / 8000 <= 2.4, path
    pcm = np.asarray(decode("wav", (folder / "msg0000.wav").read_bytes()))
    kept = (len(pcm) - 1 - np.flatnonzero(np.abs(pcm.astype(int)) > 1000)[-1]) / 8000
    assert 0.15 <= kept <= 0.3, f"{kept:.3f} s of silence kept (Asterisk: 0.2 s)"
    info = (folder / "msg0000.txt").read_text()
    duration = int(re.search(r"^duration=(\d+)$", info, re.MULTILINE).group(1))  # type: ignore[union-attr]
    assert 1 <= duration <= 3
