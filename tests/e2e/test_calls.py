"""Calls through the reference dialplan with SIPp as both phones: who rings, for how long,
what each side gets, and what the dialplan does next."""

from __future__ import annotations

import json
import re
import socket
import sqlite3
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.e2e import calls
from tests.e2e.conftest import run
from tests.e2e.server import (
    Ports,
    ServerProcess,
    free_port,
    left_in_cycles,
    reference_config,
    watch_cycles,
)
from tests.e2e.sipp import run_sipp

pytestmark = pytest.mark.e2e

DTMF_PCAP = "/usr/share/sip-tester/dtmf_2833_1.pcap"


def events(log: str, kind: str) -> list[dict[str, object]]:
    """The domain events of one kind the server logged."""
    found = []
    for line in log.splitlines():
        start = line.find('{"')
        if "switchboard.events" in line and start >= 0:
            event = json.loads(line[start:])
            if event["type"] == kind:
                found.append(event)
    return found


def live_channels(tmp_path: Path) -> str:
    """``core show channels`` from the console, as an admin sees it."""
    result = run("cli", "--state-dir", str(tmp_path / "state"), "-x", "core show channels")
    assert result.returncode == 0, result.stderr
    return result.stdout


def answered_cdr(tmp_path: Path) -> bool:
    """Whether ``cdr show`` lists bob's answered call to 101 (records are written in
    batches a few times a second)."""
    for _ in range(20):
        cdr = run("cli", "--state-dir", str(tmp_path / "state"), "-x", "cdr show").stdout
        if any(line.split()[2:5] == ["bob", "101", "ANSWERED"] for line in cdr.splitlines()):
            return True
        time.sleep(0.1)
    return False


def bob_calls(tmp_path: Path, ports: Ports, scenario: str, exten: str = "101", **kw: object):
    return run_sipp(
        scenario,
        tmp_path / "bob",
        ports.udp,
        user="bob",
        password="bob102",
        extra=("-s", exten, "-mp", str(free_port(pair=True)), "-recv_timeout", "15000"),
        timeout=int(kw.get("timeout", 30)),  # type: ignore[call-overload]
    )


ANCHORED = "".join(f"[{name}](+type=endpoint)\ndirect_media=no\n" for name in ("alice", "bob"))
ANCHORED += "[alice](+type=aor)\nmax_contacts=2\n"
"""Scripted SIPp phones cannot take the direct-media re-INVITE: keep media anchored.
alice may have two phones (a softphone and a desk phone)."""


@pytest.fixture
def setup(tmp_path: Path):
    ports = Ports()
    config = reference_config(tmp_path / "config", ports, extra_pjsip=ANCHORED)
    cycles = tmp_path / "cycles.txt"
    with ServerProcess(config, tmp_path / "state", env=watch_cycles(cycles)) as server:
        alice = calls.Phone(tmp_path / "alice", ports.udp, "alice", "alice101", free_port())
        try:
            yield ports, server, alice
        finally:
            alice.stop()
    assert left_in_cycles(cycles) == []  # every call was freed by reference counting


def test_an_unauthenticated_invite_never_reaches_the_dialplan(tmp_path: Path, setup) -> None:
    ports, server, _ = setup
    result = bob_calls(tmp_path, ports, calls.caller(authenticate=False))
    assert result.returncode == 0, result.stderr
    assert result.last_response().startswith("SIP/2.0 401")
    assert 'WWW-Authenticate: Digest realm="asterisk"' in result.last_response()
    assert not events(server.log, "CallStarted")


def test_an_unknown_extension_gets_404(tmp_path: Path, setup) -> None:
    ports, server, _ = setup
    result = bob_calls(tmp_path, ports, calls.caller(final=404), exten="555")
    assert result.returncode == 0, result.stderr
    assert not events(server.log, "CallStarted")


def test_malformed_sdp_is_refused_with_a_reason(tmp_path: Path, setup) -> None:
    ports, server, _ = setup
    result = bob_calls(tmp_path, ports, calls.caller(body="v=0\nthis is not sdp\n", final=400))
    assert result.returncode == 0, result.stderr
    assert re.search(r"SIP/2.0 400 Bad SDP: .+", result.last_response())
    no_common = calls.sdp(18)  # G.729 only: nothing in common with allow=ulaw
    result = bob_calls(tmp_path, ports, calls.caller(body=no_common, final=488))
    assert result.returncode == 0, result.stderr
    assert not events(server.log, "CallAnswered")
    server.wait_for("CallEnded")


def voicemail_answered(tmp_path: Path) -> dict[str, object]:
    """The CDR of the call once priority 2, VoiceMail(101), answered it (records are
    written in batches a few times a second)."""
    for _ in range(30):
        with sqlite3.connect(tmp_path / "state" / "switchboard.db") as db:
            db.row_factory = sqlite3.Row
            row = db.execute("select * from cdr order by id desc limit 1").fetchone()
        if row is not None:
            return dict(row)
        time.sleep(0.1)
    raise AssertionError("no CDR written")


def test_alice_not_registered_falls_through_at_once(tmp_path: Path, setup) -> None:
    ports, _, _ = setup
    result = bob_calls(tmp_path, ports, calls.caller(talk_ms=300))
    assert result.returncode == 0, result.stderr
    sent = [m for m in calls.messages(result.messages) if m.first_line.startswith("INVITE")]
    ok = next(m for m in calls.messages(result.messages) if m.first_line.startswith("SIP/2.0 200"))
    assert (ok.at - sent[-1].at).total_seconds() < 1.5  # CHANUNAVAIL at once, then voicemail
    record = voicemail_answered(tmp_path)
    assert record["lastapp"] == "VoiceMail" and record["lastdata"] == "101"
    assert record["dstchannel"] == ""  # nothing rang
    assert record["disposition"] == "FAILED"  # DIALSTATUS=CHANUNAVAIL, as Asterisk records it


def test_alice_answers_and_the_call_ends_with_bobs_bye(tmp_path: Path, setup) -> None:
    ports, server, alice = setup
    alice.register()
    alice.start(calls.callee(answer_after_ms=500))
    result = bob_calls(tmp_path, ports, calls.caller(talk_ms=1500))
    assert result.returncode == 0, result.stderr + result.messages
    status, seen = alice.wait()
    assert status == 0
    invite = next(m for m in seen if m.first_line.startswith("INVITE"))
    assert invite.header("From") is not None and '"Bob" <sip:bob@' in invite.header("From")  # type: ignore[operator]
    assert any(m.first_line.startswith("BYE") for m in seen)
    ended = server.wait_for(r'"type": "CallEnded"')
    assert ended
    record = events(server.log, "CallEnded")[0]
    assert record["disposition"] == "ANSWERED" and record["billsec"] >= 1
    assert "0 active channels" in live_channels(tmp_path)
    assert answered_cdr(tmp_path), "no CDR for bob's call"


def test_no_answer_for_ten_seconds_cancels_alice_and_moves_to_priority_2(
    tmp_path: Path, setup
) -> None:
    ports, _, alice = setup
    alice.register()
    alice.start(calls.callee(answer_after_ms=None), timeout=40)
    result = bob_calls(tmp_path, ports, calls.caller(talk_ms=300), timeout=40)
    assert result.returncode == 0, result.stderr + result.messages
    status, seen = alice.wait()
    assert status == 0
    invite = next(m for m in seen if m.first_line.startswith("INVITE"))
    cancel = next(m for m in seen if m.first_line.startswith("CANCEL"))
    rang = (cancel.at - invite.at).total_seconds()
    assert 9.5 <= rang <= 10.5, rang
    assert cancel.header("Reason") == 'Q.850;cause=19;text="No answer"' or (
        (cancel.header("Reason") or "").startswith("Q.850;cause=19")
    )
    responses = [r.split("\n", 1)[0] for r in result.responses()]
    assert any(r.startswith("SIP/2.0 180") for r in responses)
    record = voicemail_answered(tmp_path)
    assert record["lastapp"] == "VoiceMail" and record["disposition"] == "NO ANSWER"


def test_bob_hanging_up_while_it_rings_cancels_alice(tmp_path: Path, setup) -> None:
    ports, server, alice = setup
    alice.register()
    alice.start(calls.callee(answer_after_ms=None), timeout=30)
    result = bob_calls(tmp_path, ports, calls.caller(cancel_after_ms=1000))
    assert result.returncode == 0, result.stderr + result.messages
    status, seen = alice.wait()
    assert status == 0
    assert any(m.first_line.startswith("CANCEL") for m in seen)
    record = events(server.log, "CallEnded")
    assert record and record[0]["disposition"] == "NO ANSWER"


def test_busy_alice_gives_busy_and_priority_2(tmp_path: Path, setup) -> None:
    ports, _, alice = setup
    alice.register()
    alice.start(calls.callee(answer_after_ms=200, status="486 Busy Here"))
    result = bob_calls(tmp_path, ports, calls.caller(talk_ms=300))
    assert result.returncode == 0, result.stderr + result.messages
    assert alice.wait()[0] == 0
    record = voicemail_answered(tmp_path)
    assert record["lastapp"] == "VoiceMail" and record["disposition"] == "BUSY"


def test_hold_and_resume_reach_alice(tmp_path: Path, setup) -> None:
    ports, server, alice = setup
    alice.register()
    alice.start(calls.callee(answer_after_ms=200, reinvites=2))
    hold = calls.reinvite(3, calls.sdp(0, 101, direction="sendonly"))
    resume = calls.reinvite(4, calls.sdp(0, 101))
    result = bob_calls(tmp_path, ports, calls.caller(during_call=hold + resume, talk_ms=500))
    assert result.returncode == 0, result.stderr + result.messages
    status, seen = alice.wait()
    assert status == 0
    reinvites = [m for m in seen if m.first_line.startswith("INVITE")][1:]
    assert len(reinvites) == 2
    assert "a=sendonly" in reinvites[0].text and "a=sendrecv" in reinvites[1].text
    oks = [r for r in result.responses() if r.startswith("SIP/2.0 200") and "CSeq: 3 " in r]
    assert oks and "a=recvonly" in oks[0]
    held = events(server.log, "CallHeld")
    assert [event["held"] for event in held] == [True, False]


CHARLIE = """[charlie](endpoint_internal)
auth=charlie
aors=charlie
direct_media=no
[charlie](auth_userpass)
password=charlie103
username=charlie
[charlie](aor_dynamic)
"""


@pytest.fixture
def three_phones(tmp_path: Path):
    ports = Ports()
    config = reference_config(tmp_path / "config", ports, extra_pjsip=ANCHORED + CHARLIE)
    with (config / "extensions.conf").open("a") as extensions:
        extensions.write("exten=>103,1,Dial(PJSIP/charlie,10)\n")
    cycles = tmp_path / "cycles.txt"
    with ServerProcess(config, tmp_path / "state", env=watch_cycles(cycles)) as server:
        alice = calls.Phone(tmp_path / "alice", ports.udp, "alice", "alice101", free_port())
        charlie = calls.Phone(tmp_path / "charlie", ports.udp, "charlie", "charlie103", free_port())
        try:
            yield ports, server, alice, charlie
        finally:
            alice.stop()
            charlie.stop()
    assert left_in_cycles(cycles) == []  # every call was freed by reference counting


def test_blind_transfer_by_bob_connects_alice_to_charlie(tmp_path: Path, three_phones) -> None:
    ports, server, alice, charlie = three_phones
    for phone in (alice, charlie):
        phone.register()
    alice.start(calls.callee(answer_after_ms=200))
    charlie.start(calls.callee(answer_after_ms=300, hangs_up_after_ms=1000))
    transfer = calls.refer(3, f"sip:103@127.0.0.1:{ports.udp}")
    result = bob_calls(tmp_path, ports, calls.caller(during_call=transfer, ends_call=True))
    assert result.returncode == 0, result.stderr + result.messages
    notifies = [m for m in calls.messages(result.messages) if m.first_line.startswith("NOTIFY")]
    assert [n.text.split("\n\n", 1)[-1].strip() for n in notifies] == [
        "SIP/2.0 100 Trying",
        "SIP/2.0 200 OK",
    ]
    status, seen = charlie.wait()
    assert status == 0, seen
    invite = next(m for m in seen if m.first_line.startswith("INVITE"))
    assert "<sip:alice@" in (invite.header("From") or "")
    status, seen = alice.wait()
    assert status == 0
    assert any(m.first_line.startswith("BYE") for m in seen)  # charlie hung up: alice too
    moved = events(server.log, "CallTransferred")
    assert moved and moved[0]["kind_of_transfer"] == "blind"
    server.wait_for(r'"channel": "PJSIP/alice-[0-9a-f]+".*"type": "CallEnded"')
    assert "0 active channels" in live_channels(tmp_path)


def test_attended_transfer_by_bob_connects_alice_to_charlie(tmp_path: Path, three_phones) -> None:
    ports, server, alice, charlie = three_phones
    for phone in (alice, charlie):
        phone.register()
    charlie.start(calls.callee(answer_after_ms=200, reinvites=1, hangs_up_after_ms=1500))
    # Bob's second phone line calls charlie first (it is put on hold in real life).
    consult = calls.Phone(tmp_path / "bob2", ports.udp, "bob", "bob102", free_port())
    bye = '<recv request="BYE"/>\n' + calls.response("200 OK", tag=False)
    consult.start(
        calls.caller(during_call=bye, ends_call=True, tag="consult"),
        extra=("-s", "103", "-cid_str", "consult-%u@%s", "-mp", str(free_port(pair=True))),
        name="consult",
    )
    answered = server.wait_for(r'"peer": "PJSIP/bob-[0-9a-f]+", "type": "CallAnswered"')
    assert answered
    ok = next(
        m
        for m in consult.messages()
        if m.first_line.startswith("SIP/2.0 200") and "INVITE" in (m.header("CSeq") or "")
    )
    to_tag = (ok.header("To") or "").rsplit("tag=", 1)[-1]
    call_id = ok.header("Call-ID") or ""
    alice.start(calls.callee(answer_after_ms=200))
    replaces = quote(f"{call_id};to-tag={to_tag};from-tag=consult", safe="")
    transfer = calls.refer(3, f"sip:103@127.0.0.1:{ports.udp}?Replaces={replaces}")
    result = bob_calls(tmp_path, ports, calls.caller(during_call=transfer, ends_call=True))
    assert result.returncode == 0, result.stderr + result.messages
    status, seen = consult.wait()
    assert status == 0, seen  # bob's consultation call was ended by the PBX
    status, seen = charlie.wait()
    assert status == 0, seen
    assert len([m for m in seen if m.first_line.startswith("INVITE")]) == 2  # moved media
    status, seen = alice.wait()
    assert status == 0, seen
    assert any(m.first_line.startswith("BYE") for m in seen)  # charlie hung up: alice too
    moved = events(server.log, "CallTransferred")
    assert moved and moved[0]["kind_of_transfer"] == "attended"
    server.wait_for(r'"channel": "PJSIP/alice-[0-9a-f]+".*"type": "CallEnded"')
    assert "0 active channels" in live_channels(tmp_path)


def test_dtmf_sent_by_bob_arrives_at_alice_and_is_reported(tmp_path: Path, setup) -> None:
    ports, server, alice = setup
    alice.register()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as media:
        media.bind(("127.0.0.1", free_port(pair=True)))
        media.settimeout(0.2)
        body = calls.sdp(0, 101).replace("[media_port]", str(media.getsockname()[1]))
        alice.start(calls.callee(answer_after_ms=100, body=body))
        play = f'<nop><action><exec play_pcap_audio="{DTMF_PCAP}"/></action></nop>\n'
        result = bob_calls(tmp_path, ports, calls.caller(during_call=play, talk_ms=2500))
        assert result.returncode == 0, result.stderr + result.messages
        events_seen: list[tuple[int, int]] = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                packet = media.recv(2048)
            except TimeoutError:
                if events_seen:
                    break
                continue
            if packet[1] & 0x7F == 101:
                events_seen.append((packet[12], packet[13] & 0x80))
    assert alice.wait()[0] == 0
    assert events_seen and {event for event, _ in events_seen} == {1}
    assert any(end for _, end in events_seen)  # the end packets came through too
    digits = events(server.log, "DtmfReceived")
    assert [d["digit"] for d in digits] == ["1"]
    assert str(digits[0]["channel"]).startswith("PJSIP/bob-")


def test_an_admin_hangs_a_call_up_from_the_console(tmp_path: Path, setup) -> None:
    ports, server, alice = setup
    alice.register()
    alice.start(calls.callee(answer_after_ms=100))
    bye = '<recv request="BYE"/>\n' + calls.response("200 OK", tag=False)
    bob = calls.Phone(tmp_path / "bob", ports.udp, "bob", "bob102", free_port())
    bob.start(calls.caller(during_call=bye, ends_call=True), extra=("-s", "101"), name="bob")
    server.wait_for(r'"peer": "PJSIP/bob-[0-9a-f]+", "type": "CallAnswered"')
    listed = live_channels(tmp_path)
    assert "2 active channels" in listed
    name = re.search(r"^(PJSIP/bob-[0-9a-f]+)\s", listed, re.MULTILINE).group(1)  # type: ignore[union-attr]
    result = run(
        "cli", "--state-dir", str(tmp_path / "state"), "-x", f"channel request hangup {name}"
    )
    assert result.stdout.strip() == f"Requested Hangup on channel '{name}'"
    assert bob.wait()[0] == 0  # bob got the BYE
    assert alice.wait()[0] == 0  # and so did alice
    assert "0 active channels" in live_channels(tmp_path)


def test_every_contact_of_the_aor_rings_and_the_others_are_cancelled(tmp_path: Path, setup) -> None:
    ports, _, alice = setup
    desk = calls.Phone(tmp_path / "desk", ports.udp, "alice", "alice101", free_port())
    for phone in (alice, desk):
        phone.register()
    alice.start(calls.callee(answer_after_ms=300))
    desk.start(calls.callee(answer_after_ms=None), name="desk")
    result = bob_calls(tmp_path, ports, calls.caller(talk_ms=500))
    assert result.returncode == 0, result.stderr + result.messages
    assert alice.wait()[0] == 0
    status, seen = desk.wait()
    assert status == 0, seen
    cancel = next(m for m in seen if m.first_line.startswith("CANCEL"))
    assert cancel.header("Reason") == 'SIP;cause=200;text="Call completed elsewhere"'
