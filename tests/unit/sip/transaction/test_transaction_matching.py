"""Matching (RFC 3261 §17.1.3, §17.2.3, §9.2): retransmissions, ACK, CANCEL, RFC 2543."""

from __future__ import annotations

from transaction_support import (
    UDP,
    drain_events,
    make_request,
    new_layer,
    respond,
    run_clock,
    sent,
    wire,
)

from switchboard.sip.message import SipResponse, make_response, parse_datagram
from switchboard.sip.peer import Peer
from switchboard.sip.transaction import (
    AckReceived,
    CancelReceived,
    RequestReceived,
    ResponseReceived,
    State,
    TransactionLayer,
    TransactionTerminated,
)
from switchboard.sip.transaction.client_invite import make_ack, make_cancel


def _receive_new(layer: TransactionLayer, request, peer: Peer = UDP):
    """Feed a request that must create a server transaction; its RequestReceived."""
    layer.receive(request, peer, 0.0)
    events = drain_events(layer)
    assert len(events) == 1 and isinstance(events[0], RequestReceived | CancelReceived)
    return events[0]


# -- retransmitted requests are absorbed --------------------------------------------------


def test_non_invite_retransmissions_absorbed_then_answered_with_last_response() -> None:
    layer = new_layer()
    request = make_request("REGISTER")
    event = _receive_new(layer, request)
    layer.receive(make_request("REGISTER"), UDP, 0.5)
    assert sent(layer) == [] and drain_events(layer) == []
    layer.send_response(event.key, make_response(request, 100), 0.6)
    layer.send_response(event.key, make_response(request, 401, to_tag="t"), 0.7)
    assert sent(layer) == [100, 401]
    for when in (1.5, 3.5, 31.0):
        layer.receive(make_request("REGISTER"), UDP, when)
        assert sent(layer) == [401] and drain_events(layer) == []
    assert run_clock(layer, 100.0) == [(32.7, [], [TransactionTerminated(event.key)])]
    # After Timer J the same branch is a new transaction.
    assert isinstance(_receive_new(layer, make_request("REGISTER")), RequestReceived)


def test_invite_retransmission_resends_last_provisional() -> None:
    layer = new_layer()
    request = make_request("INVITE", extra=["Timestamp: 54.2"])
    event = _receive_new(layer, request)
    (trying,) = layer.datagrams_to_send()
    assert b"Timestamp: 54.2" in trying[0] and trying[1] == UDP
    layer.send_response(event.key, make_response(request, 180, to_tag="t"), 0.1)
    sent(layer)
    layer.receive(make_request("INVITE", extra=["Timestamp: 54.2"]), UDP, 0.5)
    assert sent(layer) == [180] and drain_events(layer) == []


def test_without_100_trying_an_early_retransmission_gets_nothing() -> None:
    layer = new_layer(send_trying=False)
    _receive_new(layer, make_request("INVITE"))
    assert sent(layer) == []
    layer.receive(make_request("INVITE"), UDP, 0.5)
    assert sent(layer) == [] and drain_events(layer) == [] and layer.ignored == 0


def test_same_branch_other_sent_by_or_method_is_another_transaction() -> None:
    layer = new_layer()
    first = _receive_new(layer, make_request("OPTIONS"))
    other_host = make_request("OPTIONS", via="SIP/2.0/UDP other.example.com:5060")
    other_port = make_request("OPTIONS", via="SIP/2.0/UDP client.example.com:5070")
    other_method = make_request("INFO")
    keys = {first.key}
    for request in (other_host, other_port, other_method):
        keys.add(_receive_new(layer, request).key)
    assert len(keys) == 4 == len(layer)
    # sent-by host compares case-insensitively
    layer.receive(make_request("OPTIONS", via="SIP/2.0/UDP CLIENT.example.com:5060"), UDP, 1)
    assert drain_events(layer) == []


# -- responses ------------------------------------------------------------------------------


def test_responses_match_on_branch_and_cseq_method_only() -> None:
    layer = new_layer()
    request = make_request("INVITE", branch=None)
    key = layer.send_request(request, UDP, 0.0)
    sent(layer)
    wrong_method = wire(make_response(make_request("BYE", branch=key[0]), 200, to_tag="t"))
    unknown_branch = respond(make_request("INVITE", branch="z9hG4bKnope"), 200)
    no_via = parse_datagram(
        b"SIP/2.0 200 OK\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\n"
        b"CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    )
    for stray in (wrong_method, unknown_branch, no_via):
        layer.receive(stray, UDP, 0.1)
    assert drain_events(layer) == [] and layer.ignored == 3
    assert layer.state_of(key) is State.CALLING
    ringing = respond(request, 180)
    layer.receive(ringing, UDP, 0.2)
    assert drain_events(layer) == [ResponseReceived(key, ringing, UDP)]


def test_2xx_retransmissions_go_to_the_tu_in_accepted_then_are_dropped() -> None:
    layer = new_layer()
    request = make_request("INVITE", branch=None)
    key = layer.send_request(request, UDP, 0.0)
    ok = respond(request, 200)
    for when in (0.1, 0.6, 1.6):
        layer.receive(ok, UDP, when)
        assert drain_events(layer) == [ResponseReceived(key, ok, UDP)]
    assert layer.state_of(key) is State.ACCEPTED
    forked = respond(request, 200, to_tag="other-fork")
    layer.receive(forked, UDP, 2.0)
    assert drain_events(layer) == [ResponseReceived(key, forked, UDP)]
    assert sent(layer) == ["INVITE"]  # the transaction never ACKs a 2xx
    run_clock(layer, 100.0)
    layer.receive(ok, UDP, 40.0)
    assert drain_events(layer) == [] and layer.ignored == 1


def test_invite_server_in_accepted_absorbs_invites_and_sends_tu_2xx() -> None:
    layer = new_layer()
    request = make_request("INVITE")
    event = _receive_new(layer, request)
    ok = make_response(request, 200, to_tag="t")
    layer.send_response(event.key, ok, 0.1)
    assert sent(layer) == [100, 200]
    layer.receive(make_request("INVITE"), UDP, 0.5)
    assert sent(layer) == [] and drain_events(layer) == []
    assert layer.send_response(event.key, ok, 0.6)  # the TU core retransmits its 2xx
    assert sent(layer) == [200]
    assert not layer.send_response(event.key, make_response(request, 180), 0.7)
    assert not layer.send_response(event.key, make_response(request, 486), 0.7)
    assert sent(layer) == []


# -- ACK ------------------------------------------------------------------------------------


def test_ack_for_error_response_is_absorbed_by_the_transaction() -> None:
    layer = new_layer()
    request = make_request("INVITE")
    event = _receive_new(layer, request)
    layer.send_response(event.key, make_response(request, 486, to_tag="t"), 0.1)
    ack = make_ack(request, respond(request, 486, "t"))
    assert ack.branch == request.branch and ack.cseq == (1, "ACK")
    for when in (0.2, 0.3):
        layer.receive(ack, UDP, when)
        assert drain_events(layer) == []
    assert layer.state_of(event.key) is State.CONFIRMED


def test_ack_for_2xx_goes_to_the_tu() -> None:
    layer = new_layer()
    request = make_request("INVITE")
    event = _receive_new(layer, request)
    layer.send_response(event.key, make_response(request, 200, to_tag="t"), 0.1)
    end_to_end = make_request("ACK", branch="z9hG4bKnew", to_tag="t")
    layer.receive(end_to_end, UDP, 0.2)
    assert drain_events(layer) == [AckReceived(None, end_to_end, UDP)]
    same_branch = make_request("ACK", to_tag="t")  # an old UA reusing the INVITE's branch
    layer.receive(same_branch, UDP, 0.3)
    assert drain_events(layer) == [AckReceived(event.key, same_branch, UDP)]


def test_ack_from_another_sent_by_does_not_match() -> None:
    layer = new_layer()
    request = make_request("INVITE")
    event = _receive_new(layer, request)
    layer.send_response(event.key, make_response(request, 486, to_tag="t"), 0.1)
    ack = make_request("ACK", via="SIP/2.0/UDP elsewhere.example.com", to_tag="t")
    layer.receive(ack, UDP, 0.2)
    assert drain_events(layer) == [AckReceived(None, ack, UDP)]
    assert layer.state_of(event.key) is State.COMPLETED


def test_ack_in_proceeding_is_ignored() -> None:
    layer = new_layer()
    _receive_new(layer, make_request("INVITE"))
    layer.receive(make_request("ACK"), UDP, 0.1)
    assert drain_events(layer) == [] and layer.ignored == 1


# -- CANCEL ---------------------------------------------------------------------------------


def test_cancel_is_matched_to_the_invite_it_cancels() -> None:
    layer = new_layer()
    invite = make_request("INVITE")
    invite_event = _receive_new(layer, invite)
    sent(layer)
    cancel = make_request("CANCEL")
    event = _receive_new(layer, cancel)
    assert event == CancelReceived(event.key, invite_event.key, cancel, UDP)
    assert event.key != invite_event.key
    layer.send_response(event.key, make_response(cancel, 200, to_tag="t"), 0.2)
    layer.send_response(invite_event.key, make_response(invite, 487, to_tag="t"), 0.2)
    assert sent(layer) == [200, 487]
    layer.receive(make_request("CANCEL"), UDP, 0.3)  # retransmitted CANCEL
    assert sent(layer) == [200] and drain_events(layer) == []


def test_cancel_without_invite_has_no_invite_key() -> None:
    layer = new_layer()
    cancel = make_request("CANCEL", branch="z9hG4bKlost")
    event = _receive_new(layer, cancel)
    assert isinstance(event, CancelReceived) and event.invite_key is None
    layer.send_response(event.key, make_response(cancel, 481, to_tag="t"), 0.1)
    assert sent(layer) == [481]


def test_outgoing_cancel_is_its_own_client_transaction() -> None:
    layer = new_layer()
    invite = make_request("INVITE", branch=None)
    invite_key = layer.send_request(invite, UDP, 0.0)
    cancel = make_cancel(invite)
    cancel_key = layer.send_request(cancel, UDP, 0.1)
    assert cancel_key == (invite.branch, "CANCEL") != invite_key
    layer.receive(respond(cancel, 200), UDP, 0.2)
    layer.receive(respond(invite, 487), UDP, 0.3)
    assert sent(layer) == ["INVITE", "CANCEL", "ACK"]
    events = [e for e in drain_events(layer) if isinstance(e, ResponseReceived)]
    assert [(e.key, e.response.status) for e in events] == [(cancel_key, 200), (invite_key, 487)]


# -- RFC 2543 fallback ------------------------------------------------------------------------


def test_rfc2543_invite_retransmission_ack_and_cancel() -> None:
    for branch in (None, "1234-old"):
        layer = new_layer()
        invite = make_request("INVITE", branch=branch)
        event = _receive_new(layer, invite)
        assert sent(layer) == [100]
        layer.receive(make_request("INVITE", branch=branch), UDP, 0.5)
        assert sent(layer) == [100] and drain_events(layer) == []
        cancel = make_request("CANCEL", branch=branch)
        cancel_event = _receive_new(layer, cancel)
        assert cancel_event.invite_key == event.key
        layer.send_response(event.key, make_response(invite, 487, to_tag="t"), 0.6)
        wrong_tag = make_request("ACK", branch=branch, to_tag="other")
        layer.receive(wrong_tag, UDP, 0.7)
        assert drain_events(layer) == [AckReceived(None, wrong_tag, UDP)]
        layer.receive(make_ack(invite, respond(invite, 487, "t")), UDP, 0.8)
        assert drain_events(layer) == [] and layer.state_of(event.key) is State.CONFIRMED


def test_rfc2543_fields_that_differ_make_a_new_transaction() -> None:
    layer = new_layer()
    first = _receive_new(layer, make_request("OPTIONS", branch=None))
    variants = [
        make_request("OPTIONS", branch=None, from_tag="other"),
        make_request("OPTIONS", branch=None, call_id="other@client"),
        make_request("OPTIONS", branch=None, seq=2),
        make_request("OPTIONS", branch=None, uri="sip:carol@example.com"),
        make_request("OPTIONS", branch=None, via="SIP/2.0/UDP other.example.com"),
    ]
    keys = {first.key} | {_receive_new(layer, request).key for request in variants}
    assert len(keys) == 6


def test_rfc2543_to_tag_mismatch_replaces_the_entry_without_losing_the_new_one() -> None:
    layer = new_layer()
    request = make_request("INFO", branch=None, to_tag="a")
    old = _receive_new(layer, request)
    layer.send_response(old.key, make_response(request, 200), 0.0)
    new = _receive_new(layer, make_request("INFO", branch=None, to_tag="b"))
    assert new.key == old.key
    sent(layer)
    timeline = run_clock(layer, 100.0)  # the old one's Timer J fires, silently
    assert timeline == [(32.0, [], [])]
    assert layer.state_of(new.key) is State.TRYING


def test_rfc2543_completed_non_invite_still_matches_either_to_tag() -> None:
    """A completed transaction keeps only its response's bytes and the To tags: a
    retransmission with the request's (no) tag or with our final response's tag is
    answered again; another tag starts a new transaction."""
    layer = new_layer()
    request = make_request("OPTIONS", branch=None)
    event = _receive_new(layer, request)
    layer.send_response(event.key, make_response(request, 200, to_tag="ours"), 0.1)
    assert sent(layer) == [200]
    for tag in (None, "ours"):
        layer.receive(make_request("OPTIONS", branch=None, to_tag=tag), UDP, 0.5)
        assert sent(layer) == [200] and drain_events(layer) == []
    assert isinstance(
        _receive_new(layer, make_request("OPTIONS", branch=None, to_tag="theirs")),
        RequestReceived,
    )


# -- malformed input never raises -------------------------------------------------------------


def test_malformed_messages_are_dropped_and_counted() -> None:
    layer = new_layer()
    no_cseq = parse_datagram(
        b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nCall-ID: x\r\n"
        b"From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nContent-Length: 0\r\n\r\n"
    )
    no_via = parse_datagram(
        b"OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n"
        b"From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nContent-Length: 0\r\n\r\n"
    )
    bad_response = parse_datagram(
        b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCSeq: x\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    for message in (no_cseq, no_via, bad_response):
        layer.receive(message, UDP, 0.0)
    assert layer.ignored == 3 and drain_events(layer) == [] and sent(layer) == []
    assert isinstance(bad_response, SipResponse)


def test_sent_by_is_compared_whatever_the_via_spelling() -> None:
    layer = new_layer()
    invite = make_request("INVITE", via="SIP/2.0/UDP [2001:DB8::1]:5060")
    event = _receive_new(layer, invite)
    layer.send_response(event.key, make_response(invite, 603, to_tag="t"), 0.1)
    for via in (
        "SIP / 2.0 / UDP [2001:db8::1]:5060",
        'SIP/2.0/UDP [2001:db8::1]:5060;x="a b"',
        "SIP/2.0/UDP [2001:db8::1]:5060 ",
    ):
        layer.receive(make_request("ACK", via=via, to_tag="t"), UDP, 0.2)
        assert drain_events(layer) == []
    assert layer.state_of(event.key) is State.CONFIRMED
    no_port = make_request("OPTIONS", via="SIP / 2.0 / UDP Client.Example.com")
    key = _receive_new(layer, no_port).key
    assert key == ("z9hG4bKabc", "client.example.com", "OPTIONS")
    layer.receive(make_request("OPTIONS", via="SIP/2.0/UDP client.example.COM"), UDP, 0.3)
    assert drain_events(layer) == []


def test_make_cancel_is_matched_by_the_far_end_to_the_invite() -> None:
    client, server = new_layer(), new_layer()
    invite = make_request("INVITE", branch=None, extra=["Route: <sip:edge.example.com;lr>"])
    client.send_request(invite, UDP, 0.0)
    cancel = make_cancel(invite)
    assert cancel.cseq == (1, "CANCEL") and cancel.branch == invite.branch
    assert cancel.uri_text == invite.uri_text and cancel.to_tag is None
    assert cancel.headers.fields("route") == ["<sip:edge.example.com;lr>"]
    client.send_request(cancel, UDP, 0.1)
    for data, _ in client.datagrams_to_send():
        server.receive(parse_datagram(data), UDP, 0.1)
    invite_event, cancel_event = drain_events(server)
    assert isinstance(cancel_event, CancelReceived)
    assert cancel_event.invite_key == invite_event.key
