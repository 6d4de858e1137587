"""Drive SIPp (Debian's sip-tester) with REGISTER scenarios written for each test."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

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
