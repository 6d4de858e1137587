"""A plain-socket SIP peer for end-to-end tests: send raw bytes, read raw responses.

It reads the server's answers with a few regular expressions rather than the server's own
parser, so that a bug in the parser cannot hide a bug in what the server sends.
"""

from __future__ import annotations

import itertools
import re
import socket
import time
from dataclasses import dataclass, field
from typing import Literal

Transport = Literal["udp", "tcp"]

_STATUS = re.compile(rb"\ASIP/2\.0 (\d{3}) ")
_counter = itertools.count(1)


def status_of(response: bytes) -> int:
    match = _STATUS.match(response)
    assert match is not None, f"not a SIP response: {response[:200]!r}"
    return int(match.group(1))


def header_of(head: bytes, *names: bytes) -> bytes | None:
    """The first value of a header field (any of ``names``, lower-case) in a header block.

    Line by line, not one regular expression: the server echoes huge values from fuzzed
    requests, and a backtracking pattern over them took the test a minute per response.
    """
    for line in head.split(b"\r\n")[1:]:
        name, colon, value = line.partition(b":")
        if colon and name.strip(b" \t").lower() in names:
            return value.strip(b" \t")
    return None


def call_id_of(message: bytes) -> bytes | None:
    return header_of(message.split(b"\r\n\r\n", 1)[0], b"call-id", b"i")


def options_request(transport: Transport, local: tuple[str, int], call_id: str) -> bytes:
    """An out-of-dialog OPTIONS to the server, from ``local``, with a fresh branch."""
    host, port = local
    n = next(_counter)
    return (
        f"OPTIONS sip:{host} SIP/2.0\r\n"
        f"Via: SIP/2.0/{transport.upper()} {host}:{port};branch=z9hG4bK-probe-{n}-{call_id}\r\n"
        f"Max-Forwards: 70\r\n"
        f"From: <sip:probe@{host}>;tag=probe{n}\r\n"
        f"To: <sip:{host}>\r\n"
        f"Call-ID: {call_id}\r\n"
        f"CSeq: {n} OPTIONS\r\n"
        f"Accept: application/sdp\r\n"
        f"Content-Length: 0\r\n\r\n"
    ).encode()


class StreamReader:
    """Cuts the server's side of a TCP connection into messages by Content-Length."""

    def __init__(self) -> None:
        self.buffer = b""

    def feed(self, data: bytes) -> list[bytes]:
        self.buffer += data
        messages: list[bytes] = []
        while True:
            self.buffer = self.buffer.lstrip(b"\r\n")
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return messages
            length = header_of(self.buffer[:end], b"content-length", b"l")
            assert length is not None, f"server sent no Content-Length: {self.buffer[:300]!r}"
            total = end + 4 + int(length)
            if len(self.buffer) < total:
                return messages
            messages.append(self.buffer[:total])
            self.buffer = self.buffer[total:]


@dataclass
class Exchange:
    """What came back for one message: responses before the probe's, and the connection."""

    responses: list[bytes] = field(default_factory=list)
    closed: bool = False
    probe_answered: bool = False

    @property
    def finals(self) -> list[int]:
        """Final status codes, retransmissions of the same response counted once."""
        seen: list[bytes] = []
        for response in self.responses:
            if status_of(response) >= 200 and response not in seen:
                seen.append(response)
        return [status_of(response) for response in seen]


class UdpPeer:
    """One UDP socket on 127.0.0.1 talking to the server's UDP port."""

    def __init__(self, server_port: int) -> None:
        self.server = ("127.0.0.1", server_port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        self.sock.bind(("127.0.0.1", 0))

    @property
    def local(self) -> tuple[str, int]:
        host, port = self.sock.getsockname()
        return str(host), int(port)

    def send(self, data: bytes) -> None:
        self.sock.sendto(data, self.server)

    def receive(self, timeout: float) -> bytes | None:
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data, _ = self.sock.recvfrom(70000)
        except TimeoutError:
            return None
        return data

    def barrier(self, deadline: float, *, resend: float = 1.0) -> Exchange:
        """Send an OPTIONS and collect every datagram up to its answer.

        The server reads its socket in order, so an answer to anything sent before the
        probe arrives before the probe's answer: no answer by then means none at all.
        """
        exchange = Exchange()
        call_id = f"probe-{next(_counter)}-{time.monotonic_ns()}"
        probe = options_request("udp", self.local, call_id)
        self.send(probe)
        next_send = time.monotonic() + resend
        while (now := time.monotonic()) < deadline:
            data = self.receive(min(deadline, next_send) - now)
            if data is None:
                if time.monotonic() >= next_send:
                    self.send(probe)
                    next_send = time.monotonic() + resend
                continue
            if call_id_of(data) == call_id.encode():
                if status_of(data) >= 200:
                    exchange.probe_answered = status_of(data) == 200
                    return exchange
                continue
            exchange.responses.append(data)
        return exchange

    def quiet(self, seconds: float) -> list[bytes]:
        """Whatever arrives within ``seconds`` (a bounded wait)."""
        deadline = time.monotonic() + seconds
        got: list[bytes] = []
        while (left := deadline - time.monotonic()) > 0:
            data = self.receive(left)
            if data is not None:
                got.append(data)
        return got

    def close(self) -> None:
        self.sock.close()


class TcpPeer:
    """One TCP connection from 127.0.0.1 to the server's TCP port."""

    def __init__(self, server_port: int, timeout: float = 5) -> None:
        self.sock = socket.create_connection(("127.0.0.1", server_port), timeout=timeout)
        self.reader = StreamReader()
        self.closed = False

    @property
    def local(self) -> tuple[str, int]:
        host, port = self.sock.getsockname()
        return str(host), int(port)

    def send(self, data: bytes) -> bool:
        """Write ``data``; False when the server has already closed the connection."""
        try:
            self.sock.sendall(data)
        except OSError:
            self.closed = True
            return False
        return True

    def read(self, deadline: float) -> list[bytes]:
        """Messages that arrive before ``deadline`` or until the server closes."""
        if self.closed:
            return []
        self.sock.settimeout(max(deadline - time.monotonic(), 0.001))
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return []
        except OSError:
            data = b""
        if not data:
            self.closed = True
            return []
        return self.reader.feed(data)

    def until_closed(self, deadline: float) -> Exchange:
        exchange = Exchange()
        while not self.closed and time.monotonic() < deadline:
            exchange.responses += self.read(deadline)
        exchange.closed = self.closed
        return exchange

    def barrier(self, deadline: float) -> Exchange:
        """Send an OPTIONS on this connection and collect every message up to its answer."""
        exchange = Exchange()
        call_id = f"probe-{next(_counter)}-{time.monotonic_ns()}"
        self.send(options_request("tcp", self.local, call_id))
        while not self.closed and time.monotonic() < deadline:
            for message in self.read(deadline):
                if call_id_of(message) == call_id.encode():
                    if status_of(message) >= 200:
                        exchange.probe_answered = status_of(message) == 200
                        return exchange
                    continue
                exchange.responses.append(message)
        exchange.closed = self.closed
        return exchange

    def quiet(self, seconds: float) -> list[bytes]:
        deadline = time.monotonic() + seconds
        got: list[bytes] = []
        while not self.closed and time.monotonic() < deadline:
            got += self.read(deadline)
        return got

    def close(self) -> None:
        self.sock.close()


def answers_options(transport: Transport, port: int, timeout: float = 10) -> bool:
    """Poll the server with OPTIONS from a fresh socket until it answers 200 or time is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            peer: UdpPeer | TcpPeer = (
                UdpPeer(port) if transport == "udp" else TcpPeer(port, timeout=timeout)
            )
        except OSError:
            time.sleep(0.05)
            continue
        try:
            if peer.barrier(min(deadline, time.monotonic() + 2)).probe_answered:
                return True
        finally:
            peer.close()
    return False
