"""SIPp as the phones of a call: a caller that authenticates its INVITE, and a registered
callee that rings, answers, refuses or waits for the CANCEL. Messages are kept with their
timestamps (``-trace_msg``) so tests can check headers and timing."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tests.e2e.sipp import SIPP, register_scenario, run_sipp

SDP = """v=0
o=user 1 1 IN IP4 [local_ip]
s=-
c=IN IP4 [local_ip]
t=0 0
m=audio [media_port] RTP/AVP {formats}
{rtpmaps}a=sendrecv
"""

RTPMAPS = {
    0: "a=rtpmap:0 PCMU/8000\n",
    8: "a=rtpmap:8 PCMA/8000\n",
    101: "a=rtpmap:101 telephone-event/8000\na=fmtp:101 0-16\n",
}


def sdp(*formats: int, direction: str = "sendrecv") -> str:
    """An audio SDP on SIPp's media port with these payload types."""
    text = SDP.format(
        formats=" ".join(str(f) for f in formats),
        rtpmaps="".join(RTPMAPS[f] for f in formats if f in RTPMAPS),
    )
    return text.replace("a=sendrecv", f"a={direction}")


def _invite(cseq: int, body: str, authentication: bool) -> str:
    auth = "[authentication]\n" if authentication else ""
    content = "Content-Type: application/sdp\n" if body else ""
    return f"""<send retrans="500"><![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "Bob" <sip:bob@[remote_ip]>;tag=[pid]b[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: {cseq} INVITE
Contact: <sip:bob@[local_ip]:[local_port]>
Max-Forwards: 70
{auth}{content}Content-Length: [len]

{body}]]></send>
"""


def _in_dialog(method: str, cseq: int, extra: str = "", body: str = "") -> str:
    content = "Content-Type: application/sdp\n" if body and method == "INVITE" else ""
    return f"""<send retrans="500"><![CDATA[
{method} [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "Bob" <sip:bob@[remote_ip]>;tag=[pid]b[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: {cseq} {method}
[routes]
Contact: <sip:bob@[local_ip]:[local_port]>
Max-Forwards: 70
{extra}{content}Content-Length: [len]

{body}]]></send>
"""


def _ack(cseq: int, branch: str = "[branch]") -> str:
    return f"""<send><![CDATA[
ACK {"[next_url]" if branch == "[branch]" else "sip:[service]@[remote_ip]:[remote_port]"} SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch={branch}
From: "Bob" <sip:bob@[remote_ip]>;tag=[pid]b[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: {cseq} ACK
[routes]
Contact: <sip:bob@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0

]]></send>
"""


def caller(
    *,
    body: str | None = None,
    final: int = 200,
    talk_ms: int = 1000,
    authenticate: bool = True,
    cancel_after_ms: int | None = None,
    during_call: str = "",
    ends_call: bool = False,
    tag: str | None = None,
    user: str = "bob",
) -> str:
    """Bob's INVITE to ``-s`` (challenged, then with credentials), the expected final
    status, and for 200: ACK, ``during_call`` steps, a pause, BYE (unless ``ends_call``:
    the steps end the call, as a transfer does). ``cancel_after_ms`` CANCELs while it
    rings and expects 487. ``tag`` fixes bob's From tag (an attended transfer names it);
    ``user`` calls as another phone."""
    scenario = _caller(
        body=body,
        final=final,
        talk_ms=talk_ms,
        authenticate=authenticate,
        cancel_after_ms=cancel_after_ms,
        during_call=during_call,
        ends_call=ends_call,
    )
    if user != "bob":
        scenario = scenario.replace('"Bob" <sip:bob@', f'"{user}" <sip:{user}@')
        scenario = scenario.replace("<sip:bob@[local_ip]", f"<sip:{user}@[local_ip]")
    return scenario if tag is None else scenario.replace("[pid]b[call_number]", tag)


def _caller(
    *,
    body: str | None,
    final: int,
    talk_ms: int,
    authenticate: bool,
    cancel_after_ms: int | None,
    during_call: str,
    ends_call: bool,
) -> str:
    body = sdp(0, 101) if body is None else body
    steps = [
        _invite(1, body, False),
        '<recv response="100" optional="true"/>\n',
    ]
    if not authenticate:  # the first answer is the last: 401, or ``final`` (a 403)
        steps.append(f'<recv response="{401 if final == 200 else final}"/>\n')
        steps.append(_ack(1, "[branch-3]"))
        return _scenario("caller", steps)
    steps += [
        '<recv response="401" auth="true"/>\n',
        _ack(1, "[branch-3]"),
        _invite(2, body, True),
        '<recv response="100" optional="true"/>\n',
    ]
    if cancel_after_ms is not None:
        steps += [
            '<recv response="180"/>\n',
            f'<pause milliseconds="{cancel_after_ms}"/>\n',
            _cancel(),
            '<recv response="200"/>\n',
            '<recv response="487"/>\n',
            _ack(2, "[branch-5]"),
        ]
        return _scenario("caller", steps)
    steps += [
        '<recv response="180" optional="true"/>\n',
        '<recv response="183" optional="true"/>\n',
    ]
    if final != 200:
        steps += [f'<recv response="{final}"/>\n', _ack(2, "[branch-5]")]
        return _scenario("caller", steps)
    steps += ['<recv response="200" rrs="true"/>\n', _ack(2), during_call]
    if not ends_call:
        steps += [
            f'<pause milliseconds="{talk_ms}"/>\n',
            _in_dialog("BYE", 10),
            '<recv response="200"/>\n',
        ]
    return _scenario("caller", steps)


def _cancel() -> str:
    return """<send><![CDATA[
CANCEL sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch-4]
From: "Bob" <sip:bob@[remote_ip]>;tag=[pid]b[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 2 CANCEL
Max-Forwards: 70
Content-Length: 0

]]></send>
"""


def reinvite(cseq: int, body: str) -> str:
    """A re-INVITE from the caller with ``body`` (hold: ``sdp(0, direction="sendonly")``),
    its 200 and the ACK."""
    return (
        _in_dialog("INVITE", cseq, body=body)
        + '<recv response="100" optional="true"/>\n'
        + '<recv response="200"/>\n'
        + _ack(cseq)
    )


def refer(cseq: int, target: str) -> str:
    """A REFER to ``target`` (a blind transfer; ``?Replaces=`` makes it attended), its 202,
    the two NOTIFYs answered, and the BYE that ends the transferer's call."""
    extra = f"Refer-To: <{target}>\nReferred-By: <sip:bob@[remote_ip]>\n"
    return (
        _in_dialog("REFER", cseq, extra=extra)
        + '<recv response="202"/>\n'
        + ANSWER_NOTIFY
        + ANSWER_NOTIFY
        + '<recv request="BYE"/>\n'
        + response("200 OK", tag=False)
    )


ANSWER_NOTIFY = """<recv request="NOTIFY"/>
<send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
"""
"""A NOTIFY received and answered 200 (transfer progress, message waiting)."""


def response(status: str, body: str = "", tag: bool = True) -> str:
    """A response to the last request (``tag``: add our To tag, for a dialog-creating one)."""
    to = "[last_To:];tag=[pid]a[call_number]" if tag else "[last_To:]"
    content = "Content-Type: application/sdp\n" if body else ""
    return f"""<send><![CDATA[
SIP/2.0 {status}
[last_Via:]
[last_From:]
{to}
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:alice@[local_ip]:[local_port]>
{content}Content-Length: [len]

{body}]]></send>
"""


def callee(
    *,
    answer_after_ms: int | None = 300,
    status: str = "200 OK",
    body: str | None = None,
    hangs_up_after_ms: int | None = None,
    reinvites: int = 0,
) -> str:
    """Alice's phone: 180 at once, then ``status`` after ``answer_after_ms`` (None: never;
    it waits for the CANCEL, answers it 200 and the INVITE 487). Once answered it takes
    ``reinvites`` re-INVITEs (hold, resume, a media move), answering each with ``body``;
    the call ends with the BYE that arrives, or one she sends after ``hangs_up_after_ms``."""
    body = sdp(0, 101) if body is None else body
    steps = ['<recv request="INVITE" crlf="true" rrs="true"/>\n', response("180 Ringing")]
    if answer_after_ms is None:
        steps += [
            '<recv request="CANCEL"/>\n',
            response("200 OK", tag=False),
            _response_to_invite_after_cancel(),
            '<recv request="ACK"/>\n',
        ]
        return _scenario("callee", steps)
    steps.append(f'<pause milliseconds="{answer_after_ms}"/>\n')
    if not status.startswith("200"):
        steps += [response(status), '<recv request="ACK"/>\n']
        return _scenario("callee", steps)
    ack = '<recv request="ACK"/>\n' if hangs_up_after_ms is None else _ACK_NOTING_TAGS
    steps += [response(status, body), ack]
    for _ in range(reinvites):
        steps += [
            '<recv request="INVITE"/>\n',
            response("200 OK", body, tag=False),
            '<recv request="ACK"/>\n',
        ]
    if hangs_up_after_ms is None:
        steps += ['<recv request="BYE"/>\n', response("200 OK", tag=False)]
    else:
        steps += [
            f'<pause milliseconds="{hangs_up_after_ms}"/>\n',
            """<send retrans="500"><![CDATA[
BYE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: [$me]
To: [$peer]
Call-ID: [call_id]
CSeq: 1 BYE
Max-Forwards: 70
Content-Length: 0

]]></send>
<recv response="200"/>
""",
        ]
    return _scenario("callee", steps)


_ACK_NOTING_TAGS = """<recv request="ACK">
<action>
<ereg regexp=".*" search_in="hdr" header="From:" check_it="true" assign_to="peer"/>
<ereg regexp=".*" search_in="hdr" header="To:" check_it="true" assign_to="me"/>
</action>
</recv>
"""
"""The ACK of our 200, keeping both tagged addresses for a BYE we send later."""


def _response_to_invite_after_cancel() -> str:
    return """<send><![CDATA[
SIP/2.0 487 Request Terminated
[last_Via:]
[last_From:]
[last_To:];tag=[pid]a[call_number]
[last_Call-ID:]
CSeq: [last_cseq_number] INVITE
Content-Length: 0

]]></send>
"""


def _scenario(name: str, steps: list[str]) -> str:
    head = f'<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="{name}">\n'
    return head + "".join(steps) + "</scenario>\n"


@dataclass
class Message:
    """One message SIPp sent or received, with when."""

    at: datetime
    direction: str
    text: str

    @property
    def first_line(self) -> str:
        return self.text.split("\n", 1)[0].strip()

    def header(self, name: str) -> str | None:
        found = re.search(rf"^{name}\s*:\s*(.*?)\s*$", self.text, re.IGNORECASE | re.MULTILINE)
        return found.group(1) if found else None


_BLOCK = re.compile(r"-{10,} (\S+ \S+)\s*\n([^\n]*message (?:sent|received)[^\n]*)\n")


def messages(trace: str) -> list[Message]:
    """The messages of a ``-trace_msg`` file, in order."""
    found = list(_BLOCK.finditer(trace))
    result = []
    for index, match in enumerate(found):
        end = found[index + 1].start() if index + 1 < len(found) else len(trace)
        text = trace[match.end() : end].strip()
        stamp = datetime.strptime(match.group(1)[:26], "%Y-%m-%d %H:%M:%S.%f")
        direction = "received" if "received" in match.group(2) else "sent"
        result.append(Message(stamp, direction, text))
    return result


class Phone:
    """A SIPp phone that runs a scenario in the background (after registering as ``user``
    when it must receive calls)."""

    def __init__(self, folder: Path, server_port: int, user: str, password: str, port: int):
        self.folder = folder
        self.server_port = server_port
        self.user = user
        self.password = password
        self.port = port
        self.process: subprocess.Popen[str] | None = None

    def register(self, expires: int = 3600) -> None:
        result = run_sipp(
            register_scenario(self.user, expires=expires),
            self.folder / "register",
            self.server_port,
            user=self.user,
            password=self.password,
            local_port=self.port,
        )
        assert result.returncode == 0, result.stderr

    def start(
        self, scenario: str, *, timeout: int = 30, extra: tuple[str, ...] = (), name: str = "callee"
    ) -> None:
        assert SIPP is not None
        folder = self.folder / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "scenario.xml").write_text(scenario)
        self.trace = folder / "messages.log"
        self.trace.unlink(missing_ok=True)
        command = [
            SIPP,
            f"127.0.0.1:{self.server_port}",
            "-sf",
            str(folder / "scenario.xml"),
            "-m",
            "1",
            "-i",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-timeout",
            str(timeout),
            "-timeout_error",
            "-nostdin",
            "-trace_msg",
            "-message_file",
            str(self.trace),
            "-aa",
            "-au",
            self.user,
            "-ap",
            self.password,
            "-recv_timeout",
            "15000",
            *extra,
        ]
        self.process = subprocess.Popen(
            command, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def messages(self) -> list[Message]:
        """What it sent and received so far."""
        return messages(self.trace.read_text(errors="replace")) if self.trace.exists() else []

    def wait(self, timeout: float = 40) -> tuple[int, list[Message]]:
        """Its exit status and every message it sent and received."""
        assert self.process is not None
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        text = self.trace.read_text(errors="replace") if self.trace.exists() else ""
        return self.process.returncode, messages(text)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
