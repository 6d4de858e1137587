"""The dialplan applications of calls, each driven by a SIPp caller: Echo returns the
caller's audio, Busy and Congestion refuse, Ringing and Progress indicate, variables and
the ``h`` extension see the call."""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

import numpy as np
import pytest

from tests.e2e import calls
from tests.e2e.audio import decode_g711, encode_g711, tone, tone_seconds
from tests.e2e.server import Ports, ServerProcess, free_port, reference_config
from tests.e2e.sipp import run_sipp

pytestmark = pytest.mark.e2e

APPS = """
[apps]
exten => 600,1,Answer()
 same => n,Echo()
exten => 601,1,Busy()
exten => 602,1,Congestion()
exten => 603,1,Ringing()
 same => n,Wait(0.3)
 same => n,Progress()
 same => n,Wait(0.3)
 same => n,Hangup(21)
exten => 604,1,Set(TRIES=0)
 same => n(again),Dial(PJSIP/alice,1)
 same => n,Verbose(1,dial ${DIALSTATUS} from ${CALLERID(num)} on ${CHANNEL} to ${EXTEN})
 same => n,Set(TRIES=$[${TRIES} + 1])
 same => n,GotoIf($[${TRIES} < 2]?again)
 same => n,Hangup(17)
exten => 605,1,Dial(PJSIP/alice,5,rg)
 same => n,Verbose(1,back from the bridge with ${DIALSTATUS})
 same => n,Hangup()
exten => 606,1,Dial(PJSIP/alice,5)
 same => n,Verbose(1,never reached: the caller hung up in the bridge)
exten => h,1,Verbose(1,h runs with cause ${HANGUPCAUSE} after ${TRIES} tries, dial ${DIALSTATUS})
"""


@pytest.fixture
def server(tmp_path: Path):
    ports = Ports()
    extra = "[bob](+type=endpoint)\ncontext=apps\ndirect_media=no\n"
    config = reference_config(tmp_path / "config", ports, extra_pjsip=extra)
    with (config / "extensions.conf").open("a") as extensions:
        extensions.write(APPS)
    with ServerProcess(config, tmp_path / "state") as process:
        yield ports, process


def bob_calls(tmp_path: Path, ports: Ports, exten: str, scenario: str):
    return run_sipp(
        scenario,
        tmp_path / f"bob-{exten}",
        ports.udp,
        user="bob",
        password="bob102",
        local_port=free_port(),
        extra=("-s", exten, "-mp", str(free_port(pair=True)), "-recv_timeout", "15000"),
    )


def test_busy_congestion_and_indications(tmp_path: Path, server) -> None:
    ports, _ = server
    busy = bob_calls(tmp_path, ports, "601", calls.caller(final=486))
    assert busy.returncode == 0, busy.messages
    congested = bob_calls(tmp_path, ports, "602", calls.caller(final=503))
    assert congested.returncode == 0, congested.messages
    indicated = bob_calls(tmp_path, ports, "603", calls.caller(final=403))
    assert indicated.returncode == 0, indicated.messages
    statuses = [r.split("\n", 1)[0] for r in indicated.responses()]
    assert statuses[-3:] == [
        "SIP/2.0 180 Ringing",
        "SIP/2.0 183 Session Progress",
        "SIP/2.0 403 Forbidden",
    ]
    progress = indicated.responses()[-2]
    assert "m=audio " in progress  # early media: the 183 carries our SDP


def test_variables_loops_and_the_h_extension(tmp_path: Path, server) -> None:
    ports, process = server
    result = bob_calls(tmp_path, ports, "604", calls.caller(final=486))
    assert result.returncode == 0, result.messages
    lines = process.wait_for(r"h runs with cause 17 after 2 tries")
    assert lines
    dialled = re.findall(r"dial (\S+) from (\S+) on (PJSIP/bob-\S+) to (\d+)", process.log)
    assert len(dialled) == 2
    assert dialled[0][:2] == ("CHANUNAVAIL", "bob") and dialled[0][3] == "604"


def test_the_caller_hanging_up_in_the_bridge_ends_the_dial_as_answered(
    tmp_path: Path, server
) -> None:
    """Bob's BYE ends the bridge: alice gets a BYE, the next priority never runs, and ``h``
    sees ``DIALSTATUS=ANSWER`` (Asterisk's Dial sets it before the hangup handler)."""
    ports, process = server
    alice = calls.Phone(tmp_path / "alice", ports.udp, "alice", "alice101", free_port())
    alice.register()
    alice.start(calls.callee(answer_after_ms=200))
    result = bob_calls(tmp_path, ports, "606", calls.caller(talk_ms=500))
    assert result.returncode == 0, result.messages
    assert alice.wait()[0] == 0  # her scenario ends with the BYE the PBX sends her
    assert process.wait_for(r"h runs with cause 16 after  tries, dial ANSWER")
    assert "never reached" not in process.log


def test_echo_returns_the_callers_audio(tmp_path: Path, server) -> None:
    ports, _ = server
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as media:
        media.bind(("127.0.0.1", free_port(pair=True)))
        media.settimeout(0.002)
        body = calls.sdp(0, 101).replace("[media_port]", str(media.getsockname()[1]))
        bob = calls.Phone(tmp_path / "bob", ports.udp, "bob", "bob102", free_port())
        bob.start(calls.caller(body=body, talk_ms=5000), extra=("-s", "600"), name="caller")
        answer = None
        deadline = time.monotonic() + 10
        while answer is None and time.monotonic() < deadline:
            answer = next(
                (m for m in bob.messages() if m.first_line.startswith("SIP/2.0 200")), None
            )
            time.sleep(0.05)
        assert answer is not None, "the call was not answered"
        port = int(re.search(r"m=audio (\d+)", answer.text).group(1))  # type: ignore[union-attr]
        payload = encode_g711(tone(1000, 2), "ulaw")
        echoed = bytearray()
        for index in range(100):
            header = bytes([0x80, 0]) + index.to_bytes(2, "big")
            header += (index * 160).to_bytes(4, "big") + (0x1234).to_bytes(4, "big")
            media.sendto(header + payload[index * 160 : (index + 1) * 160], ("127.0.0.1", port))
            time.sleep(0.02)
            try:
                while True:
                    echoed += media.recv(2048)[12:]
            except TimeoutError:
                pass
        status, _ = bob.wait()
    assert status == 0
    heard = decode_g711(bytes(echoed), "ulaw")
    assert tone_seconds(np.asarray(heard), 1000, 8000) >= 1.5


def test_option_g_continues_after_the_callee_hangs_up(tmp_path: Path, server) -> None:
    ports, process = server
    alice = calls.Phone(tmp_path / "alice", ports.udp, "alice", "alice101", free_port())
    alice.register()
    alice.start(calls.callee(answer_after_ms=200, hangs_up_after_ms=500))
    bye = '<recv request="BYE"/>\n' + calls.response("200 OK", tag=False)
    result = bob_calls(tmp_path, ports, "605", calls.caller(during_call=bye, ends_call=True))
    assert result.returncode == 0, result.messages
    assert alice.wait()[0] == 0
    assert process.wait_for("back from the bridge with ANSWER")
    statuses = [r.split("\n", 1)[0] for r in result.responses()]
    assert "SIP/2.0 180 Ringing" in statuses  # option r: ringing at once
