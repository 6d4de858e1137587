"""Playback against the real server: SIPp calls 300, whose dialplan plays a 1 kHz tone WAV
from ``<config-dir>/sounds`` and hangs up; the caller's RTP port is a plain UDP socket of the
test (SIPp cannot record), and what it receives must carry the tone."""

from __future__ import annotations

import itertools
import socket
import struct
from pathlib import Path

import pytest

from switchboard.media import g711
from switchboard.media.rtp import RtpPacket, seq_delta
from switchboard.media.tones import sine, tone_fraction
from tests.e2e.server import Ports, ServerProcess, free_port, reference_config
from tests.e2e.sipp import run_sipp

pytestmark = pytest.mark.e2e

TONE_SECONDS = 2.0

_HEADERS = """Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:bob@[remote_ip]>;tag=[pid]p[call_number]
To: <sip:300@[remote_ip]:[remote_port]>
Call-ID: [call_id]
Contact: <sip:bob@[local_ip]:[local_port]>
Max-Forwards: 70
User-Agent: SIPp"""

_SDP = """v=0
o=bob 1 1 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio {port} RTP/AVP 0
a=rtpmap:0 PCMU/8000
a=sendrecv
"""


def call_scenario(media_port: int) -> str:
    """INVITE 300, the 401 and its ACK, the authenticated INVITE, 200 and ACK, then the
    server's BYE (after Playback and Hangup) answered 200."""
    sdp = _SDP.format(port=media_port)

    def invite(cseq: int, auth: bool) -> str:
        authentication = "[authentication]\n" if auth else ""
        return (
            f"INVITE sip:300@[remote_ip]:[remote_port] SIP/2.0\n{_HEADERS}\n"
            f"CSeq: {cseq} INVITE\n{authentication}Content-Type: application/sdp\n"
            f"Content-Length: [len]\n\n{sdp}"
        )

    ack_401 = (
        "ACK sip:300@[remote_ip]:[remote_port] SIP/2.0\n[last_Via:]\n[last_From:]\n"
        "[last_To:]\nCall-ID: [call_id]\nCSeq: 1 ACK\nMax-Forwards: 70\nContent-Length: 0\n\n"
    )
    ack_200 = (
        "ACK [next_url] SIP/2.0\n"
        "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n"
        "[last_From:]\n[last_To:]\nCall-ID: [call_id]\nCSeq: 2 ACK\nMax-Forwards: 70\n"
        "Content-Length: 0\n\n"
    )
    ok_bye = (
        "SIP/2.0 200 OK\n[last_Via:]\n[last_From:]\n[last_To:]\n[last_Call-ID:]\n"
        "[last_CSeq:]\nContent-Length: 0\n\n"
    )
    return f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="playback">
<send retrans="500"><![CDATA[
{invite(1, False)}]]></send>
<recv response="100" optional="true"/>
<recv response="401" auth="true"/>
<send><![CDATA[
{ack_401}]]></send>
<send retrans="500"><![CDATA[
{invite(2, True)}]]></send>
<recv response="100" optional="true"/>
<recv response="180" optional="true"/>
<recv response="183" optional="true"/>
<recv response="200" rrs="true"/>
<send><![CDATA[
{ack_200}]]></send>
<recv request="BYE" timeout="15000"/>
<send><![CDATA[
{ok_bye}]]></send>
</scenario>
"""


def tone_wav(path: Path, seconds: float) -> None:
    """An 8 kHz mono 16-bit WAV of a 1 kHz tone."""
    data = sine(1000, seconds).astype("<i2").tobytes()
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 16000, 2, 16)
    body = b"WAVEfmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", len(data))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body) + len(data)) + body + data)


def received(sock: socket.socket) -> list[RtpPacket]:
    """Every datagram waiting on ``sock``, parsed (the socket buffer holds the whole call)."""
    packets: list[RtpPacket] = []
    sock.setblocking(False)
    while True:
        try:
            data = sock.recv(4096)
        except BlockingIOError:
            return packets
        packets.append(RtpPacket.parse(data))


def test_playback_of_a_wav_reaches_the_caller_then_the_call_is_hung_up(tmp_path: Path):
    ports = Ports()
    config = reference_config(tmp_path / "config", ports)
    with (config / "extensions.conf").open("a") as extensions:
        extensions.write("\nexten => 300,1,Playback(tone)\n same => n,Hangup()\n")
    tone_wav(config / "sounds" / "tone.wav", TONE_SECONDS)
    media = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    media.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    media.bind(("127.0.0.1", 0))
    try:
        with ServerProcess(config, tmp_path / "state") as server:
            result = run_sipp(
                call_scenario(media.getsockname()[1]),
                tmp_path / "sipp",
                ports.udp,
                user="bob",
                password="bob102",
                local_port=free_port(),
                timeout=30,
            )
            assert result.returncode == 0, result.messages + result.stderr + server.log
            server.wait_for(r"Playing 'tone'")
        packets = received(media)
    finally:
        media.close()
    assert "BYE sip:" in result.messages
    assert len(packets) >= 50, f"{len(packets)} RTP packets"
    assert {p.payload_type for p in packets} == {0}
    assert len({p.ssrc for p in packets}) == 1
    assert all(
        seq_delta(b.sequence_number, a.sequence_number) == 1 for a, b in itertools.pairwise(packets)
    )
    pcm = g711.decode_payload(b"".join(p.payload for p in packets), "ulaw")
    tone_seconds = tone_fraction(pcm, 1000) * len(pcm) / 8000
    assert tone_seconds >= 1.0, f"1 kHz heard for {tone_seconds:.2f} s"
