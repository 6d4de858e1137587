"""TCP specifics: RFC 5626 keep-alives, several messages on one connection, framing errors."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from tests.e2e.server import Ports, ServerProcess, reference_config

pytestmark = pytest.mark.e2e

OPTIONS = (
    "OPTIONS sip:127.0.0.1 SIP/2.0\r\n"
    "Via: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bK{n}\r\n"
    "From: <sip:probe@127.0.0.1>;tag={n}\r\n"
    "To: <sip:127.0.0.1>\r\n"
    "Call-ID: stream-{n}\r\n"
    "CSeq: 1 OPTIONS\r\n"
    "Max-Forwards: 70\r\n"
    "Content-Length: 0\r\n\r\n"
)


def read_until(sock: socket.socket, marker: bytes) -> bytes:
    """Bytes until ``marker``, or what came before the peer closed (or reset) the socket."""
    data = b""
    while marker not in data:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data


def options_over_new_connection(port: int, n: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        try:
            sock.sendall(OPTIONS.format(n=n).encode())
        except (BrokenPipeError, ConnectionResetError):
            return b""
        return read_until(sock, b"\r\n\r\n")


def test_keepalive_pipelining_and_framing_errors(tmp_path: Path):
    ports = Ports()
    config = reference_config(tmp_path / "config", ports)
    with (
        ServerProcess(config, tmp_path / "state"),
        socket.create_connection(("127.0.0.1", ports.tcp), timeout=5) as sock,
    ):
        sock.sendall(b"\r\n\r\n")
        assert sock.recv(16) == b"\r\n"
        sock.sendall((OPTIONS.format(n=1) + OPTIONS.format(n=2)).encode())
        answers = read_until(sock, b"Call-ID: stream-2")
        answers += read_until(sock, b"\r\n\r\n") if not answers.endswith(b"\r\n\r\n") else b""
        assert answers.count(b"SIP/2.0 200 OK") == 2
        broken = OPTIONS.format(n=3).replace("Content-Length: 0", "Content-Length: -5")
        sock.sendall(broken.encode())
        reply = read_until(sock, b"\r\n\r\n")
        assert reply.startswith(b"SIP/2.0 400 ")
        assert read_until(sock, b"never") == b"", "the connection is closed after a framing error"


def test_connections_per_address_are_limited(tmp_path: Path):
    ports = Ports()
    config = reference_config(tmp_path / "config", ports)
    (config / "switchboard.conf").write_text("[security]\nmax_connections=3\n")
    with ServerProcess(config, tmp_path / "state"):
        kept = [socket.create_connection(("127.0.0.1", ports.tcp), timeout=5) for _ in range(3)]
        try:
            for n, sock in enumerate(kept):
                sock.sendall(OPTIONS.format(n=10 + n).encode())
                assert read_until(sock, b"\r\n\r\n").startswith(b"SIP/2.0 200 OK")
            assert options_over_new_connection(ports.tcp, 20) == b"", "the fourth is closed"
        finally:
            for sock in kept:
                sock.close()
        deadline = time.monotonic() + 10
        while not options_over_new_connection(ports.tcp, 30).startswith(b"SIP/2.0 200 OK"):
            assert time.monotonic() < deadline, "a slot frees up once a connection closes"
            time.sleep(0.05)
