"""Builders shared by the dialog and session tests: a recording host and wire messages."""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from switchboard.sip.message import (
    SipMessage,
    SipRequest,
    SipResponse,
    make_response,
    parse_datagram,
)
from switchboard.sip.peer import Peer
from switchboard.sip.session import SessionConfig
from switchboard.sip.session_timer import SessionTimerConfig
from switchboard.sip.transaction.events import TransactionKey

PHONE = Peer("udp", "192.0.2.20", 5060)
PBX_VIA = "SIP/2.0/UDP 198.51.100.1:5060"
PBX_CONTACT = "sip:pbx@198.51.100.1:5060"


def config(
    rel100: str = "yes", timers: str = "yes", min_se: int = 90, sess_expires: int = 1800
) -> SessionConfig:
    """A session configuration as an endpoint's options would give it."""
    return SessionConfig(
        contact=PBX_CONTACT,
        via=PBX_VIA,
        rel100=rel100,
        session_timers=SessionTimerConfig(timers, min_se, sess_expires),
    )


def wire(message: SipMessage) -> SipRequest | SipResponse:
    """``message`` serialised and parsed again, as the far end would see it."""
    return parse_datagram(message.serialize())


def wire_request(message: SipMessage) -> SipRequest:
    request = wire(message)
    assert isinstance(request, SipRequest)
    return request


def wire_response(message: SipMessage) -> SipResponse:
    response = wire(message)
    assert isinstance(response, SipResponse)
    return response


class Host:
    """A TransactionSender that records what it is asked to send (keys k1, k2, ...)."""

    def __init__(self) -> None:
        self.requests: list[tuple[TransactionKey, SipRequest]] = []
        self.responses: list[tuple[TransactionKey, SipResponse]] = []
        self.stateless: list[SipRequest | SipResponse] = []
        self.accepts_responses = True
        self._keys = itertools.count(1)
        self._branches = itertools.count(1)

    def new_branch(self) -> str:
        return f"z9hG4bKack{next(self._branches)}"

    def send_request(self, request: SipRequest, peer: Peer, now: float) -> TransactionKey:
        key = (f"k{next(self._keys)}", request.method)
        if request.branch is None:
            request.headers._index["via"][0] += f";branch=z9hG4bK{key[0]}"
        self.requests.append((key, wire_request(request)))
        return key

    def send_response(self, key: TransactionKey, response: SipResponse, now: float) -> bool:
        self.responses.append((key, wire_response(response)))
        return self.accepts_responses

    def send_stateless(self, message: SipMessage, peer: Peer) -> None:
        self.stateless.append(wire(message))

    def last_request(self, method: str | None = None) -> tuple[TransactionKey, SipRequest]:
        """The last request sent (of ``method``)."""
        for key, request in reversed(self.requests):
            if method is None or request.method == method:
                return key, request
        raise AssertionError(f"no {method} sent")

    def statuses(self) -> list[int]:
        return [response.status for _, response in self.responses]

    def methods(self) -> list[str]:
        return [request.method for _, request in self.requests]


def request_text(
    method: str = "INVITE",
    *,
    uri: str = "sip:101@198.51.100.1",
    call_id: str = "call-1@phone",
    from_tag: str = "phone-tag",
    to_tag: str | None = None,
    seq: int = 1,
    cseq_method: str | None = None,
    contact: str | None = "sip:bob@192.0.2.20:5060",
    branch: str = "z9hG4bKphone1",
    extra: Iterable[str] = (),
    body: bytes = b"",
) -> SipRequest:
    """A request from the phone as it arrives off the wire."""
    lines = [
        f"{method} {uri} SIP/2.0",
        f"Via: SIP/2.0/UDP 192.0.2.20:5060;branch={branch}",
        "Max-Forwards: 70",
        f'From: "Bob" <sip:bob@example.com>;tag={from_tag}',
        "To: <sip:101@example.com>" + (f";tag={to_tag}" if to_tag else ""),
        f"Call-ID: {call_id}",
        f"CSeq: {seq} {cseq_method or method}",
    ]
    if contact is not None:
        lines.append(f"Contact: <{contact}>")
    lines.extend(extra)
    if body:
        lines.append("Content-Type: application/sdp")
    lines += [f"Content-Length: {len(body)}", "", ""]
    return _parse("\r\n".join(lines).encode() + body)


def _parse(data: bytes) -> SipRequest:
    message = parse_datagram(data)
    assert isinstance(message, SipRequest)
    return message


def reply(
    request: SipRequest,
    status: int,
    *,
    to_tag: str | None = "callee-tag",
    contact: str | None = "sip:alice@192.0.2.30:5062",
    extra: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
) -> SipResponse:
    """A response from the far end to a request we sent, as it arrives off the wire."""
    headers = list(extra)
    if contact is not None:
        headers.insert(0, ("Contact", f"<{contact}>"))
    if body:
        headers.append(("Content-Type", "application/sdp"))
    response = make_response(request, status, to_tag=to_tag, headers=headers, body=body)
    return wire_response(response)
