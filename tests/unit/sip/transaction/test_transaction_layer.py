"""The layer's API: branches, misuse by the TU, stateless sends, timers heap, make_ack."""

from __future__ import annotations

import pytest
from transaction_support import TCP, UDP, drain_events, make_request, new_layer, respond, sent

from switchboard.sip.errors import LocalProtocolError
from switchboard.sip.headers import SipHeaders
from switchboard.sip.message import SipRequest, SipResponse, make_response, parse_datagram
from switchboard.sip.peer import Peer
from switchboard.sip.transaction import (
    MAGIC_COOKIE,
    Input,
    RequestReceived,
    State,
    TransactionFailed,
    TransactionTerminated,
)
from switchboard.sip.transaction.client_invite import make_ack, top_via_value
from switchboard.sip.transaction.layer import _add_branch
from switchboard.sip.transaction.server_invite import ServerInviteTransaction
from switchboard.sip.transaction.server_non_invite import ServerNonInviteTransaction


def test_peer_reliability_follows_the_transport() -> None:
    assert not UDP.reliable
    assert all(Peer(t, "h", 1).reliable for t in ("tcp", "tls", "ws", "wss"))  # type: ignore[arg-type]
    assert TCP.connection_id == 7


def test_send_request_adds_a_cookie_branch_from_injected_entropy() -> None:
    layer = new_layer()
    request = make_request("OPTIONS", branch=None, via="SIP/2.0/UDP pbx.example.com")
    key = layer.send_request(request, UDP, 0.0)
    assert key == (f"{MAGIC_COOKIE}b1", "OPTIONS")
    ((data, peer),) = layer.datagrams_to_send()
    assert peer == UDP
    assert b"Via: SIP/2.0/UDP pbx.example.com;branch=z9hG4bKb1\r\n" in data
    assert data.startswith(b"OPTIONS sip:bob@example.com SIP/2.0\r\nVia:")
    assert layer.new_branch() == f"{MAGIC_COOKIE}b2"


def test_send_request_keeps_an_existing_branch() -> None:
    layer = new_layer()
    key = layer.send_request(make_request("MESSAGE", branch="z9hG4bKmine"), UDP, 0.0)
    assert key == ("z9hG4bKmine", "MESSAGE")


def test_add_branch_touches_only_the_first_via_value() -> None:
    assert _add_branch("SIP/2.0/UDP a , SIP/2.0/UDP b;branch=z9hG4bKx", "z9hG4bKn") == (
        "SIP/2.0/UDP a;branch=z9hG4bKn, SIP/2.0/UDP b;branch=z9hG4bKx"
    )


def test_tu_misuse_raises_local_protocol_error() -> None:
    layer = new_layer()
    with pytest.raises(LocalProtocolError, match="ACK"):
        layer.send_request(make_request("ACK"), UDP, 0.0)
    no_via = SipRequest("OPTIONS", "sip:a@b", SipHeaders.from_pairs([("CSeq", "1 OPTIONS")]))
    with pytest.raises(LocalProtocolError, match="Via"):
        layer.send_request(no_via, UDP, 0.0)
    layer.send_request(make_request("OPTIONS"), UDP, 0.0)
    with pytest.raises(LocalProtocolError, match="already exists"):
        layer.send_request(make_request("OPTIONS"), UDP, 0.0)


def test_send_response_to_unknown_or_finished_transaction_is_refused() -> None:
    layer = new_layer()
    request = make_request("OPTIONS")
    assert not layer.send_response(("nope",), make_response(request, 200), 0.0)
    layer.receive(request, TCP, 0.0)
    (event,) = drain_events(layer)
    assert layer.send_response(event.key, make_response(request, 200, to_tag="t"), 0.0)
    assert layer.state_of(event.key) is None  # TCP: Timer J is zero
    assert not layer.send_response(event.key, make_response(request, 200, to_tag="t"), 0.0)
    assert sent(layer) == [200]


def test_send_stateless_queues_bytes() -> None:
    layer = new_layer()
    ack = make_request("ACK", branch="z9hG4bKack", to_tag="t")
    layer.send_stateless(ack, UDP)
    assert layer.datagrams_to_send() == [(ack.serialize(), UDP)]
    assert layer.datagrams_to_send() == []
    assert layer.next_event() is None and layer.next_deadline() is None and len(layer) == 0


def test_stopped_timers_are_skipped_lazily() -> None:
    layer = new_layer()
    request = make_request("OPTIONS", branch=None)
    key = layer.send_request(request, UDP, 0.0)
    assert layer.next_deadline() == 0.5  # Timer E
    layer.receive(respond(request, 200), UDP, 0.1)
    assert layer.next_deadline() == 5.1  # E and F entries dropped, Timer K remains
    layer.handle_timer(5.0)
    assert layer.state_of(key) is State.COMPLETED
    layer.handle_timer(5.1)
    assert layer.state_of(key) is None and layer.next_deadline() is None


def test_a_stale_timer_entry_does_not_fire() -> None:
    layer = new_layer()
    layer.send_request(make_request("OPTIONS", branch=None), UDP, 0.0)
    transaction = next(iter(layer._clients.values()))
    transaction.fire(Input.TIMER_E, seq=999, now=0.5)
    assert sent(layer) == ["OPTIONS"] and transaction.armed == {Input.TIMER_E, Input.TIMER_F}
    assert "ClientNonInviteTransaction TRYING" in repr(transaction)


def test_every_live_server_state_handles_a_retransmitted_request() -> None:
    for machine in (ServerInviteTransaction, ServerNonInviteTransaction):
        for state in machine.STATES:
            if state is not State.TERMINATED:
                assert (state, Input.RECV_REQUEST) in machine.TRANSITIONS


def test_make_ack_follows_rfc3261_17_1_1_3() -> None:
    invite = make_request(
        "INVITE",
        via="SIP/2.0/UDP pbx.example.com;branch=z9hG4bKtop, SIP/2.0/UDP proxy.example.com",
        branch="z9hG4bKlower",
        seq=7,
        extra=["Route: <sip:p1.example.com;lr>", "Route: <sip:p2.example.com;lr>"],
    )
    assert top_via_value(invite) == "SIP/2.0/UDP pbx.example.com;branch=z9hG4bKtop"
    response = respond(invite, 486, to_tag="callee")
    ack = parse_datagram(make_ack(invite, response).serialize())
    assert isinstance(ack, SipRequest)
    assert ack.method == "ACK" and ack.uri_text == invite.uri_text
    assert ack.headers.fields("via") == ["SIP/2.0/UDP pbx.example.com;branch=z9hG4bKtop"]
    assert ack.cseq == (7, "ACK") and ack.call_id == invite.call_id
    assert ack.from_tag == "ft1" and ack.to_tag == "callee"
    assert ack.headers.fields("route") == ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
    assert ack.headers.get("max-forwards") == "70"


def test_make_ack_copies_only_what_is_there() -> None:
    invite = SipRequest(
        "INVITE",
        "sip:b@example.com",
        SipHeaders.from_pairs([("Via", "SIP/2.0/UDP h;branch=z9hG4bK1"), ("CSeq", "2 INVITE")]),
    )
    response = SipResponse(486, "Busy Here", SipHeaders())
    ack = make_ack(invite, response)
    assert list(ack.headers) == ["via", "cseq"]


def test_transport_failure_fails_the_transactions_bound_to_that_peer() -> None:
    layer = new_layer()
    other = Peer("tcp", "192.0.2.10", 5060, connection_id=8)
    request = make_request("INVITE", branch=None)
    on_tcp = layer.send_request(request, TCP, 0.0)
    on_other = layer.send_request(make_request("OPTIONS", branch=None), other, 0.0)
    incoming = make_request("MESSAGE")
    layer.receive(incoming, TCP, 0.0)
    served = drain_events(layer)[-1].key  # type: ignore[union-attr]
    layer.send_response(served, make_response(incoming, 100), 0.0)
    sent(layer)
    assert layer.transport_failed(TCP, 1.0) == 2
    events = drain_events(layer)
    assert events[0] == TransactionFailed(on_tcp, events[0].response)  # type: ignore[union-attr]
    assert events[0].response.status == 503  # type: ignore[union-attr]
    assert events[2:] == [TransactionFailed(served, None), TransactionTerminated(served)]
    assert layer.state_of(on_other) is State.TRYING and len(layer) == 1
    assert layer.transport_failed(TCP, 2.0) == 0


def test_server_transactions_are_counted_per_source_host_until_they_end() -> None:
    layer = new_layer()
    other = Peer("udp", "192.0.2.99", 5060)
    first = make_request("OPTIONS", branch="z9hG4bK1")
    layer.receive(first, UDP, 0.0)
    layer.receive(make_request("OPTIONS", branch="z9hG4bK2"), UDP, 0.0)
    layer.receive(make_request("OPTIONS", branch="z9hG4bK3"), other, 0.0)
    layer.receive(first, UDP, 0.1)  # a retransmission: no new transaction
    assert layer.servers_per_host == {"192.0.2.10": 2, "192.0.2.99": 1}
    assert layer.has_server(first) and not layer.has_server(make_request(branch="z9hG4bK4"))
    received = [e for e in drain_events(layer) if isinstance(e, RequestReceived)]
    assert len(received) == 3
    for event in received:
        layer.send_response(event.key, make_response(event.request, 200, to_tag="t"), 0.2)
    layer.handle_timer(0.2 + layer.timers.T1 * 64 + 1)  # Timer J: the transactions end
    assert layer.servers_per_host == {}
    assert not layer.has_server(first)


@pytest.mark.parametrize(("method", "status"), [("INVITE", 200), ("INVITE", 486), ("BYE", 200)])
def test_a_server_transaction_lingers_without_its_parsed_messages(method: str, status: int) -> None:
    layer = new_layer(settle=False)  # a settled BYE keeps no object at all (below)
    request = make_request(method)
    layer.receive(request, UDP, 0.0)
    key = next(e.key for e in drain_events(layer) if isinstance(e, RequestReceived))
    assert layer.send_response(key, make_response(request, status, to_tag="t"), 0.0)
    transaction = layer._servers[key]
    assert transaction.state in (State.ACCEPTED, State.COMPLETED)
    assert transaction.last_response is None
    assert (transaction.request.method, list(transaction.request.headers)) == (method, [])
    if status == 200 and method == "INVITE":  # the TU's own 2xx retransmission: sent, not kept
        assert layer.send_response(key, make_response(request, 200, to_tag="t"), 0.5)
        assert transaction.last_response is None
    sent(layer)
    layer.receive(make_request(method), UDP, 1.0)  # a retransmitted request, as before
    assert sent(layer) == ([] if status == 200 and method == "INVITE" else [status])


@pytest.mark.parametrize(("method", "status"), [("INVITE", 200), ("INVITE", 486), ("OPTIONS", 200)])
def test_a_client_transaction_lingers_without_what_it_no_longer_sends(
    method: str, status: int
) -> None:
    layer = new_layer()
    request = make_request(method)
    key = layer.send_request(request, UDP, 0.0)
    layer.receive(respond(request, status), UDP, 0.1)
    transaction = layer._clients[key]
    assert transaction.state in (State.ACCEPTED, State.COMPLETED)
    assert transaction._data == b""  # type: ignore[attr-defined]
    if status == 486:  # Completed re-ACKs from the ACK's own bytes; a failure still reports
        assert transaction.request is request
        return
    assert transaction.last_response is None
    assert (transaction.request.method, list(transaction.request.headers)) == (method, [])
    if method == "INVITE":  # a retransmitted 2xx still reaches the TU
        drain_events(layer)
        layer.receive(respond(request, 200), UDP, 0.2)
        assert [type(event).__name__ for event in drain_events(layer)] == ["ResponseReceived"]
