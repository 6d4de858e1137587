"""SRTP with SDES keys (``media_encryption=sdes``): two baresip phones over TLS hear each
other's tone while tcpdump on loopback sees only ciphertext; an SRTP phone talks to a
plain one through the relay; SDES over UDP is refused with 488 unless the admin allows it;
and the keys seen in the SDP never reach the server's log."""

from __future__ import annotations

import re
import select
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from tests.e2e import calls
from tests.e2e.audio import read_pcap_rtp, rtp_samples, tone_seconds, write_tone_wav
from tests.e2e.baresip import BARESIP, Baresip, rtp_port_range
from tests.e2e.server import Ports, ServerProcess, free_port, reference_config
from tests.e2e.test_calls import bob_calls
from tests.e2e.test_register_baresip import make_certificates
from tests.e2e.voicemail_calls import beep_frequency, inbox

TCPDUMP = shutil.which("tcpdump")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(BARESIP is None, reason="baresip is not installed"),
]

ALICE_TONE, BOB_TONE = 440, 1000
KEY = re.compile(r"inline:([A-Za-z0-9+/]{20,}={0,2})")
"""An SDES key in an ``a=crypto`` line (RFC 4568 §9.2: base64 of key||salt)."""


def sdes(*names: str, optimistic: bool = False) -> str:
    """pjsip.conf lines turning SDES on for these endpoints."""
    extra = "media_encryption_optimistic=yes\n" if optimistic else ""
    return "".join(f"[{name}](+type=endpoint)\nmedia_encryption=sdes\n{extra}" for name in names)


class Capture:
    """tcpdump on loopback, writing what ``expression`` selects to ``path`` while the
    block runs (a real tap on the wire between the phones and the PBX)."""

    def __init__(self, path: Path, expression: str) -> None:
        self.path = path
        self.expression = expression
        self.process: subprocess.Popen[str] | None = None

    def __enter__(self) -> Capture:
        if TCPDUMP is None:
            pytest.fail("tcpdump is not installed (apt-get install tcpdump)")
        self.process = subprocess.Popen(
            [TCPDUMP, "-i", "lo", "-n", "-U", "-w", str(self.path), self.expression],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stderr is not None
        deadline = time.monotonic() + 10
        seen = ""
        while time.monotonic() < deadline and "listening on" not in seen:
            ready, _, _ = select.select([self.process.stderr], [], [], 0.2)
            if ready:
                line = self.process.stderr.readline()
                if not line:
                    break
                seen += line
        assert "listening on" in seen, f"tcpdump did not start: {seen}"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def ports_expression(*ranges: tuple[int, int]) -> str:
    """A tcpdump filter for UDP to or from any of these port ranges."""
    return "udp and (" + " or ".join(f"portrange {low}-{high}" for low, high in ranges) + ")"


USERS = {"alice": ("alice101", ALICE_TONE), "bob": ("bob102", BOB_TONE)}


def phone(
    tmp_path: Path, user: str, ports: Ports, ca: Path, *, transport: str, mediaenc: str | None
) -> Baresip:
    """``user``'s baresip over ``transport``: it registers, answers by itself, plays its
    tone (1 kHz for bob, 440 Hz for alice), records what it hears and logs its SIP messages
    (to read the keys it saw). ``mediaenc``: ``srtp-mand``, ``srtp`` or None (plain RTP)."""
    password, tone = USERS[user]
    folder = tmp_path / user
    folder.mkdir(parents=True)
    port = {"udp": ports.udp, "tls": ports.tls}[transport]
    account = (
        f"<sip:{user}@127.0.0.1:{port};transport={transport}>;auth_pass={password};"
        "regint=600;answermode=auto"
    )
    return Baresip(
        folder,
        account,
        sip_port=free_port(pair=True),
        ctrl_port=free_port(),
        cafile=ca,
        audio_source=write_tone_wav(folder / "tone.wav", tone, 30),
        record=True,
        rtp_ports=rtp_port_range(),
        audio_codecs="pcmu",
        mediaenc=mediaenc,
        trace=True,
    )


def tls_config(tmp_path: Path, extra_pjsip: str, extensions: str = "") -> tuple[Ports, Path, Path]:
    """The reference deployment with a TLS transport (certificates from ``switchboard
    tls-cert``), ``extra_pjsip`` and ``extensions`` added: its ports, folder and CA."""
    ports = Ports()
    ca, cert, key = make_certificates(tmp_path / "certs")
    config = reference_config(tmp_path / "config", ports, tls=(cert, key), extra_pjsip=extra_pjsip)
    with (config / "extensions.conf").open("a") as dialplan:
        dialplan.write(extensions)
    return ports, config, ca


def talk(bob: Baresip, alice: Baresip, port: int) -> tuple[Path, Path]:
    """bob calls 101 (alice answers) and they talk for 3 s; what alice and bob heard."""
    alice.wait_registered()
    bob.wait_registered()
    bob.dial(f"sip:101@127.0.0.1:{port}")
    bob.wait_event("CALL_ESTABLISHED", 20)
    alice.wait_event("CALL_ESTABLISHED", 20)
    bob.wait_recorded(3)
    alice.wait_recorded(3)
    bob.hangup()
    assert alice.close_reason() == "Connection reset by peer"
    return alice.recorded_wav(), bob.recorded_wav()


def streams(wire: Path) -> list[np.ndarray]:
    """The captured RTP decoded as G.711 µ-law, one stream per SSRC (each direction of
    each leg), in arrival order."""
    packets = read_pcap_rtp(wire)
    ssrcs = {packet.ssrc for packet in packets}
    return [rtp_samples([p for p in packets if p.ssrc == ssrc], "ulaw") for ssrc in ssrcs]


def tones_on_wire(wire: Path) -> tuple[float, float, float]:
    """Seconds of audio captured, and the most seconds of bob's and alice's tone any one
    stream holds."""
    found = streams(wire)
    return (
        sum(len(samples) for samples in found) / 8000,
        max((tone_seconds(samples, BOB_TONE) for samples in found), default=0.0),
        max((tone_seconds(samples, ALICE_TONE) for samples in found), default=0.0),
    )


def relayed_packets(tmp_path: Path) -> tuple[int, int]:
    with sqlite3.connect(tmp_path / "state" / "switchboard.db") as db:
        row = db.execute("select caller_packets_received, callee_packets_received from cdr")
        caller, callee = row.fetchone()
    return caller, callee


def test_srtp_call_over_tls_carries_the_tone_and_the_wire_only_ciphertext(tmp_path: Path) -> None:
    ports, config, ca = tls_config(tmp_path, sdes("alice", "bob"))
    with ServerProcess(config, tmp_path / "state") as server:
        alice = phone(tmp_path, "alice", ports, ca, transport="tls", mediaenc="srtp-mand")
        bob = phone(tmp_path, "bob", ports, ca, transport="tls", mediaenc="srtp-mand")
        wire = tmp_path / "wire.pcap"
        expression = ports_expression(alice.rtp_ports, bob.rtp_ports)
        with alice, bob, Capture(wire, expression):
            alice_heard, bob_heard = talk(bob, alice, ports.tls)
        server.wait_for('"type": "CallEnded"')
        log = server.log
        phones_log = alice.log + bob.log
    assert tone_seconds(alice_heard, BOB_TONE) >= 2
    assert tone_seconds(bob_heard, ALICE_TONE) >= 2
    # Both phones ran SRTP, and the relay carried it (no direct media with SRTP legs).
    assert alice.log.count("SRTP is Enabled") >= 1 and bob.log.count("SRTP is Enabled") >= 1
    assert "direct media" not in log
    assert min(relayed_packets(tmp_path)) >= 100
    # On the wire: plenty of RTP, none of it the tones when decoded as G.711.
    assert len(read_pcap_rtp(wire)) >= 300
    seconds, bob_tone, alice_tone = tones_on_wire(wire)
    assert seconds >= 8 and bob_tone == 0 and alice_tone == 0, (seconds, bob_tone, alice_tone)
    # The keys in every SDP the phones sent and received never reach the server's log.
    keys = set(KEY.findall(phones_log))
    assert len(keys) >= 4, keys  # bob's offer, our answer, our offer to alice, hers
    assert not [k for k in keys if k in log]


def test_an_srtp_phone_talks_to_a_plain_phone_through_the_relay(tmp_path: Path) -> None:
    ports, config, ca = tls_config(tmp_path, sdes("bob"))
    with ServerProcess(config, tmp_path / "state") as server:
        alice = phone(tmp_path, "alice", ports, ca, transport="udp", mediaenc=None)
        bob = phone(tmp_path, "bob", ports, ca, transport="tls", mediaenc="srtp-mand")
        bob_wire, alice_wire = tmp_path / "bob.pcap", tmp_path / "alice.pcap"
        with (
            alice,
            bob,
            Capture(bob_wire, ports_expression(bob.rtp_ports)),
            Capture(alice_wire, ports_expression(alice.rtp_ports)),
        ):
            alice_heard, bob_heard = talk(bob, alice, ports.tls)
        server.wait_for('"type": "CallEnded"')
    assert tone_seconds(alice_heard, BOB_TONE) >= 2
    assert tone_seconds(bob_heard, ALICE_TONE) >= 2
    assert "SRTP is Enabled" in bob.log and "SRTP is Enabled" not in alice.log
    # bob's leg is ciphertext; alice's is plain RTP where bob's tone is plainly there
    # (which also shows that the capture would have found it on bob's leg).
    seconds, bob_tone, alice_tone = tones_on_wire(bob_wire)
    assert seconds >= 4 and bob_tone == 0 and alice_tone == 0, (seconds, bob_tone, alice_tone)
    _, bob_tone, alice_tone = tones_on_wire(alice_wire)
    assert bob_tone >= 2 and alice_tone >= 2


SIPP_KEY = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"
SRTP_OFFER = (
    calls.sdp(0, 101)
    .replace("RTP/AVP", "RTP/SAVP")
    .replace("a=sendrecv", f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{SIPP_KEY}\na=sendrecv")
)


def test_sdes_over_udp_is_refused_with_488(tmp_path: Path) -> None:
    ports = Ports()
    config = reference_config(tmp_path / "config", ports, extra_pjsip=sdes("alice", "bob"))
    with ServerProcess(config, tmp_path / "state") as server:
        result = bob_calls(tmp_path, ports, calls.caller(body=SRTP_OFFER, final=488))
        assert result.returncode == 0, result.stderr
        assert result.last_response().startswith("SIP/2.0 488 ")
        call_id = re.search(r"^Call-ID: *(\S+)", result.messages, re.MULTILINE)
        assert call_id is not None
        server.wait_for(
            rf"INVITE from endpoint 'bob' \(Call-ID {re.escape(call_id.group(1))}\) refused "
            r"with 488: its offer carries SRTP keys \(a=crypto\) over unencrypted UDP"
        )
        log = server.log
    assert '"type": "CallStarted"' not in log
    assert SIPP_KEY not in log


@pytest.mark.parametrize(
    ("extra", "body", "why"),
    [
        ("", SRTP_OFFER.replace("RTP/SAVP", "RTP/AVP"), "its offer carries SRTP keys"),
        (sdes("bob"), calls.sdp(0, 101), "media_encryption=sdes over unencrypted UDP"),
    ],
    ids=["keys offered to a plain endpoint", "sdes endpoint offering no keys"],
)
def test_keys_in_clear_are_refused_whoever_sends_them(
    tmp_path: Path, extra: str, body: str, why: str
) -> None:
    ports = Ports()
    config = reference_config(tmp_path / "config", ports, extra_pjsip=extra)
    with ServerProcess(config, tmp_path / "state") as server:
        result = bob_calls(tmp_path, ports, calls.caller(body=body, final=488))
        assert result.returncode == 0, result.stderr
        server.wait_for(rf"INVITE from endpoint 'bob' \(Call-ID \S+\) refused with 488: {why}")


def test_sdes_over_udp_when_the_admin_allows_it(tmp_path: Path) -> None:
    """``[security] sdes_over_plain_transport = yes``: the call goes through (VoiceMail
    answers: alice has no phone), answered RTP/SAVP with our key; neither key is logged."""
    ports = Ports()
    config = reference_config(tmp_path / "config", ports, extra_pjsip=sdes("alice", "bob"))
    (config / "switchboard.conf").write_text("[security]\nsdes_over_plain_transport = yes\n")
    with ServerProcess(config, tmp_path / "state") as server:
        result = bob_calls(tmp_path, ports, calls.caller(body=SRTP_OFFER, talk_ms=1500))
        assert result.returncode == 0, result.stderr
        server.wait_for('"type": "CallEnded"')
        log = server.log
    ok = next(r for r in result.responses() if r.startswith("SIP/2.0 200"))
    assert re.search(r"^m=audio \d+ RTP/SAVP 0 101", ok, re.MULTILINE)
    (line,) = re.findall(r"^a=crypto:.*$", ok, re.MULTILINE)
    assert line.startswith("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:")
    (ours,) = KEY.findall(line)
    assert ours != SIPP_KEY
    assert ours not in log and SIPP_KEY not in log


def test_optimistic_encrypts_the_leg_that_can_and_keeps_keys_off_udp(tmp_path: Path) -> None:
    """Both endpoints optimistic: bob (TLS, optional SRTP) gets SRTP; alice's leg is over
    UDP, so she is offered plain RTP, without keys, and the call still works."""
    ports, config, ca = tls_config(tmp_path, sdes("alice", "bob", optimistic=True))
    with ServerProcess(config, tmp_path / "state") as server:
        alice = phone(tmp_path, "alice", ports, ca, transport="udp", mediaenc=None)
        bob = phone(tmp_path, "bob", ports, ca, transport="tls", mediaenc="srtp")
        with alice, bob:
            alice_heard, bob_heard = talk(bob, alice, ports.tls)
        server.wait_for('"type": "CallEnded"')
    assert tone_seconds(alice_heard, BOB_TONE) >= 2
    assert tone_seconds(bob_heard, ALICE_TONE) >= 2
    assert "SRTP is Enabled" in bob.log and "SRTP is Enabled" not in alice.log
    assert "INVITE sip:alice" in alice.log and "a=crypto" not in alice.log


def test_an_sdes_phone_registered_over_udp_is_not_dialled(tmp_path: Path) -> None:
    ports = Ports()
    config = reference_config(tmp_path / "config", ports, extra_pjsip=sdes("alice"))
    with ServerProcess(config, tmp_path / "state") as server:
        calls.Phone(tmp_path / "alice", ports.udp, "alice", "alice101", free_port()).register()
        result = bob_calls(tmp_path, ports, calls.caller(talk_ms=300))
        assert result.returncode == 0, result.stderr  # VoiceMail(101) answered at once
        server.wait_for(
            r"not dialling endpoint 'alice' at sip:alice@127\.0\.0\.1:\d+\S*: "
            r"media_encryption=sdes over unencrypted UDP"
        )


BOB_SDES = sdes("bob") + "[alice](+type=endpoint)\nmailboxes=101@default\n"
"""bob with SDES; alice's box lit by her phone's lamp (the reference warns otherwise)."""


def test_echo_on_an_srtp_leg_returns_the_callers_audio(tmp_path: Path) -> None:
    ports, config, ca = tls_config(
        tmp_path, BOB_SDES, "\n[from-internal]\nexten=>600,1,Answer()\n same=>n,Echo()\n"
    )
    with ServerProcess(config, tmp_path / "state"):
        bob = phone(tmp_path, "bob", ports, ca, transport="tls", mediaenc="srtp-mand")
        with bob:
            bob.wait_registered()
            bob.dial(f"sip:600@127.0.0.1:{ports.tls}")
            bob.wait_event("CALL_ESTABLISHED", 20)
            bob.wait_recorded(3)
            bob.hangup()
            heard = bob.recorded_wav()
    assert "SRTP is Enabled" in bob.log
    assert tone_seconds(heard, BOB_TONE) >= 2


def newest(folder: Path, pattern: str, timeout: float = 10) -> Path:
    deadline = time.monotonic() + timeout
    while not (found := sorted(folder.glob(pattern))):
        assert time.monotonic() < deadline, f"no {pattern} in {folder}"
        time.sleep(0.05)
    return found[-1]


def prompts_then_silence(phone: Baresip, timeout: float = 40) -> None:
    """Wait until the phone has received 2 s or more and then nothing for a second: the
    greeting and beep are over, the PBX is recording (it sends nothing meanwhile)."""
    received = newest(phone.recordings, "dump-*-dec.wav")
    deadline = time.monotonic() + timeout
    size, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        now_size = received.stat().st_size
        if now_size != size:
            size, since = now_size, time.monotonic()
        elif size >= 44 + 2 * 16000 and time.monotonic() - since >= 1.0:
            return
        time.sleep(0.05)
    raise AssertionError(f"the prompts did not end: {size} octets received")


def sent_for(phone: Baresip, seconds: float, timeout: float = 20) -> None:
    """Wait until the phone has sent ``seconds`` more of its tone (its -enc.wav grows)."""
    sent = newest(phone.recordings, "dump-*-enc.wav")
    target = sent.stat().st_size + seconds * 16000
    deadline = time.monotonic() + timeout
    while sent.stat().st_size < target:
        assert time.monotonic() < deadline, "the phone stopped sending"
        time.sleep(0.05)


def test_voicemail_greets_and_records_an_srtp_caller(tmp_path: Path) -> None:
    """alice has no phone: VoiceMail(101) plays its greeting and beep to bob over SRTP and
    records what bob says, decrypted, into the mailbox."""
    ports, config, ca = tls_config(tmp_path, BOB_SDES)
    beep = beep_frequency(config)
    with ServerProcess(config, tmp_path / "state") as server:
        bob = phone(tmp_path, "bob", ports, ca, transport="tls", mediaenc="srtp-mand")
        with bob:
            bob.wait_registered()
            bob.dial(f"sip:101@127.0.0.1:{ports.tls}")
            bob.wait_event("CALL_ESTABLISHED", 20)
            prompts_then_silence(bob)
            sent_for(bob, 3)
            bob.hangup()
            heard = bob.recorded_wav()
        server.wait_for('"type": "VoicemailDeposited"', 30)
    assert "SRTP is Enabled" in bob.log
    assert tone_seconds(heard, beep) >= 0.2, f"no beep ({beep:.0f} Hz) heard"
    message = inbox(tmp_path) / "msg0000.wav"
    assert tone_seconds(message, BOB_TONE) >= 2


def test_hold_and_resume_keep_srtp_working(tmp_path: Path) -> None:
    """bob holds and resumes: both re-INVITEs carry keys again (to alice too), and SRTP
    keeps flowing both ways after the resume. (baresip 1.0 stops writing what it hears to
    its recording once a call was held, so the check is on packets: what alice's phone
    received and decrypted, as its RTCP counters say, and the relay's count, which only
    takes packets that pass its SRTP check.)"""
    ports, config, ca = tls_config(tmp_path, sdes("alice", "bob"))
    with ServerProcess(config, tmp_path / "state") as server:
        alice = phone(tmp_path, "alice", ports, ca, transport="tls", mediaenc="srtp-mand")
        bob = phone(tmp_path, "bob", ports, ca, transport="tls", mediaenc="srtp-mand")
        with alice, bob:
            alice.wait_registered()
            bob.wait_registered()
            bob.dial(f"sip:101@127.0.0.1:{ports.tls}")
            bob.wait_event("CALL_ESTABLISHED", 20)
            alice.wait_recorded(1)
            bob.request("hold")
            server.wait_for(r'"held": true[^\n]*"type": "CallHeld"')
            bob.request("resume")
            server.wait_for(r'"held": false[^\n]*"type": "CallHeld"')
            resumed = received_rtp(alice)
            sent_for(bob, 3)
            talked = received_rtp(alice)
            bob.hangup()
        server.wait_for('"type": "CallEnded"')
    assert alice.log.count("a=crypto:") >= 6  # the INVITE and two re-INVITEs, and answers
    assert talked - resumed >= 100, (resumed, talked)  # 3 s of 20 ms packets after it
    caller, callee = relayed_packets(tmp_path)
    assert caller >= 180 and callee >= 180  # 1 s before the hold, 3 s after the resume


def received_rtp(phone: Baresip) -> int:
    """RTP packets the phone's RTCP session counted as received (after SRTP checks)."""
    data = str(phone.request("audio_debug").get("data", ""))
    found = re.search(r"rcvd=(\d+)", data)
    assert found is not None, data
    return int(found.group(1))
