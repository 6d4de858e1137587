"""Corners of the session API: options off, bodiless exchanges, strays, late messages."""

from __future__ import annotations

import pytest
from dialog_support import PHONE, Host, config, reply, request_text
from test_session_offers import answer_to, confirmed, receive
from test_session_uac import events as uac_events
from test_session_uac import respond, uac
from test_session_uas import ANSWER, INVITE_KEY, OFFER, events, in_dialog, uas

from switchboard.sip.errors import LocalProtocolError
from switchboard.sip.reason import Reason, parse_reason, q850_reason
from switchboard.sip.session import (
    TERMINATED_BYE_RECEIVED,
    TERMINATED_BYE_SENT,
    SessionConfig,
    option_tags,
    parse_rack,
)
from switchboard.sip.session_events import DialogTerminated, ProvisionalReceived
from switchboard.sip.session_router import SessionRouter, _Binding
from switchboard.sip.session_uac import ClientInvite, new_invite
from switchboard.sip.transaction.events import (
    AckReceived,
    CancelReceived,
    RequestReceived,
    ResponseReceived,
    TransactionTerminated,
    TransactionTimedOut,
)


def test_config_refuses_an_unknown_100rel_value() -> None:
    with pytest.raises(ValueError, match="100rel"):
        SessionConfig(contact="sip:x@y", via="SIP/2.0/UDP y", rel100="sometimes")
    assert config(rel100="no", timers="no").supported == []


def test_without_options_no_supported_header() -> None:
    session, host = confirmed(cfg=config(rel100="no", timers="no"))
    session.reinvite(1.0, OFFER)
    assert "supported" not in host.requests[-1][1].headers
    receive(session, in_dialog("UPDATE", 2), 2.0)
    assert "supported" not in host.responses[-1][1].headers


def test_initial_invite_answered_through_answer() -> None:
    session, host = uas()
    session.answer(0.0, ANSWER)
    assert host.responses[-1][1].status == 200 and session.final_status == 200


def test_refresh_reinvite_without_sdp() -> None:
    session, host = uas("Supported: timer", "Session-Expires: 120;refresher=uas", body=b"")
    session.accept(0.0, b"")
    session.receive(AckReceived(None, in_dialog("ACK", 1), PHONE), 0.1)
    session.handle_timer(60.0)
    _, reinvite = host.last_request()
    assert reinvite.method == "INVITE" and reinvite.body == b""


def test_bodiless_reinvite_and_bodiless_2xx_is_just_acked() -> None:
    session, host = confirmed()
    key = session.reinvite(1.0)
    answer_to(session, key, 200, 1.1, to_tag="phone-tag")
    assert host.stateless[-1].method == "ACK"
    assert events(session) == []


def test_2xx_with_offer_retransmitted_before_we_answer() -> None:
    session, host = confirmed()
    key = session.reinvite(1.0)
    answer_to(session, key, 200, 1.1, to_tag="phone-tag", body=OFFER)
    answer_to(session, key, 200, 1.6, to_tag="phone-tag", body=OFFER)
    assert host.stateless == []


def test_update_without_body_refused_changes_nothing() -> None:
    session, _ = confirmed()
    key = session.update(1.0, b"")
    answer_to(session, key, 403, 1.1, to_tag="phone-tag")
    assert events(session) == []


def test_refresh_update_retried_after_422() -> None:
    session, host = confirmed(
        "Supported: timer", "Session-Expires: 120;refresher=uas", "Allow: UPDATE"
    )
    session.handle_timer(60.0)
    key, _ = host.last_request()
    answer_to(session, key, 422, 60.1, to_tag="phone-tag", extra=[("Min-SE", "240")])
    _, again = host.last_request()
    assert again.method == "UPDATE" and again.headers.get("session-expires") == "240;refresher=uac"


def test_too_brief_update_gets_422() -> None:
    session, host = confirmed(cfg=config(min_se=300))
    receive(session, in_dialog("UPDATE", 2, "Session-Expires: 100"), 5.0)
    assert host.statuses() == [422]


def test_in_dialog_request_requiring_an_unknown_extension_gets_420() -> None:
    session, host = confirmed()
    receive(session, in_dialog("INFO", 2, "Require: foo"), 5.0)
    assert host.statuses() == [420]
    assert host.responses[-1][1].headers.get("unsupported") == "foo"


def test_other_events_are_ignored() -> None:
    session, host = confirmed()
    session.receive(TransactionTerminated(("x", "INFO")), 1.0)
    call, _ = uac()
    call.receive(TransactionTerminated(("x", "INFO")), 1.0)
    session.bye(1.0)
    ack = request_text("ACK", to_tag="pbx-tag", seq=9)
    session.receive(RequestReceived(("a", "ACK"), ack, PHONE), 2.0)  # no answer to an ACK
    assert host.statuses() == []


def test_new_invite_with_extra_headers_and_our_allow_kept() -> None:
    cfg = config()
    invite = new_invite(
        uri="sip:alice@example.com",
        from_address="<sip:bob@example.com>",
        to_address="<sip:alice@example.com>",
        from_tag="f",
        call_id="c",
        config=cfg,
        headers=[("Allow", "INVITE, BYE"), ("P-Asserted-Identity", "<sip:100@pbx>")],
    )
    assert invite.headers.get("p-asserted-identity") == "<sip:100@pbx>"
    host = Host()
    call = ClientInvite(invite, host=host, peer=PHONE, config=cfg, random=lambda: 0.0)
    assert call.request.headers.get_all("allow") == ["INVITE", "BYE"]


@pytest.mark.parametrize("field", ["from_address", "to_address", "call_id", "from_tag"])
def test_new_invite_refuses_a_line_break_in_its_own_fields(field: str) -> None:
    values = {
        "from_address": "<sip:bob@example.com>",
        "to_address": "<sip:alice@example.com>",
        "from_tag": "f",
        "call_id": "c",
    }
    values[field] += "\r\nX-Injected: 1"
    with pytest.raises(LocalProtocolError):
        new_invite(uri="sip:alice@example.com", config=config(), **values)


def test_provisional_after_an_early_bye_is_ignored() -> None:
    call, host = uac()
    respond(call, 180, 0.1)
    session = call.sessions["a1"]
    bye = request_text("BYE", call_id="out-1@pbx", from_tag="a1", to_tag="pbx-tag", seq=3)
    call.receive(RequestReceived(("b", "BYE"), bye, PHONE), 0.2)
    assert uac_events(call)[-1] == DialogTerminated(session.id, TERMINATED_BYE_RECEIVED)
    respond(call, 183, 0.3, body=ANSWER)
    (provisional,) = uac_events(call)  # no PRACK, no answer: the dialog has ended
    assert isinstance(provisional, ProvisionalReceived) and provisional.dialog_id == session.id
    assert host.methods() == ["INVITE"]


def test_router_edges() -> None:
    host = Host()
    router = SessionRouter(host)
    ack = request_text("ACK", contact=None, branch="z9hG4bKa")
    event = RequestReceived(("k", "ACK"), ack, PHONE)
    assert router.accept_invite(event, 0.0, config=config(), local_tag="t", random=float) is None
    assert host.responses == []  # nothing answers an ACK
    stray = reply(request_text(from_tag="zz"), 200)
    stray_event = ResponseReceived(("s", "INVITE"), stray, PHONE)
    assert router.dispatch(stray_event, 0.0) is stray_event  # no session: handed back
    assert router.dispatch(TransactionTerminated(("s", "INVITE")), 0.0) is not None
    invite = request_text()
    session = router.accept_invite(
        RequestReceived(INVITE_KEY, invite, PHONE),
        0.0,
        config=config(),
        local_tag="t",
        random=float,
    )
    assert session is not None and len(router) == 1
    assert router.next_event() is None  # an INVITE without offer
    outgoing = router.invite(
        new_invite(
            uri="sip:alice@example.com",
            from_address="<sip:bob@example.com>",
            to_address="<sip:alice@example.com>",
            from_tag="f",
            call_id="c2",
            config=config(),
        ),
        PHONE,
        0.0,
        config=config(),
        random=float,
    )
    ringing = reply(outgoing.request, 180, to_tag="r")
    router.dispatch(ResponseReceived(outgoing.key, ringing, PHONE), 0.1)  # type: ignore[arg-type]
    assert len(router) == 2  # still pending


def test_router_routes_a_cancel_of_a_reinvite_and_hands_bare_timeouts_back() -> None:
    host = Host()
    router = SessionRouter(host)
    invite = request_text(extra=["Supported: timer"], body=OFFER)
    session = router.accept_invite(
        RequestReceived(INVITE_KEY, invite, PHONE),
        0.0,
        config=config(),
        local_tag="pbx-tag",
        random=float,
    )
    assert session is not None
    session.accept(0.0, ANSWER)
    router.dispatch(AckReceived(None, in_dialog("ACK", 1), PHONE), 0.1)
    reinvite = in_dialog("INVITE", 2, body=OFFER, branch="z9hG4bKre")
    router.dispatch(RequestReceived(("re", "INVITE"), reinvite, PHONE), 1.0)
    cancel = in_dialog("CANCEL", 2, branch="z9hG4bKre")
    router.dispatch(CancelReceived(("c", "CANCEL"), ("re", "INVITE"), cancel, PHONE), 1.1)
    assert host.statuses()[-2:] == [200, 487]
    timeout = TransactionTimedOut(("x", "INVITE"), "H", None)
    assert router.dispatch(timeout, 2.0) is timeout
    assert router.next_deadline() is not None
    router.handle_timer(0.2)  # nothing due


def test_bye_waits_for_the_ack_of_our_2xx() -> None:
    session, host = uas()
    session.accept(0.0, ANSWER)
    session.bye(0.1, q850_reason(16))
    assert host.requests == [] and not session.terminated
    session.receive(AckReceived(INVITE_KEY, in_dialog("ACK", 1), PHONE), 0.2)
    _, bye = host.last_request("BYE")
    assert bye.headers.get("reason") == 'Q.850;cause=16;text="Normal Clearing"'
    assert events(session)[-1] == DialogTerminated(session.id, TERMINATED_BYE_SENT)


def test_bye_sent_at_the_ack_timeout_when_asked_for() -> None:
    session, host = uas()
    session.accept(0.0, ANSWER)
    session.bye(0.1)
    while (deadline := session.next_deadline()) is not None:
        session.handle_timer(deadline)
    assert deadline is None and host.statuses() == [200] * 11
    assert host.methods() == ["BYE"]
    assert events(session)[-1] == DialogTerminated(session.id, TERMINATED_BYE_SENT)


def test_ack_without_the_answer_ends_the_exchange() -> None:
    session, host = confirmed()
    receive(session, in_dialog("INVITE", 2), 10.0)
    session.receive(AckReceived(None, in_dialog("ACK", 2), PHONE), 10.1)
    session.reinvite(11.0, OFFER)  # no offer left outstanding
    assert host.methods() == ["INVITE"]


def test_rejecting_the_initial_offer_rejects_the_invite() -> None:
    session, host = uas()
    session.reject_offer(0.0)
    assert host.statuses() == [488]
    assert session.terminated and session.final_status == 488


def test_a_refused_offer_leaves_the_previous_sdp() -> None:
    session, _ = confirmed()
    key = session.reinvite(1.0, OFFER)
    answer_to(session, key, 488, 1.1, to_tag="phone-tag")
    assert session.local_sdp == ANSWER
    key = session.reinvite(2.0, OFFER)
    answer_to(session, key, 200, 2.1, to_tag="phone-tag", body=ANSWER)
    assert session.local_sdp == OFFER


def test_respond_with_another_content_type() -> None:
    session, host = confirmed()
    info = in_dialog("INFO", 2)
    key = receive(session, info, 1.0)
    session.respond(key, info, 200, 1.1, body=b"ok", content_type="text/plain")  # type: ignore[arg-type]
    assert host.responses[-1][1].content_type == "text/plain"


def test_router_keeps_deadlines_in_a_heap() -> None:
    host = Host()
    router = SessionRouter(host)
    sessions = []
    for n in range(50):
        invite = request_text(call_id=f"c{n}", branch=f"z9hG4bK{n}", body=OFFER)
        key = (f"z9hG4bK{n}", "192.0.2.20:5060", "INVITE")
        session = router.accept_invite(
            RequestReceived(key, invite, PHONE), 0.0, config=config(), local_tag="t", random=float
        )
        assert session is not None
        sessions.append(session)
    assert router.next_deadline() is None
    sessions[7].accept(1.0, ANSWER)  # arms the 2xx retransmission through the router's binding
    assert router.next_deadline() == 1.5
    ack = request_text("ACK", call_id="c7", to_tag="t", branch="z9hG4bKa7")
    router.dispatch(AckReceived(None, ack, PHONE), 1.2)
    assert router.next_deadline() is None  # the stale entry is dropped
    router.handle_timer(2.0)
    # A binding not yet attached to its session notes nothing.
    _Binding(router).send_stateless(ack, PHONE)
    assert router._dirty == set()


def test_malformed_option_lists() -> None:
    assert option_tags(request_text(extra=["Supported: <"]), "supported") == set()
    host = Host()
    router = SessionRouter(host)
    invite = request_text(extra=["Require: <"])
    event = RequestReceived(("k", "INVITE"), invite, PHONE)
    assert router.accept_invite(event, 0.0, config=config(), local_tag="t", random=float) is None
    assert host.statuses() == [400]
    session, host = confirmed()
    receive(session, in_dialog("INFO", 2, 'Require: "'), 1.0)
    assert host.statuses() == [400]


def test_numbers_must_be_ascii_digits() -> None:
    assert parse_rack("\u00b2 1 INVITE") is None
    assert parse_rack("1 99999999999 INVITE") is None
    assert parse_reason("Q.850;cause=99999999999") == [Reason("Q.850", None)]
    call, host = uac()
    respond(call, 180, 0.1, extra=[("Require", "100rel"), ("RSeq", "\u00b2")])
    assert host.methods() == ["INVITE"]


def test_forced_timer_uses_the_interval_our_invite_asked_for() -> None:
    call, _ = uac(cfg=config(timers="forced", sess_expires=600))
    respond(call, 200, 1.0, body=ANSWER)
    session = call.sessions["a1"]
    assert session.requested_interval == 600
    assert session.timer.local_refresher and call.next_deadline() == 301.0
    call, _ = uac(cfg=config(timers="no"))
    respond(call, 200, 1.0, body=ANSWER)
    assert call.sessions["a1"].requested_interval == 1800  # none asked: the configured value
