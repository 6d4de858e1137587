"""Stream framing: Content-Length, keep-alive pings (RFC 5626 §3.5.1), size limits."""

from __future__ import annotations

import pytest

from switchboard.sip.errors import RemoteProtocolError, UnanswerableError
from switchboard.sip.framing import PING, PONG, KeepAliveReceived, SipStreamFramer
from switchboard.sip.message import SipRequest, SipResponse, error_response

OPTIONS = (
    b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n"
    b"From: <sip:c@d>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\n"
    b"Content-Length: 4\r\n\r\nbody"
)


def drain(framer: SipStreamFramer) -> list[object]:
    events: list[object] = []
    while (event := framer.next_event()) is not None:
        events.append(event)
    return events


def test_messages_back_to_back_with_pings_between() -> None:
    framer = SipStreamFramer()
    framer.feed(PING + OPTIONS + PONG + OPTIONS + PING)
    events = drain(framer)
    assert [type(e) for e in events] == [
        KeepAliveReceived,
        SipRequest,
        SipRequest,
        KeepAliveReceived,
    ]
    assert all(e.body == b"body" for e in events if isinstance(e, SipRequest))
    assert framer.buffered == 0


@pytest.mark.parametrize("cut", range(1, 4))
def test_a_ping_split_across_reads(cut: int) -> None:
    framer = SipStreamFramer()
    framer.feed(PING[:cut])
    assert framer.next_event() is None
    framer.feed(PING[cut:])
    assert framer.next_event() == KeepAliveReceived()


def test_a_lone_cr_waits() -> None:
    framer = SipStreamFramer()
    framer.feed(b"\r")
    assert framer.next_event() is None
    framer.feed(b"\n" + OPTIONS)
    assert isinstance(framer.next_event(), SipRequest)


def test_body_arriving_later() -> None:
    framer = SipStreamFramer()
    framer.feed(OPTIONS[:-2])
    assert framer.next_event() is None
    framer.feed(OPTIONS[-2:])
    assert isinstance(framer.next_event(), SipRequest)


def test_a_bad_request_line_is_answered_and_the_stream_goes_on() -> None:
    framer = SipStreamFramer()
    framer.feed(OPTIONS.replace(b"OPTIONS sip:a@b", b"OPTIONS  sip:a@b", 1) + OPTIONS)
    with pytest.raises(RemoteProtocolError) as caught:
        framer.next_event()
    assert caught.value.status == 400 and not framer.broken
    assert error_response(caught.value) is not None
    assert isinstance(framer.next_event(), SipRequest)


def test_responses_frame_too() -> None:
    framer = SipStreamFramer()
    framer.feed(b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n")
    assert isinstance(framer.next_event(), SipResponse)


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (OPTIONS.replace(b"Content-Length: 4\r\n", b""), 400),
        (OPTIONS.replace(b"Content-Length: 4", b"Content-Length: -4"), 400),
        (OPTIONS.replace(b"Content-Length: 4", b"Content-Length: 4000000"), 513),
        (b"SIP/2.0 2000 Huge\r\nContent-Length: 0\r\n\r\n", 400),
    ],
)
def test_framing_errors_break_the_stream(data: bytes, status: int) -> None:
    framer = SipStreamFramer()
    framer.feed(data)
    with pytest.raises(RemoteProtocolError) as caught:
        framer.next_event()
    assert caught.value.status == status
    assert framer.broken
    framer.feed(OPTIONS)
    with pytest.raises(RemoteProtocolError):
        framer.next_event()


def test_header_block_limit() -> None:
    framer = SipStreamFramer(max_header_size=64)
    framer.feed(b"OPTIONS sip:a@b SIP/2.0\r\n" + b"X: y\r\n" * 10)
    with pytest.raises(UnanswerableError) as caught:
        framer.next_event()
    assert caught.value.status == 513
    framer = SipStreamFramer(max_header_size=64)
    framer.feed(OPTIONS)
    with pytest.raises(UnanswerableError):
        framer.next_event()
