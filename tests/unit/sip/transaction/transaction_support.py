"""Builders shared by the transaction tests: messages as they arrive off the wire."""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from switchboard.sip.message import SipRequest, SipResponse, make_response, parse_datagram
from switchboard.sip.peer import Peer
from switchboard.sip.transaction import Event, TransactionLayer

UDP = Peer("udp", "192.0.2.10", 5060)
TCP = Peer("tcp", "192.0.2.10", 5060, connection_id=7)
SERVER = Peer("udp", "198.51.100.1", 5060)


def make_request(
    method: str = "OPTIONS",
    *,
    branch: str | None = "z9hG4bKabc",
    seq: int = 1,
    cseq_method: str | None = None,
    via: str = "SIP/2.0/UDP client.example.com:5060",
    uri: str = "sip:bob@example.com",
    from_tag: str = "ft1",
    to_tag: str | None = None,
    call_id: str = "call-1@client",
    extra: Iterable[str] = (),
) -> SipRequest:
    """A request parsed from bytes, as the transport would hand it over."""
    lines = [
        f"{method} {uri} SIP/2.0",
        f"Via: {via}" + (f";branch={branch}" if branch else ""),
        "Max-Forwards: 70",
        f"From: <sip:alice@example.com>;tag={from_tag}",
        f"To: <{uri}>" + (f";tag={to_tag}" if to_tag else ""),
        f"Call-ID: {call_id}",
        f"CSeq: {seq} {cseq_method or method}",
        *extra,
        "Content-Length: 0",
        "",
        "",
    ]
    message = parse_datagram("\r\n".join(lines).encode())
    assert isinstance(message, SipRequest)
    return message


def wire(message: SipRequest | SipResponse) -> SipRequest | SipResponse:
    """``message`` serialised and parsed again, as a peer would receive it."""
    return parse_datagram(message.serialize())


def respond(request: SipRequest, status: int, to_tag: str | None = "tt1") -> SipResponse:
    """A response to ``request`` as it arrives off the wire (no To tag on 100)."""
    response = wire(make_response(request, status, to_tag=None if status == 100 else to_tag))
    assert isinstance(response, SipResponse)
    return response


def new_layer(**options: object) -> TransactionLayer:
    """A layer whose branches are b1, b2, ... (deterministic entropy)."""
    counter = itertools.count(1)
    return TransactionLayer(lambda: f"b{next(counter)}", **options)  # type: ignore[arg-type]


def drain_events(layer: TransactionLayer) -> list[Event]:
    """Every pending event, oldest first."""
    events = []
    while (event := layer.next_event()) is not None:
        events.append(event)
    return events


def summary(data: bytes) -> str | int:
    """A sent datagram as its method (requests) or status (responses)."""
    message = parse_datagram(data)
    return message.method if isinstance(message, SipRequest) else message.status


def sent(layer: TransactionLayer) -> list[str | int]:
    """Drain the outbox into method/status summaries."""
    return [summary(data) for data, _ in layer.datagrams_to_send()]


def run_clock(
    layer: TransactionLayer, until: float
) -> list[tuple[float, list[str | int], list[Event]]]:
    """Advance a fake clock from deadline to deadline up to ``until``; what happened when."""
    timeline = []
    while (deadline := layer.next_deadline()) is not None and deadline <= until:
        layer.handle_timer(deadline)
        timeline.append((deadline, sent(layer), drain_events(layer)))
    return timeline
