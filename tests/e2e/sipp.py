"""Drive SIPp (Debian's sip-tester) with REGISTER scenarios written for each test."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

SIPP = shutil.which("sipp")

_REGISTER = """REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:{user}@[remote_ip]>;tag=[pid]t[call_number]
To: <sip:{user}@[remote_ip]>
Call-ID: {call_id}
CSeq: {cseq} REGISTER
{contact}{expires}Max-Forwards: 70
User-Agent: SIPp
{authentication}Content-Length: 0

"""


@dataclass
class SippResult:
    returncode: int
    messages: str
    stderr: str

    def responses(self) -> list[str]:
        """Every response received, whole, in order."""
        blocks = re.split(r"-{10,} [^\n]*\n", self.messages)
        received = [
            b.split("\n", 1)[1] for b in blocks if "message received" in b.split("\n", 1)[0]
        ]
        return [b.strip() for b in received if b.strip().startswith("SIP/2.0 ")]

    def last_response(self) -> str:
        responses = self.responses()
        assert responses, f"no response received:\n{self.messages}\n{self.stderr}"
        return responses[-1]


def register_scenario(
    user: str,
    *,
    contact: str | None = "<sip:{user}@[local_ip]:[local_port];transport=[transport]>",
    expires: int | None = 3600,
    final: int = 200,
    authenticate: bool = True,
    call_id: str = "[call_id]",
    cseq_start: int = 1,
) -> str:
    """A REGISTER, its 401, the authenticated retry, and the expected final status
    (``contact=None`` leaves Contact out: a query of the current bindings)."""
    contact_value = f"Contact: {contact.format(user=user)}\n" if contact is not None else ""
    expires_line = f"Expires: {expires}\n" if expires is not None else ""

    def message(cseq: int, auth: bool) -> str:
        text = _REGISTER.format(
            user=user,
            call_id=call_id,
            cseq=cseq,
            contact=contact_value,
            expires=expires_line,
            authentication="[authentication]\n" if auth else "",
        )
        return f'<send retrans="500"><![CDATA[\n{text}]]></send>\n'

    steps = [message(cseq_start, False)]
    if authenticate:
        steps.append('<recv response="401" auth="true"/>\n')
        steps.append(message(cseq_start + 1, True))
    steps.append(f'<recv response="{final}"/>\n')
    body = "".join(steps)
    head = '<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="register">\n'
    return f"{head}{body}</scenario>\n"


def run_sipp(
    scenario: str,
    folder: Path,
    port: int,
    *,
    transport: str = "udp",
    user: str = "alice",
    password: str = "alice101",
    local_port: int | None = None,
    local_ip: str = "127.0.0.1",
    calls: int = 1,
    timeout: int = 20,
    extra: tuple[str, ...] = (),
) -> SippResult:
    """Run one scenario against 127.0.0.1:port; bounded in calls and time."""
    assert SIPP is not None, "sipp is not installed (apt-get install sip-tester)"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "scenario.xml"
    path.write_text(scenario)
    messages = folder / "messages.log"
    messages.unlink(missing_ok=True)
    command = [
        SIPP,
        f"127.0.0.1:{port}",
        "-sf",
        str(path),
        "-m",
        str(calls),
        "-i",
        local_ip,
        "-t",
        "t1" if transport == "tcp" else "u1",
        "-au",
        user,
        "-ap",
        password,
        "-timeout",
        str(timeout),
        "-timeout_error",
        "-nostdin",
        "-trace_msg",
        "-message_file",
        str(messages),
        "-recv_timeout",
        "5000",
        *extra,
    ]
    if local_port is not None:
        command += ["-p", str(local_port)]
    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout + 15, check=False, cwd=folder
    )
    text = messages.read_text(errors="replace") if messages.exists() else ""
    return SippResult(completed.returncode, text, completed.stderr + completed.stdout)


OPTIONS_SCENARIO = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="options">
<send retrans="500"><![CDATA[
OPTIONS sip:[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:probe@[local_ip]>;tag=[pid]o[call_number]
To: <sip:[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 OPTIONS
Max-Forwards: 70
Content-Length: 0

]]></send>
<recv response="200"/>
</scenario>
"""


Codec = Literal["ulaw", "alaw"]

_SDP = """v=0
o=sipp 1 1 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP {pt} 101
a=rtpmap:{pt} {name}/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=sendrecv
"""

_CALL_HEADERS = """Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch{offset}]
From: <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]c[call_number]
To: <sip:{callee}@[remote_ip]:[remote_port]>{to_tag}
Call-ID: [call_id]
CSeq: {cseq} {method}
"""

_CONTACT = "Contact: <sip:{user}@[local_ip]:[local_port];transport=[transport]>\n"


def _sdp(codec: Codec) -> str:
    return _SDP.format(pt=0 if codec == "ulaw" else 8, name="PCMU" if codec == "ulaw" else "PCMA")


def _scenario(name: str, steps: list[str]) -> str:
    head = f'<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="{name}">\n'
    return head + "".join(steps) + "</scenario>\n"


def _send(text: str, retrans: bool = False) -> str:
    attribute = ' retrans="500"' if retrans else ""
    return f"<send{attribute}><![CDATA[\n{text}\n]]></send>\n"


def _play(pcap: Path | None) -> str:
    if pcap is None:
        return ""
    return f'<nop><action><exec play_pcap_audio="{pcap}"/></action></nop>\n'


def uac_call_scenario(
    callee: str,
    *,
    caller: str = "[service]",
    authenticate: bool = True,
    final: int = 200,
    codec: Codec = "ulaw",
    play_pcap: Path | None = None,
    hold_ms: int = 3000,
    hangup: Literal["send", "receive"] = "send",
    cancel_after_ms: int | None = None,
) -> str:
    """A call from ``caller`` (default: SIPp's ``-s``) to ``callee`` at the remote address:
    INVITE with SDP (``-mi``/``-mp`` give its media address), the 401 and an authenticated
    retry (``-au``/``-ap``) unless ``authenticate=False``, optional 100/180/183, ``final``.

    On 200: ACK, play ``play_pcap`` (``play_pcap_audio``), wait ``hold_ms``, then BYE
    (``hangup="send"``) or wait for the far end's BYE (``hangup="receive"``). Another
    ``final`` is ACKed and ends the call. With ``cancel_after_ms``, the call is CANCELled
    that long after the first 180 and ``final`` should be 487."""
    steps: list[str] = []

    def headers(cseq: int, method: str, offset: str = "", to_tag: str = "") -> str:
        return _CALL_HEADERS.format(
            caller=caller, callee=callee, cseq=cseq, method=method, offset=offset, to_tag=to_tag
        )

    def invite(cseq: int, auth: bool) -> str:
        body = _sdp(codec)
        text = (
            f"INVITE sip:{callee}@[remote_ip]:[remote_port] SIP/2.0\n"
            + headers(cseq, "INVITE")
            + _CONTACT.format(user=caller)
            + ("[authentication]\n" if auth else "")
            + "Max-Forwards: 70\nUser-Agent: SIPp\nContent-Type: application/sdp\n"
            + "Content-Length: [len]\n\n"
            + body
        )
        return _send(text, retrans=True)

    def ack_failure(cseq: int, invite_index: int) -> str:
        """The ACK of a non-2xx final: same branch as the INVITE (RFC 3261 §17.1.1.3)."""
        offset = f"-{len(steps) - invite_index}"
        text = (
            f"ACK sip:{callee}@[remote_ip]:[remote_port] SIP/2.0\n"
            + headers(cseq, "ACK", offset, "[peer_tag_param]")
            + "Max-Forwards: 70\nContent-Length: 0\n"
        )
        return _send(text)

    cseq = 1
    invite_index = len(steps)
    steps.append(invite(cseq, False))
    if authenticate:
        steps.append('<recv response="100" optional="true"/>\n')
        steps.append('<recv response="401" auth="true"/>\n')
        steps.append(ack_failure(cseq, invite_index))
        cseq += 1
        invite_index = len(steps)
        steps.append(invite(cseq, True))
    steps.append('<recv response="100" optional="true"/>\n')
    if cancel_after_ms is not None:
        steps.append('<recv response="180"/>\n')
        steps.append(f'<pause milliseconds="{cancel_after_ms}"/>\n')
        offset = f"-{len(steps) - invite_index}"
        text = (
            f"CANCEL sip:{callee}@[remote_ip]:[remote_port] SIP/2.0\n"
            + headers(cseq, "CANCEL", offset)
            + "Max-Forwards: 70\nContent-Length: 0\n"
        )
        steps.append(_send(text, retrans=True))
        steps.append('<recv response="200"/>\n')
    else:
        steps.append('<recv response="180" optional="true"/>\n')
        steps.append('<recv response="183" optional="true"/>\n')
    if final != 200:
        steps.append(f'<recv response="{final}"/>\n')
        steps.append(ack_failure(cseq, invite_index))
        return _scenario("uac-call", steps)
    steps.append('<recv response="200" rrs="true"/>\n')
    in_dialog = "[next_url] SIP/2.0\n"
    ack = (
        f"ACK {in_dialog}"
        + headers(cseq, "ACK", to_tag="[peer_tag_param]")
        + "[routes]\nMax-Forwards: 70\nContent-Length: 0\n"
    )
    steps.append(_send(ack))
    steps.append(_play(play_pcap))
    if hangup == "receive":
        steps.append('<recv request="BYE"/>\n')
        steps.append(_send(_OK_TO_LAST))
        return _scenario("uac-call", steps)
    steps.append(f'<pause milliseconds="{hold_ms}"/>\n')
    bye = (
        f"BYE {in_dialog}"
        + headers(cseq + 1, "BYE", to_tag="[peer_tag_param]")
        + "[routes]\nMax-Forwards: 70\nContent-Length: 0\n"
    )
    steps.append(_send(bye, retrans=True))
    steps.append('<recv response="200"/>\n')
    return _scenario("uac-call", steps)


_OK_TO_LAST = """SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0
"""

_UAS_RESPONSE = """SIP/2.0 {status}
[last_Via:]
[last_From:]
[last_To:];tag=[pid]u[call_number]
[last_Call-ID:]
{cseq}
"""


def uas_call_scenario(
    *,
    ring_ms: int = 500,
    final: int | None = 200,
    codec: Codec = "ulaw",
    play_pcap: Path | None = None,
    hold_ms: int = 3000,
    hangup: Literal["send", "receive"] = "receive",
) -> str:
    """Answer one INVITE as ``[service]`` (``-s USER``): 180, then after ``ring_ms`` the
    ``final`` status (200 with SDP; or 486, ...); ``final=None`` never answers and expects
    a CANCEL (200 to it, 487 to the INVITE). After the ACK of a 200, play ``play_pcap``
    and wait for the BYE (``hangup="receive"``) or send one after ``hold_ms``
    (``hangup="send"``). For a registered user, run :func:`register_scenario` first on
    the same ``-p`` port."""
    invite_cseq = "CSeq: [$invite_cseq] INVITE"
    capture = (
        '<action><ereg regexp="([0-9]+) INVITE" search_in="hdr" header="CSeq:"'
        ' assign_to="invite_cseq_line,invite_cseq"/></action>'
    )
    steps = [
        f'<recv request="INVITE" rrs="true">{capture}</recv>\n',
        '<Reference variables="invite_cseq_line"/>\n',
        _send(
            _UAS_RESPONSE.format(status="180 Ringing", cseq=invite_cseq)
            + _CONTACT.format(user="[service]")
            + "Content-Length: 0\n"
        ),
    ]
    if final is None:
        steps.append('<recv request="CANCEL"/>\n')
        steps.append(_send(_OK_TO_LAST))
        steps.append(
            _send(
                _UAS_RESPONSE.format(status="487 Request Terminated", cseq=invite_cseq)
                + "Content-Length: 0\n"
            )
        )
        steps.append('<recv request="ACK"/>\n')
        return _scenario("uas-call", steps)
    steps.append(f'<pause milliseconds="{ring_ms}"/>\n')
    if final != 200:
        reason = {486: "Busy Here", 603: "Decline", 480: "Temporarily Unavailable"}.get(
            final, "Failure"
        )
        steps.append(
            _send(
                _UAS_RESPONSE.format(status=f"{final} {reason}", cseq=invite_cseq)
                + "Content-Length: 0\n"
            )
        )
        steps.append('<recv request="ACK"/>\n')
        return _scenario("uas-call", steps)
    steps.append(
        _send(
            _UAS_RESPONSE.format(status="200 OK", cseq=invite_cseq)
            + _CONTACT.format(user="[service]")
            + "Content-Type: application/sdp\nContent-Length: [len]\n\n"
            + _sdp(codec),
            retrans=True,
        )
    )
    ack_capture = (
        '<action><ereg regexp="[^ ].*" search_in="hdr" header="From:" assign_to="caller"/>'
        '<ereg regexp="[^ ].*" search_in="hdr" header="To:" assign_to="callee"/></action>'
    )
    steps.append(f'<recv request="ACK">{ack_capture}</recv>\n')
    steps.append(_play(play_pcap))
    if hangup == "receive":
        steps.append('<recv request="BYE"/>\n')
        steps.append(_send(_OK_TO_LAST))
        steps.append('<Reference variables="caller,callee"/>\n')
        return _scenario("uas-call", steps)
    steps.append(f'<pause milliseconds="{hold_ms}"/>\n')
    bye = (
        "BYE [next_url] SIP/2.0\n"
        "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n"
        "From: [$callee]\nTo: [$caller]\n[last_Call-ID:]\nCSeq: 1 BYE\n[routes]\n"
        "Max-Forwards: 70\nContent-Length: 0\n"
    )
    steps.append(_send(bye, retrans=True))
    steps.append('<recv response="200"/>\n')
    return _scenario("uas-call", steps)


def call_options(callee: str, port: int, media_port: int | None = None) -> tuple[str, ...]:
    """``extra`` options for :func:`uac_call_scenario` to ``callee`` at 127.0.0.1:``port``:
    the digest ``uri`` set to the Request-URI (SIPp's default is ``sip:IP:PORT``, which a
    strict server rejects) and, with ``media_port``, the SDP's media address."""
    options: tuple[str, ...] = ("-auth_uri", f"{callee}@127.0.0.1:{port}")
    if media_port is not None:
        options += ("-mi", "127.0.0.1", "-mp", str(media_port))
    return options


_BACKGROUND = ThreadPoolExecutor(max_workers=8, thread_name_prefix="sipp")


def _bound(port: int, transport: str) -> bool:
    """Whether a socket holds ``port`` (listening, for TCP), read from /proc without binding."""
    table = Path("/proc/net/tcp" if transport == "tcp" else "/proc/net/udp").read_text()
    for line in table.splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and (transport != "tcp" or fields[3] == "0A"):
            return True
    return False


def start_sipp(scenario: str, folder: Path, port: int, **options: Any) -> Future[SippResult]:
    """:func:`run_sipp` in the background (give each run its own ``folder``); when
    ``local_port`` is given, returns once SIPp holds it. ``.result(timeout)`` waits for
    the end."""
    future = _BACKGROUND.submit(run_sipp, scenario, folder, port, **options)
    local_port = options.get("local_port")
    deadline = time.monotonic() + 5
    while local_port is not None and not future.done() and time.monotonic() < deadline:
        if _bound(local_port, options.get("transport", "udp")):
            break
        time.sleep(0.02)
    return future
