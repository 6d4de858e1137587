"""Fuzzing: odd extension headers never crash a session; the UAS answers, the UAC carries on."""

from __future__ import annotations

import contextlib

from dialog_support import PHONE, Host, config, reply, request_text
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_session_uac import uac

from switchboard.sip.errors import RemoteProtocolError, SipError
from switchboard.sip.message import parse_datagram
from switchboard.sip.reason import parse_reason
from switchboard.sip.session import parse_rack
from switchboard.sip.session_timer import SessionExpires
from switchboard.sip.session_uas import ServerSession
from switchboard.sip.transaction.events import RequestReceived, ResponseReceived

VALUE = st.text(alphabet=' \t;=,"<>:0123456789abcdefrsqtuc.-\u00b2\u0663\u00e9', max_size=40)
NAMES = st.sampled_from(
    ["Session-Expires", "Min-SE", "Require", "Supported", "RSeq", "RAck", "Reason", "Allow"]
)
HEADERS = st.lists(st.tuples(NAMES, VALUE), max_size=4)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(VALUE)
def test_small_parsers_raise_only_protocol_errors(value: str) -> None:
    for parser in (SessionExpires.parse, parse_reason):
        with contextlib.suppress(RemoteProtocolError):
            parser(value)
    parse_rack(value)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(HEADERS, st.sampled_from(["yes", "no", "required", "peer_supported"]))
def test_uas_answers_any_invite(headers: list[tuple[str, str]], rel100: str) -> None:
    lines = [f"{name}: {value.strip()}" for name, value in headers if value.strip()]
    try:
        invite = request_text(extra=lines, body=b"v=0\r\n")
        invite.validate()
    except SipError:
        return
    host = Host()
    try:
        session = ServerSession(
            RequestReceived(("k", "INVITE"), invite, PHONE),
            host=host,
            config=config(rel100=rel100),
            local_tag="t",
            random=lambda: 0.5,
        )
    except RemoteProtocolError as error:
        assert 400 <= error.status < 500
        return
    session.ring(0.0, 183, b"v=0\r\n")
    session.accept(0.1, b"v=0\r\n")
    prack = request_text("PRACK", to_tag="t", seq=2, extra=lines)
    session.receive(RequestReceived(("p", "PRACK"), prack, PHONE), 0.2)
    update = request_text("UPDATE", to_tag="t", seq=3, extra=lines)
    session.receive(RequestReceived(("u", "UPDATE"), update, PHONE), 0.3)
    while (deadline := session.next_deadline()) is not None and deadline < 100_000:
        session.handle_timer(deadline)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(HEADERS, st.sampled_from([180, 183, 200, 422, 486]))
def test_uac_survives_any_response(headers: list[tuple[str, str]], status: int) -> None:
    call, _ = uac()
    try:
        response = reply(call.request, status, extra=[(n, v.strip()) for n, v in headers])
        response = parse_datagram(response.serialize())  # type: ignore[assignment]
        response.validate()
    except SipError:
        return
    call.receive(ResponseReceived(call.key, response, PHONE), 0.1)  # type: ignore[arg-type]
    call.receive(ResponseReceived(call.key, reply(call.request, 200), PHONE), 0.2)  # type: ignore[arg-type]
    while (deadline := call.next_deadline()) is not None and deadline < 100_000:
        call.handle_timer(deadline)
