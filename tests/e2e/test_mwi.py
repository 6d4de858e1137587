"""Message-waiting indication against the real server with SIPp: the unsolicited NOTIFY a
phone gets when it registers, and a message-summary subscription with digest."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.calls import ANSWER_NOTIFY
from tests.e2e.server import Ports, ServerProcess, free_port, reference_config
from tests.e2e.sipp import SippResult, register_scenario, run_sipp

pytestmark = pytest.mark.e2e

MAILBOX = "[alice](+type=endpoint)\nmailboxes=101@default\n"

OUT_OF_CALL = f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="answer unsolicited notify">
{ANSWER_NOTIFY}</scenario>
"""


def _options(cseq: int) -> str:
    return f"""<send retrans="500"><![CDATA[
OPTIONS sip:[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:alice@[remote_ip]>;tag=[pid]b[call_number]
To: <sip:[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: {cseq} OPTIONS
Max-Forwards: 70
Content-Length: 0

]]></send>
<recv response="200"/>
"""


BARRIER = _options(9)
"""An OPTIONS round trip after the REGISTER's 200: the server sends the unsolicited NOTIFY
right after that 200, before it reads another datagram (``SipStack.after_sending``), so by
the OPTIONS' answer the NOTIFY has arrived (loopback UDP keeps order) and SIPp has answered
it. A causal barrier, not a sleep."""


def _subscribe(cseq: int, expires: int, *, auth: bool, in_dialog: bool) -> str:
    to_tag = "[peer_tag_param]" if in_dialog else ""
    authorization = "[authentication]\n" if auth else ""
    return f"""<send retrans="500"><![CDATA[
SUBSCRIBE sip:alice@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:alice@[remote_ip]>;tag=[pid]s[call_number]
To: <sip:alice@[remote_ip]:[remote_port]>{to_tag}
Call-ID: [call_id]
CSeq: {cseq} SUBSCRIBE
Contact: <sip:alice@[local_ip]:[local_port]>
Event: message-summary
Accept: application/simple-message-summary
Expires: {expires}
Max-Forwards: 70
{authorization}Content-Length: 0

]]></send>
"""


SUBSCRIBE_SCENARIO = f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="subscribe message-summary">
{_subscribe(1, 600, auth=False, in_dialog=False)}<recv response="401" auth="true"/>
{_subscribe(2, 600, auth=True, in_dialog=False)}<recv response="200" rrs="true"/>
{ANSWER_NOTIFY}{_subscribe(3, 0, auth=False, in_dialog=True)}<recv response="200"/>
{ANSWER_NOTIFY}</scenario>
"""


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[ServerProcess, Ports, Path]]:
    ports = Ports()
    config = reference_config(tmp_path / "config", ports, extra_pjsip=MAILBOX)
    with ServerProcess(config, tmp_path / "state") as server:
        yield server, ports, tmp_path


def received(result: SippResult, method: str) -> list[str]:
    """Every request of ``method`` SIPp received, whole."""
    blocks = re.split(r"-{10,} [^\n]*\n", result.messages)
    found = []
    for block in blocks:
        head, _, message = block.partition("\n")
        if "message received" in head and message.strip().startswith(f"{method} "):
            found.append(message.strip())
    return found


def sent_responses(result: SippResult) -> list[str]:
    blocks = re.split(r"-{10,} [^\n]*\n", result.messages)
    return [
        b.partition("\n")[2].strip()
        for b in blocks
        if "message sent" in b.partition("\n")[0]
        and b.partition("\n")[2].strip().startswith("SIP/2.0 ")
    ]


def header(message: str, name: str) -> list[str]:
    return [
        line.split(":", 1)[1].strip()
        for line in message.splitlines()
        if line.lower().startswith(name.lower() + ":")
    ]


def test_registration_gets_an_unsolicited_notify_with_the_lamp_off(site):
    server, ports, folder = site
    scenario = register_scenario("alice").replace("</scenario>", BARRIER + "</scenario>")
    (folder / "ooc").mkdir()
    ooc = folder / "ooc" / "notify.xml"
    ooc.write_text(OUT_OF_CALL)
    result = run_sipp(
        scenario, folder / "register", ports.udp, local_port=free_port(), extra=("-oocsf", str(ooc))
    )
    assert result.returncode == 0, result.messages + result.stderr
    (notify,) = received(result, "NOTIFY")
    assert header(notify, "Event") == ["message-summary"]
    assert header(notify, "Subscription-State") == ["active"]
    assert header(notify, "Content-Type") == ["application/simple-message-summary"]
    assert "tag=" not in header(notify, "To")[0], "out of dialog"
    assert "Messages-Waiting: no" in notify
    assert re.search(r"^Message-Account: sip:101@127\.0\.0\.1:\d+$", notify, re.MULTILINE)
    assert "Voice-Message: 0/0 (0/0)" in notify
    assert any("NOTIFY" in header(r, "CSeq")[0] for r in sent_responses(result))
    server.wait_for(r'"endpoint": "alice".*"mailbox": "101@default".*"new": 0.*"old": 0')


def test_subscribe_with_digest_gets_200_and_notifies_until_unsubscribed(site):
    server, ports, folder = site
    result = run_sipp(SUBSCRIBE_SCENARIO, folder / "subscribe", ports.udp, local_port=free_port())
    assert result.returncode == 0, result.messages + result.stderr
    statuses = [r.split(" ", 2)[1] for r in result.responses()]
    assert statuses == ["401", "200", "200"]
    ok = result.responses()[1]
    assert header(ok, "Expires") == ["600"]
    assert "tag=" in header(ok, "To")[0]
    first, last = received(result, "NOTIFY")
    assert header(first, "Subscription-State") == ["active;expires=600"]
    assert "Messages-Waiting: no" in first
    assert header(last, "Subscription-State") == ["terminated"]
    for notify in (first, last):
        assert header(notify, "Event") == ["message-summary"]
        assert header(notify, "Call-ID") == header(ok, "Call-ID"), "in the subscription's dialog"
    server.wait_for(r'"type": "MwiSubscribed"')
    server.wait_for(r'"reason": "unsubscribed", "type": "MwiSubscriptionEnded"')
