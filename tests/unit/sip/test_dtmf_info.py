"""SIP INFO dtmf-relay bodies give a digit; anything else gives none."""

from __future__ import annotations

from switchboard.sip.dtmf_info import dtmf_relay_digit
from switchboard.sip.message import parse_datagram


def info(content_type: str, body: bytes) -> bytes:
    return (
        b"INFO sip:pbx SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKi\r\n"
        b"From: <sip:bob@pbx>;tag=1\r\nTo: <sip:101@pbx>;tag=2\r\nCall-ID: c\r\nCSeq: 3 INFO\r\n"
        b"Content-Type: "
        + content_type.encode()
        + b"\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


def test_signal_lines_give_digits() -> None:
    relay = "application/dtmf-relay"
    assert dtmf_relay_digit(parse_datagram(info(relay, b"Signal=5\r\nDuration=160\r\n"))) == "5"  # type: ignore[arg-type]
    assert dtmf_relay_digit(parse_datagram(info(relay, b"Signal= #\r\n"))) == "#"  # type: ignore[arg-type]
    assert dtmf_relay_digit(parse_datagram(info(relay, b"Signal=55\r\n"))) is None  # type: ignore[arg-type]
    assert dtmf_relay_digit(parse_datagram(info("application/json", b"Signal=5"))) is None  # type: ignore[arg-type]
