"""G.722 and Opus phones through the relay's transcoders and the media ports: a wideband
phone and a G.711 phone each hear the other's tone (found by FFT in what baresip
recorded); a wideband caller hears the voicemail greeting and beep in its own codec and
leaves a message that is stored, in every format, as its tone."""

from __future__ import annotations

import struct
import time
from pathlib import Path

import numpy as np
import pytest

from switchboard.services.voicemail.formats import decode
from tests.e2e.audio import tone_seconds, write_tone_wav, write_wav
from tests.e2e.baresip import BARESIP, Baresip, rtp_port_range
from tests.e2e.server import Ports, ServerProcess, free_port, reference_config
from tests.e2e.test_call_audio import ALICE_TONE, BOB_TONE, call_and_listen
from tests.e2e.voicemail_calls import MESSAGE_TONE, beep_frequency, inbox, leave_message

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(BARESIP is None, reason="baresip is not installed"),
]


@pytest.mark.parametrize("codec", ["g722", "opus"])
def test_a_wideband_bob_and_a_ulaw_alice_are_transcoded(tmp_path: Path, codec: str) -> None:
    bob_only = f"[bob](+type=endpoint)\ndisallow=all\nallow={codec}\n"
    alice_heard, bob_heard, log, received = call_and_listen(tmp_path, bob_only, codec)
    assert "direct media" not in log  # different codecs: the relay must stay
    assert tone_seconds(alice_heard, BOB_TONE) >= 2
    assert tone_seconds(bob_heard, ALICE_TONE) >= 2
    assert received[0] >= 100 and received[1] >= 100


def test_two_g722_phones_still_get_direct_media(tmp_path: Path) -> None:
    both = "".join(
        f"[{name}](+type=endpoint)\ndisallow=all\nallow=g722\n" for name in ("alice", "bob")
    )
    alice_heard, bob_heard, log, received = call_and_listen(tmp_path, both, "g722", "g722")
    assert "direct media with PJSIP/alice-" in log
    assert all(count is None or count < 50 for count in received), received
    assert tone_seconds(alice_heard, BOB_TONE) >= 2
    assert tone_seconds(bob_heard, ALICE_TONE) >= 2


def _received(phone: Baresip) -> tuple[np.ndarray, int]:
    """What the phone has heard so far (first channel) and its rate, read from the
    recording baresip is still writing (its header's sizes are 0 until the call ends)."""
    found = sorted(phone.recordings.glob("dump-*-dec.wav"))
    data = found[-1].read_bytes() if found else b""
    fmt, start = data.find(b"fmt "), data.find(b"data")
    if fmt < 0 or start < 0:
        return np.zeros(0, dtype=np.int16), 8000
    channels, rate = struct.unpack_from("<HI", data, fmt + 10)
    body = data[start + 8 :]
    samples = np.frombuffer(body[: len(body) - len(body) % (2 * channels)], dtype="<i2")
    return samples[::channels], rate


def _wait_for_tone(
    phone: Baresip, freq: float, timeout: float = 40, seconds: float = 0.2
) -> np.ndarray:
    """Poll what the phone heard until ``seconds`` of ``freq`` are in it; what it heard."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        samples, rate = _received(phone)
        if tone_seconds(samples, freq, rate) >= seconds:
            return samples
        time.sleep(0.1)
    raise AssertionError(f"no {freq:.0f} Hz tone heard within {timeout} s\n{phone.log}")


@pytest.mark.parametrize("codec", ["g722", "opus"])
def test_a_wideband_phone_hears_the_greeting_and_leaves_a_message(
    tmp_path: Path, codec: str
) -> None:
    ports = Ports()
    bob_only = f"[bob](+type=endpoint)\ndisallow=all\nallow={codec}\n"
    config = reference_config(tmp_path / "config", ports, extra_pjsip=bob_only)
    beep = beep_frequency(config)
    folder = tmp_path / "bob"
    folder.mkdir()
    with ServerProcess(config, tmp_path / "state") as server:
        bob = Baresip(
            folder,
            f"<sip:bob@127.0.0.1:{ports.udp}>;auth_pass=bob102;regint=600",
            sip_port=free_port(pair=True),
            ctrl_port=free_port(),
            audio_source=write_tone_wav(folder / "tone.wav", MESSAGE_TONE, 60),
            record=True,
            rtp_ports=rtp_port_range(),
            audio_codecs=codec,
        )
        with bob:
            bob.wait_registered()
            bob.dial(f"sip:101@127.0.0.1:{ports.udp}")  # alice is away: VoiceMail(101)
            bob.wait_event("CALL_ESTABLISHED", timeout=30)
            heard = _wait_for_tone(bob, beep)
            time.sleep(5.0)  # bob speaks (his tone) for 5 s after the beep
            bob.send_dtmf("#")
            time.sleep(1.0)
            bob.send_dtmf("1")  # review=yes: accept
            assert bob.close_reason(timeout=30) == "Connection reset by peer"
        assert server.wait_for('"type": "VoicemailDeposited"')
    _, rate = _received(bob)
    speech = heard[: max(0, len(heard) - rate // 2)].astype(np.float64)
    assert np.sqrt(np.mean(speech**2)) > 100 and len(speech) > rate, "no greeting heard"
    folder = inbox(tmp_path)
    for path in folder.glob("msg0000.*"):
        if path.suffix == ".txt":
            continue
        samples = decode(path.suffix[1:], path.read_bytes())
        assert 4.0 <= tone_seconds(np.asarray(samples), MESSAGE_TONE, 8000) <= 6.5, path
    assert len(list(folder.glob("msg0000.*"))) == 5  # four formats and the .txt


def _wait_for_sound(phone: Baresip, timeout: float = 20) -> None:
    """Poll what the phone heard until there is 0.3 s of something louder than silence."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        samples, rate = _received(phone)
        if np.count_nonzero(np.abs(samples.astype(np.int32)) > 500) > 0.3 * rate:
            return
        time.sleep(0.1)
    raise AssertionError(f"nothing heard within {timeout} s\n{phone.log}")


def test_an_opus_phone_logs_in_by_dtmf_and_hears_its_message(tmp_path: Path) -> None:
    ports = Ports()
    alice_opus = "[alice](+type=endpoint)\ndisallow=all\nallow=opus\n"
    config = reference_config(tmp_path / "config", ports, extra_pjsip=alice_opus)
    folder = tmp_path / "alice"
    folder.mkdir()
    with ServerProcess(config, tmp_path / "state") as server:
        leave_message(tmp_path, ports, "deposit", 3.0, beep_frequency(config))  # bob: PCMU
        alice = Baresip(
            folder,
            f"<sip:alice@127.0.0.1:{ports.udp}>;auth_pass=alice101;regint=600",
            sip_port=free_port(pair=True),
            ctrl_port=free_port(),
            audio_source=write_wav(folder / "silence.wav", np.zeros(60 * 8000, np.int16)),
            record=True,
            rtp_ports=rtp_port_range(),
            audio_codecs="opus",
        )
        with alice:
            alice.wait_registered()
            alice.dial(f"sip:199@127.0.0.1:{ports.udp}")
            alice.wait_event("CALL_ESTABLISHED", timeout=30)
            _wait_for_sound(alice)  # vm-login
            alice.send_dtmf("101#")
            time.sleep(1.5)
            alice.send_dtmf("1234#")
            time.sleep(3.0)  # "vous avez un nouveau message", then the menu
            alice.send_dtmf("1")
            _wait_for_tone(alice, MESSAGE_TONE, timeout=20, seconds=2.0)  # the message
            alice.send_dtmf("#")
            assert alice.close_reason(timeout=30) == "Connection reset by peer"
        assert "VoicemailLoginFailed" not in server.log
