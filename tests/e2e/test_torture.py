"""RFC 4475 torture messages and random mutations against the real ``switchboard serve``.

Every archived torture message is sent as-is from a plain socket on 127.0.0.1, as one UDP
datagram or over a fresh TCP connection, and what comes back is checked against the RFC.
After each message an OPTIONS probe goes down the same socket or connection: the server
reads in order, so anything it answers to the torture message arrives before the probe's
200, and "nothing before the probe's answer" means the message was dropped. The probe's
200 also shows the server is still alive after every single message.

The parser's own verdicts are unit-tested in tests/unit/sip/test_rfc4475.py; here the
whole server decides, so some answers are the server's (documented in ``SERVER``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import random
import re
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from tests.e2e.mutator import mutate
from tests.e2e.server import Ports, ServerProcess, reference_config
from tests.e2e.sipwire import (
    Exchange,
    TcpPeer,
    Transport,
    UdpPeer,
    answers_options,
    call_id_of,
    status_of,
)

pytestmark = pytest.mark.e2e

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "rfc4475"
TRANSPORTS: tuple[Transport, ...] = ("udp", "tcp")
DEADLINE = 10.0  # seconds for any one answer; the server normally takes a millisecond
QUIET = 0.2  # bounded wait for "nothing comes back" beyond the ordering barrier


def _load_expected() -> dict[str, object]:
    spec = importlib.util.spec_from_file_location("rfc4475_expected", FIXTURES / "expected.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module.EXPECTED  # type: ignore[no-any-return]


EXPECTED = _load_expected()
NAMES = sorted(EXPECTED)


# The test peer sends hundreds of malformed messages from 127.0.0.1: trusted, so that the
# guard (tested in test_security.py) counts them without banning the address.
SWITCHBOARD_CONF = "[security]\ntrusted = 127.0.0.0/8\n"


def torture_config(folder: Path, ports: Ports, extra_pjsip: str = "") -> Path:
    config = reference_config(folder, ports, extra_pjsip=extra_pjsip)
    (config / "switchboard.conf").write_text(SWITCHBOARD_CONF)
    return config


def message(name: str) -> bytes:
    return (FIXTURES / f"{name}.dat").read_bytes()


@dataclass(frozen=True)
class Outcome:
    """What the server must do with one message on one transport.

    ``finals``: the final responses, in order (1xx are not counted; () means dropped).
    ``closes``: TCP only, the server closes the connection after answering (framing
    failed, so the stream cannot be read any further). ``waits``: TCP only, the framer
    needs more bytes than were sent, so nothing comes back and the connection stays open.
    """

    finals: tuple[int, ...]
    closes: bool = False
    waits: bool = False
    why: str = ""
    header: bytes = b""  # a header line the first final response must carry


# What RFC 4475 requires, message by message, where the RFC names a status (§3.1.2, §3.3)
# or requires that nothing is sent (responses that match no transaction).
RFC: dict[str, Outcome] = {
    name: Outcome((EXPECTED[name].status,), why=f"RFC 4475 §{EXPECTED[name].section}")  # type: ignore[attr-defined]
    for name in NAMES
    if EXPECTED[name].outcome == "invalid"  # type: ignore[attr-defined]
} | {
    name: Outcome((), why=f"RFC 4475 §{EXPECTED[name].section}: a response, dropped")  # type: ignore[attr-defined]
    for name in NAMES
    if EXPECTED[name].outcome == "drop"  # type: ignore[attr-defined]
}

# Valid requests and the RFC's "server decides" cases: what this server (a registrar, a
# PBX that challenges every INVITE, an endpoint that answers OPTIONS) answers, and why.
# None of these may be a 400 or a 5xx caused by parsing.
SERVER: dict[str, Outcome] = {
    # §3.1.1 valid messages
    "wsinv": Outcome(
        (481,),
        why="§3.1.1.1 valid; its To tag makes it a re-INVITE of a "
        "dialog we do not have: 481 (RFC 3261 §12.2.2)",
    ),
    "intmeth": Outcome((501,), why="§3.1.1.2 valid; unknown method: 501 (RFC 3261 §8.2.1)"),
    "esc01": Outcome((401,), why="§3.1.1.3 valid INVITE, no credentials: challenged"),
    "escnull": Outcome((401,), why="§3.1.1.4 valid REGISTER: challenged (RFC 3261 §10.3 step 3)"),
    "esc02": Outcome((501,), why="§3.1.1.5 method RE%47IST%45R is not REGISTER: 501"),
    "lwsdisp": Outcome((200,), why="§3.1.1.6 valid OPTIONS: 200"),
    "longreq": Outcome((401,), why="§3.1.1.7 valid INVITE, no credentials: challenged"),
    "dblreq": Outcome(
        (401,),
        why="§3.1.1.8 the REGISTER is answered; the INVITE after "
        "Content-Length octets is ignored in a datagram (RFC 3261 §18.3)",
    ),
    "semiuri": Outcome((200,), why="§3.1.1.9 valid OPTIONS: 200"),
    "transports": Outcome((200,), why="§3.1.1.10 valid OPTIONS: 200"),
    "mpart01": Outcome((501,), why="§3.1.1.11 valid; MESSAGE is not served: 501"),
    "unreason": Outcome((), why="§3.1.1.12 a valid response matching no transaction: dropped"),
    "noreason": Outcome((), why="§3.1.1.13 a valid response matching no transaction: dropped"),
    # §3.1.2.12: rejecting is allowed, not advised; Date means nothing to us.
    "baddate": Outcome((401,), why="§3.1.2.12 Date is ignored; the INVITE is challenged"),
    # §3.2.1: 400 or RFC 2543 matching; we match the RFC 2543 way and answer.
    "badbranch": Outcome((200,), why="§3.2.1 bare z9hG4bK branch: RFC 2543 matching, 200"),
    # §3.3 application layer
    "unksm2": Outcome((400,), why="§3.3.4 a registrar answers 400: To is not a SIP AOR"),
    "bext01": Outcome(
        (420,),
        why="§3.3.5 420 with Unsupported (RFC 3261 §8.2.2.3)",
        header=b"Unsupported: nothingSupportsThis, nothingSupportsThisEither",
    ),
    "invut": Outcome(
        (401,),
        why="§3.3.6 the RFC's 415 is content processing (RFC 3261 "
        "§8.2.3), which comes after authentication: an INVITE without credentials "
        "is challenged first, so nothing about the body leaks to a stranger",
    ),
    "regaut01": Outcome(
        (401,),
        why="§3.3.7 unknown Authorization scheme: ignored, and challenged with Digest",
        header=b"WWW-Authenticate: Digest ",
    ),
    "bcast": Outcome((), why="§3.3.10 a response matching no transaction: dropped"),
    "zeromf": Outcome(
        (200,), why="§3.3.11 483 is for proxies; an endpoint handles Max-Forwards: 0 normally: 200"
    ),
    "cparam01": Outcome((401,), why="§3.3.12 valid REGISTER: challenged"),
    "cparam02": Outcome((401,), why="§3.3.13 valid REGISTER: challenged"),
    "regescrt": Outcome((401,), why="§3.3.14 valid REGISTER: challenged"),
    "sdp01": Outcome(
        (401,),
        why="§3.3.15 the RFC's 406 is content processing (RFC 3261 "
        "§8.2.3), after authentication: the INVITE is challenged first",
    ),
    "inv2543": Outcome((401,), why="§3.4.1 RFC 2543 INVITE accepted over UDP: challenged"),
}

# Streams change a few answers (RFC 3261 §18.3: Content-Length frames each message).
STREAM: dict[str, Outcome] = {
    "clerr": Outcome((), waits=True, why="§3.1.2.2 on a stream the 9999 octets may come"),
    "baddn": Outcome(
        (), waits=True, why="the archived file lacks its empty line: the header block has not ended"
    ),
    "ncl": Outcome((400,), closes=True, why="§3.1.2.3 negative Content-Length: 400, framing lost"),
    "mcl01": Outcome((400,), closes=True, why="§3.3.9 conflicting Content-Length: 400, close"),
    "bigcode": Outcome((), closes=True, why="§3.1.2.19 unreadable status line: dropped, close"),
    "inv2543": Outcome((400,), closes=True, why="§3.4.1 no Content-Length: a stream needs it"),
    "dblreq": Outcome(
        (401, 401, 400),
        closes=True,
        why="§3.1.1.8 on a stream these are two "
        "requests (REGISTER and INVITE, both challenged); the 5 octets left are a header "
        "block with no Content-Length: 400, close",
    ),
}


def outcome(name: str, transport: Transport) -> Outcome:
    if transport == "tcp" and name in STREAM:
        return STREAM[name]
    return RFC.get(name) or SERVER[name]


def test_every_torture_message_has_one_outcome() -> None:
    assert sorted(RFC.keys() | SERVER.keys()) == NAMES
    assert not RFC.keys() & SERVER.keys()
    for name, expected in SERVER.items():
        rfc_status = EXPECTED[name].status  # type: ignore[attr-defined]
        for status in expected.finals:
            # never a parse failure: 400 only where the RFC asks for it, 501 = not served
            assert status == rfc_status or status in (200, 401, 420, 481, 501), name


# --- one server per group of messages that share no transaction --------------------------
_VIA = re.compile(rb"^(?:via|v)[ \t]*:[ \t]*(.*?)\r\n", re.IGNORECASE | re.MULTILINE)


def _transaction_key(data: bytes) -> tuple[bytes, bytes] | None:
    """RFC 3261 §17.2.3 matching on the raw bytes: method and the top Via value."""
    start, _, _ = data.partition(b"\r\n")
    via = _VIA.search(data)
    if start.startswith(b"SIP/") or via is None:
        return None
    return start.split(b" ", 1)[0], via.group(1)


def _generations() -> dict[str, int]:
    """Several torture messages reuse one branch and sent-by (cparam01 and cparam02, for
    one): to the server the second is a retransmission of the first, answered to the first
    one's address. Such messages go to different server processes, and so does each
    transport (the same message over UDP then TCP would match too)."""
    generation: dict[str, int] = {}
    keys: list[set[tuple[bytes, bytes]]] = []
    for name in NAMES:
        key = _transaction_key(message(name))
        index = 0
        while key is not None and index < len(keys) and key in keys[index]:
            index += 1
        if index == len(keys):
            keys.append(set())
        if key is not None:
            keys[index].add(key)
        generation[name] = index
    return generation


GENERATION = _generations()


class Servers:
    """Started on first use, checked and stopped at the end of the module."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.running: dict[tuple[Transport, int], tuple[ServerProcess, Ports]] = {}

    def get(self, transport: Transport, generation: int) -> Ports:
        key = (transport, generation)
        if key not in self.running:
            folder = self.root / f"{transport}{generation}"
            ports = Ports()
            config = torture_config(folder / "config", ports)
            self.running[key] = (ServerProcess(config, folder / "state").start(), ports)
        return self.running[key][1]

    def stop_all(self) -> None:
        """Probe each server, then stop every one of them even if a check fails."""
        failures: list[str] = []
        for server, ports in self.running.values():
            try:
                if not (answers_options("udp", ports.udp) and answers_options("tcp", ports.tcp)):
                    failures.append(f"no 200 to OPTIONS after the corpus:\n{server.log}")
            finally:
                try:
                    server.stop()  # asserts that no Traceback was logged
                except AssertionError as error:
                    failures.append(str(error))
        assert not failures, "\n".join(failures)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    started = Servers(tmp_path_factory.mktemp("torture"))
    try:
        yield started
    finally:
        started.stop_all()


def send_torture(transport: Transport, port: int, data: bytes, expected: Outcome) -> Exchange:
    """Send ``data`` from a fresh socket or connection; collect what the server answers."""
    deadline = time.monotonic() + DEADLINE
    if transport == "udp":
        udp = UdpPeer(port)
        try:
            udp.send(data)
            exchange = udp.barrier(deadline)
            if not expected.finals:
                exchange.responses += udp.quiet(QUIET)
            return exchange
        finally:
            udp.close()
    tcp = TcpPeer(port)
    try:
        tcp.send(data)
        if expected.closes:
            return tcp.until_closed(deadline)
        if expected.waits:
            exchange = Exchange(tcp.quiet(QUIET))
            exchange.closed = tcp.closed
            return exchange
        exchange = tcp.barrier(deadline)
        if not expected.finals:
            exchange.responses += tcp.quiet(QUIET)
        return exchange
    finally:
        tcp.close()


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("name", NAMES)
def test_torture_message(servers: Servers, name: str, transport: Transport) -> None:
    ports = servers.get(transport, GENERATION[name])
    expected = outcome(name, transport)
    port = ports.udp if transport == "udp" else ports.tcp
    got = send_torture(transport, port, message(name), expected)
    assert got.finals == list(expected.finals), (expected.why, got.responses)
    if expected.finals:
        # RFC 3261 §8.2.6.2: the answer carries the request's Call-ID as received
        first = next(r for r in got.responses if status_of(r) >= 200)
        sent_call_id = call_id_of(message(name))
        if sent_call_id is not None:
            assert call_id_of(first) == sent_call_id
        assert b"\r\n" + expected.header in first.split(b"\r\n\r\n")[0], expected.why
    if transport == "tcp":
        assert got.closed == expected.closes, expected.why
    if not expected.closes and not expected.waits:
        assert got.probe_answered, f"no 200 to OPTIONS after {name}: {got}"


def test_server_survives_the_whole_corpus(tmp_path: Path) -> None:
    """Every message on both transports to one server, back to back; then OPTIONS."""
    ports = Ports()
    config = torture_config(tmp_path / "config", ports)
    with ServerProcess(config, tmp_path / "state") as server:
        for transport in TRANSPORTS:
            port = ports.udp if transport == "udp" else ports.tcp
            for name in NAMES:
                send_torture(transport, port, message(name), outcome(name, transport))
        assert answers_options("udp", ports.udp), server.log
        assert answers_options("tcp", ports.tcp), server.log
    # leaving the block stops the server and asserts that no Traceback was logged


# --- random mutations of valid messages ------------------------------------------------
FUZZ_SEED = int(os.environ.get("SWITCHBOARD_FUZZ_SEED", "4475"))
FUZZ_COUNT = int(os.environ.get("SWITCHBOARD_FUZZ_COUNT", "10000"))
CHUNK = 100  # messages between two liveness probes
TCP_SHARE = 20  # of each chunk, sent over TCP connections
MESSAGES_PER_CONNECTION = 10
UDP_WINDOW = 96 * 1024  # octets sent before waiting for the server to catch up
# RSS is compared with its value after this many mutations, once the allocator has seen the
# largest shapes (60 kB values, thousands of header lines): it then plateaus (measured
# ~1.4x by 10,000 and ~1.8x from 25,000 on), while Python's own heap stays flat.
RSS_BASELINE_AFTER = 2_000

_SDP = (
    b"v=0\r\no=alice 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n"
)


# An endpoint without auth, so that mutated REGISTERs reach the registrar itself; and the
# shortest T1 Asterisk allows, so that finished transactions are forgotten after 64*T1 =
# 6.4 s instead of 32 s: the RSS check then sees a leak, not the RFC's retention window.
FUZZ_PJSIP = """
[system]
type=system
timer_t1=100
[fuzz]
type=endpoint
context=from-internal
aors=fuzz
[fuzz]
type=aor
max_contacts=3
remove_existing=yes
"""


def _request(
    method: str, extra: str = "", body: bytes = b"", to_tag: str = "", user: str = "alice"
) -> bytes:
    to = "101" if user == "alice" else user
    head = (
        f"{method} sip:{to}@127.0.0.1 SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 127.0.0.1:5062;rport;branch=z9hG4bK-fuzz-seed\r\n"
        "Max-Forwards: 70\r\n"
        f'From: "Someone" <sip:{user}@127.0.0.1>;tag=a1\r\n'
        f"To: <sip:{to}@127.0.0.1>{to_tag}\r\n"
        "Call-ID: fuzz-seed@127.0.0.1\r\n"
        f"CSeq: 7 {method}\r\n"
        "Contact: <sip:alice@127.0.0.1:5062;transport=udp>;expires=3600\r\n"
        f"{extra}Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


FUZZ_SEEDS: list[bytes] = [
    *(message(name) for name in NAMES if EXPECTED[name].outcome in ("valid", "server")),  # type: ignore[attr-defined]
    _request("OPTIONS", "Accept: application/sdp\r\n"),
    _request("REGISTER", "Expires: 60\r\nSupported: path, outbound\r\n"),
    _request(
        "REGISTER",
        'Authorization: Digest username="alice", realm="asterisk", nonce="MTIzNDU2.abc", '
        'uri="sip:127.0.0.1", response="0123456789abcdef0123456789abcdef", algorithm=MD5, '
        'qop=auth, nc=00000001, cnonce="c0ffee", opaque="x"\r\n',
    ),
    _request("REGISTER", "Contact: *\r\nExpires: 0\r\n"),
    _request("REGISTER", "Expires: 120\r\n", user="fuzz"),
    _request("REGISTER", "Contact: *\r\nExpires: 0\r\n", user="fuzz"),
    _request(
        "REGISTER",
        'Contact: "Desk" <sip:fuzz@[::1]:5070;transport=tcp;ob>;expires=0;q=0.5;'
        '+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>", '
        "<sips:fuzz@127.0.0.1:5071>;expires=30, tel:+15551234\r\nExpires: 7200\r\n",
        user="fuzz",
    ),
    _request("INVITE", "Content-Type: application/sdp\r\n", _SDP),
    _request("ACK", "", b"", ";tag=t1"),
    _request("CANCEL"),
    _request("BYE", "", b"", ";tag=t1"),
    _request("INFO", "Content-Type: application/dtmf-relay\r\n", b"Signal=5\r\nDuration=160\r\n"),
    _request("SUBSCRIBE", "Event: message-summary\r\nExpires: 3600\r\n"),
    (
        b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK-none\r\n"
        b"From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: r@x\r\n"
        b"CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    ),
]


def _fresh(seed: bytes, n: int) -> bytes:
    """``seed`` with a branch of its own, so that it is a new transaction, not a retransmission
    of an earlier mutation of the same seed."""
    return seed.replace(b"z9hG4bK", b"z9hG4bK%dx" % n, 1)


def _send_datagrams(udp: UdpPeer, messages: list[bytes], deadline: float) -> bool:
    """Send ``messages`` as datagrams, waiting for an OPTIONS probe's answer whenever
    ``UDP_WINDOW`` octets are in flight, so that the server's socket buffer never overflows
    and every mutation is really read. False when a probe went unanswered."""
    in_flight = 0
    for data in messages:
        if in_flight + len(data) > UDP_WINDOW:
            if not udp.barrier(deadline).probe_answered:
                return False
            in_flight = 0
        udp.send(data)
        in_flight += len(data)
    return True


def _send_stream_chunk(port: int, messages: list[bytes], deadline: float) -> None:
    """Send ``messages`` over TCP, a new connection every few, reconnecting whenever the
    server closes one; each connection ends with a half-close, and the server must then
    close its side before ``deadline`` (it read everything and did not stall)."""
    for start in range(0, len(messages), MESSAGES_PER_CONNECTION):
        tcp = TcpPeer(port)
        try:
            for data in messages[start : start + MESSAGES_PER_CONNECTION]:
                if not tcp.send(data):
                    tcp.close()
                    tcp = TcpPeer(port)
                    tcp.send(data)
            with contextlib.suppress(OSError):
                tcp.sock.shutdown(socket.SHUT_WR)
            assert tcp.until_closed(deadline).closed, "the server kept a half-closed connection"
        finally:
            tcp.close()


def test_server_survives_random_mutations(tmp_path: Path) -> None:
    """FUZZ_COUNT seeded mutations, a fifth over TCP; the server answers an OPTIONS after
    every chunk of them, at the end on both transports, its RSS stays within 2x, and it
    logs no Traceback. Reproduce a failure with SWITCHBOARD_FUZZ_SEED (and _COUNT)."""
    rng = random.Random(FUZZ_SEED)
    ports = Ports()
    config = torture_config(tmp_path / "config", ports, FUZZ_PJSIP)
    with ServerProcess(config, tmp_path / "state") as server:
        assert server.process is not None
        process = psutil.Process(server.process.pid)
        udp = UdpPeer(ports.udp)
        try:
            baseline = 0
            for first in range(0, FUZZ_COUNT, CHUNK):
                batch = [
                    mutate(rng, _fresh(rng.choice(FUZZ_SEEDS), first + i)) for i in range(CHUNK)
                ]
                deadline = time.monotonic() + DEADLINE
                try:
                    answered = _send_datagrams(udp, batch[TCP_SHARE:], deadline)
                    _send_stream_chunk(ports.tcp, batch[:TCP_SHARE], deadline)
                    answered = answered and udp.barrier(deadline).probe_answered
                    assert answered, "no 200 to OPTIONS\n" + server.log[-5000:]
                except AssertionError as failure:
                    saved = tmp_path / "last-chunk.txt"
                    saved.write_text("\n".join(map(repr, batch)))
                    failure.add_note(
                        f"mutations {first}..{first + CHUNK - 1} of seed {FUZZ_SEED} "
                        f"(TCP the first {TCP_SHARE}) are in {saved}"
                    )
                    raise
                if first in (0, RSS_BASELINE_AFTER):
                    baseline = process.memory_info().rss
            assert answers_options("udp", ports.udp), server.log[-5000:]
            assert answers_options("tcp", ports.tcp), server.log[-5000:]
            rss = process.memory_info().rss
            assert rss < 2 * baseline, f"RSS grew from {baseline} to {rss} bytes"
        finally:
            udp.close()
    # leaving the block stops the server and asserts that no Traceback was logged
