"""The UAC of an INVITE: forking, PRACK, ACK for each 2xx, CANCEL with Reason, 422 retry."""

from __future__ import annotations

from dialog_support import PHONE, Host, config, reply, request_text
from test_session_uas import ANSWER, OFFER

from switchboard.sip.dialog import DialogState
from switchboard.sip.message import SipResponse
from switchboard.sip.reason import q850_reason
from switchboard.sip.session import (
    TERMINATED_BYE_RECEIVED,
    TERMINATED_CANCELLED,
    TERMINATED_OTHER_FORK,
    TERMINATED_REJECTED,
    SessionConfig,
)
from switchboard.sip.session_events import (
    AnswerReceived,
    DialogEstablished,
    DialogTerminated,
    InviteFailed,
    OfferReceived,
    ProvisionalReceived,
    SessionEvent,
    SessionRefreshed,
)
from switchboard.sip.session_uac import ClientInvite, new_invite
from switchboard.sip.transaction.events import (
    RequestReceived,
    ResponseReceived,
    TransactionFailed,
    TransactionTimedOut,
)

ALICE = "sip:alice@192.0.2.30:5062"


def events(call: ClientInvite) -> list[SessionEvent]:
    found = []
    while (event := call.next_event()) is not None:
        found.append(event)
    return found


def uac(body: bytes = OFFER, cfg: SessionConfig | None = None) -> tuple[ClientInvite, Host]:
    host = Host()
    cfg = cfg or config()
    invite = new_invite(
        uri=ALICE,
        from_address='"Bob" <sip:bob@example.com>',
        to_address="<sip:alice@example.com>",
        from_tag="pbx-tag",
        call_id="out-1@pbx",
        config=cfg,
        body=body,
    )
    call = ClientInvite(invite, host=host, peer=PHONE, config=cfg, random=lambda: 0.5)
    call.start(0.0)
    return call, host


def respond(
    call: ClientInvite, status: int, now: float, tag: str | None = "a1", **kw: object
) -> SipResponse:
    response = reply(call.request, status, to_tag=tag, **kw)  # type: ignore[arg-type]
    assert call.key is not None
    call.receive(ResponseReceived(call.key, response, PHONE), now)
    return response


def test_invite_carries_our_options() -> None:
    call, host = uac()
    ((key, invite),) = host.requests
    assert key == call.key and invite.method == "INVITE" and invite.body == OFFER
    assert invite.headers.get("supported") == "100rel, timer"
    assert invite.headers.get("session-expires") == "1800"
    assert invite.headers.get("min-se") == "90"
    assert invite.headers.get("contact") == "<sip:pbx@198.51.100.1:5060>"
    assert "INVITE" in (invite.headers.get("allow") or "")
    assert "require" not in invite.headers
    assert invite.from_tag == "pbx-tag" and invite.to_tag is None
    assert invite.content_type == "application/sdp"
    assert repr(call) == "<ClientInvite out-1@pbx final=None>"
    _, required = uac(cfg=config(rel100="required", timers="required"))
    invite = required.requests[0][1]
    assert invite.headers.get("require") == "100rel, timer"
    _, plain = uac(cfg=config(rel100="no", timers="no"))
    invite = plain.requests[0][1]
    assert "supported" not in invite.headers and "session-expires" not in invite.headers


def test_forking_two_early_dialogs_then_one_answers() -> None:
    call, host = uac()
    respond(call, 100, 0.1, tag=None)
    respond(call, 180, 0.2, tag="a1")
    respond(call, 183, 0.3, tag="a2", contact="sip:alice@192.0.2.31", body=ANSWER)
    assert set(call.sessions) == {"a1", "a2"}
    first, second = call.sessions["a1"], call.sessions["a2"]
    assert first.dialog.state is second.dialog.state is DialogState.EARLY
    found = events(call)
    assert [type(e).__name__ for e in found] == [
        "ProvisionalReceived",
        "EarlyDialogCreated",
        "ProvisionalReceived",
        "EarlyDialogCreated",
        "ProvisionalReceived",
        "AnswerReceived",
    ]
    assert found[0] == ProvisionalReceived(None, found[0].response)  # type: ignore[union-attr]
    assert found[-1] == AnswerReceived(second.id, ANSWER, provisional=True)
    ok = respond(call, 200, 1.0, tag="a1", body=ANSWER)
    assert first.dialog.state is DialogState.CONFIRMED
    assert second.terminated
    assert events(call) == [
        DialogEstablished(first.id),
        AnswerReceived(first.id, ANSWER),
        DialogTerminated(second.id, TERMINATED_OTHER_FORK),
    ]
    (ack,) = host.stateless
    assert ack.method == "ACK" and ack.cseq == (1, "ACK")  # type: ignore[union-attr]
    assert ack.uri_text == ALICE and ack.to_tag == "a1"  # type: ignore[union-attr]
    assert ack.branch == "z9hG4bKack1"
    # The 2xx retransmitted: the same ACK again, no new events.
    call.receive(ResponseReceived(call.key, ok, PHONE), 1.5)  # type: ignore[arg-type]
    assert [m.serialize() for m in host.stateless] == [ack.serialize()] * 2
    assert events(call) == []
    # A 2xx from the other fork after ours: ACK it, then BYE (RFC 3261 §13.2.2.4).
    respond(call, 200, 2.0, tag="a2", contact="sip:alice@192.0.2.31")
    assert host.stateless[-1].to_tag == "a2"
    assert host.methods() == ["INVITE", "BYE"]
    assert host.requests[-1][1].uri_text == "sip:alice@192.0.2.31"
    # A late 1xx changes nothing.
    respond(call, 180, 2.5, tag="a1")
    assert call.sessions["a1"].dialog.state is DialogState.CONFIRMED


def test_a_2xx_from_a_new_fork_after_the_answer_is_acked_and_ended() -> None:
    call, host = uac()
    respond(call, 200, 1.0, tag="a1", body=ANSWER)
    respond(call, 200, 1.1, tag="b9", body=ANSWER)
    assert host.methods() == ["INVITE", "BYE"]
    assert len(host.stateless) == 2
    last = events(call)[-1]
    assert last == DialogTerminated(call.sessions["b9"].id, TERMINATED_OTHER_FORK)
    respond(call, 200, 1.2, tag="b9", body=ANSWER)  # ended: ignored
    respond(call, 200, 1.3, tag=None)  # no To tag: ignored
    assert host.methods() == ["INVITE", "BYE"]


def test_reliable_provisional_gets_a_prack() -> None:
    call, host = uac()
    respond(call, 183, 0.2, extra=[("Require", "100rel"), ("RSeq", "7")], body=ANSWER)
    key, prack = host.last_request()
    assert prack.method == "PRACK" and prack.headers.get("rack") == "7 1 INVITE"
    assert prack.cseq == (2, "PRACK") and prack.to_tag == "a1"
    session = call.sessions["a1"]
    assert events(call)[-1] == AnswerReceived(session.id, ANSWER)
    # A retransmission (same RSeq) and one out of order are not PRACKed.
    respond(call, 183, 0.7, extra=[("Require", "100rel"), ("RSeq", "7")], body=ANSWER)
    respond(call, 180, 0.8, extra=[("Require", "100rel"), ("RSeq", "9")])
    respond(call, 180, 0.8, extra=[("Require", "100rel"), ("RSeq", "x")])
    assert host.methods() == ["INVITE", "PRACK"]
    respond(call, 180, 0.9, extra=[("Require", "100rel"), ("RSeq", "8")])
    assert host.methods() == ["INVITE", "PRACK", "PRACK"]
    # The PRACK's 200 goes to the session and is absorbed.
    prack_ok = reply(prack, 200, to_tag="a1")
    call.receive(ResponseReceived(key, prack_ok, PHONE), 1.0)
    call.receive(ResponseReceived(("cancel", "CANCEL"), prack_ok, PHONE), 1.0)
    respond(call, 200, 2.0, body=ANSWER)
    events(call)
    assert call.sessions["a1"].remote_sdp == ANSWER


def test_offer_in_a_reliable_provisional_is_answered_in_the_prack() -> None:
    call, host = uac(body=b"")
    respond(call, 183, 0.2, extra=[("Require", "100rel"), ("RSeq", "1")], body=OFFER)
    assert host.methods() == ["INVITE"]
    session = call.sessions["a1"]
    assert events(call)[-1] == OfferReceived(session.id, OFFER, "INVITE")
    session.answer(0.3, ANSWER)
    _, prack = host.last_request()
    assert prack.method == "PRACK" and prack.body == ANSWER
    respond(call, 200, 1.0, body=OFFER)
    assert host.stateless[-1].body == b""  # the exchange is done: a plain ACK


def test_offer_in_the_2xx_is_answered_in_the_ack() -> None:
    call, host = uac(body=b"")
    respond(call, 200, 1.0, body=OFFER)
    session = call.sessions["a1"]
    assert events(call) == [
        DialogEstablished(session.id),
        OfferReceived(session.id, OFFER, "INVITE"),
    ]
    assert host.stateless == []
    respond(call, 200, 1.5, body=OFFER)  # retransmitted before we answered: nothing to resend
    assert host.stateless == []
    session.answer(1.6, ANSWER)
    assert host.stateless[-1].body == ANSWER


def test_cancel_waits_for_a_provisional_and_carries_a_reason() -> None:
    call, host = uac()
    call.cancel(0.1, q850_reason(19))
    assert host.methods() == ["INVITE"]  # §9.1: not before a provisional response
    call.cancel(0.2)  # once only
    respond(call, 180, 0.3)
    key, cancel = host.last_request()
    assert key == call.cancel_key
    assert cancel.method == "CANCEL" and cancel.branch == call.request.branch
    assert (
        cancel.headers.get("reason") == 'Q.850;cause=19;text="No answer from user (user alerted)"'
    )
    respond(call, 487, 0.4)
    session = call.sessions["a1"]
    found = events(call)
    assert found[-2] == DialogTerminated(session.id, TERMINATED_CANCELLED, 487)
    assert isinstance(found[-1], InviteFailed) and found[-1].status == 487
    call.cancel(0.5)  # too late: nothing
    assert host.methods() == ["INVITE", "CANCEL"]


def test_cancel_after_a_provisional_is_sent_at_once() -> None:
    call, host = uac()
    respond(call, 100, 0.1, tag=None)
    call.cancel(0.2)
    assert host.methods() == ["INVITE", "CANCEL"]
    assert "reason" not in host.requests[-1][1].headers


def test_a_2xx_crossing_our_cancel_is_acked_then_ended() -> None:
    call, host = uac()
    respond(call, 180, 0.1)
    call.cancel(0.2)
    respond(call, 200, 0.3, body=ANSWER)
    assert host.methods() == ["INVITE", "CANCEL", "BYE"]
    assert len(host.stateless) == 1
    assert events(call)[-1] == DialogTerminated(call.sessions["a1"].id, TERMINATED_CANCELLED)


def invite_id(call: ClientInvite) -> tuple[str, str]:
    """The Call-ID and our From tag, which name the INVITE in InviteFailed."""
    return call.request.call_id, call.request.from_tag or ""


def test_rejection_ends_the_early_dialogs() -> None:
    call, _ = uac()
    respond(call, 180, 0.1)
    busy = respond(call, 486, 1.0)
    session = call.sessions["a1"]
    assert events(call)[-2:] == [
        DialogTerminated(session.id, TERMINATED_REJECTED, 486),
        InviteFailed(486, busy, *invite_id(call)),
    ]
    respond(call, 486, 1.5)  # a retransmitted final response: nothing more
    assert events(call) == []


def test_timeout_and_transport_failure_fail_the_invite() -> None:
    call, _ = uac()
    timeout = reply(call.request, 408, to_tag=None)
    call.receive(TransactionTimedOut(call.key, "B", timeout), 32.0)  # type: ignore[arg-type]
    assert events(call) == [InviteFailed(408, timeout, *invite_id(call))]
    call, _ = uac()
    call.receive(TransactionFailed(call.key, None), 1.0)  # type: ignore[arg-type]
    assert events(call) == [InviteFailed(503, None, *invite_id(call))]


def test_422_retries_with_the_min_se() -> None:
    call, host = uac()
    first_key = call.key
    respond(call, 422, 0.1, tag="x", extra=[("Min-SE", "3600")])
    assert call.key != first_key
    _, again = host.last_request()
    assert again.method == "INVITE" and again.cseq == (2, "INVITE")
    assert again.headers.get("session-expires") == "3600"
    assert again.headers.get("min-se") == "3600"
    assert again.branch != host.requests[0][1].branch
    assert events(call) == []
    respond(call, 422, 0.2, tag="x", extra=[("Min-SE", "3600")])
    respond(call, 422, 0.3, tag="x", extra=[("Min-SE", "3600")])  # retries are bounded
    assert isinstance(events(call)[-1], InviteFailed)
    assert host.methods() == ["INVITE", "INVITE", "INVITE"]


def test_session_timer_from_the_2xx_and_our_refresh() -> None:
    call, host = uac()
    respond(
        call,
        200,
        1.0,
        body=ANSWER,
        extra=[("Session-Expires", "1800;refresher=uac"), ("Allow", "INVITE, UPDATE")],
    )
    session = call.sessions["a1"]
    assert session.timer.local_refresher
    assert call.next_deadline() == 901.0
    call.handle_timer(901.0)
    key, update = host.last_request()
    assert update.method == "UPDATE"
    assert update.headers.get("session-expires") == "1800;refresher=uac"
    response = reply(update, 200, to_tag="a1", extra=[("Session-Expires", "1800;refresher=uac")])
    call.receive(ResponseReceived(key, response, PHONE), 901.1)
    assert events(call)[-1] == SessionRefreshed(session.id, 1800)
    assert call.next_deadline() == 1801.1


def test_no_session_timer_asked_none_runs() -> None:
    call, _ = uac(cfg=config(timers="no"))
    respond(call, 200, 1.0, body=ANSWER)
    assert call.next_deadline() is None


def test_requests_from_the_callee_reach_its_dialog() -> None:
    call, host = uac()
    respond(call, 200, 1.0, body=ANSWER)
    session = call.sessions["a1"]
    bye = request_text(
        "BYE", call_id="out-1@pbx", from_tag="a1", to_tag="pbx-tag", seq=5, contact=None
    )
    call.receive(RequestReceived(("b", "BYE"), bye, PHONE), 2.0)
    assert host.statuses() == [200]
    assert events(call)[-1] == DialogTerminated(session.id, TERMINATED_BYE_RECEIVED)
    stranger = request_text("BYE", from_tag="zz", to_tag="pbx-tag")
    call.receive(RequestReceived(("b2", "BYE"), stranger, PHONE), 2.1)
    assert host.statuses() == [200]


def test_cancelled_invite_never_answered_is_given_up_after_64_t1() -> None:
    call, _ = uac()
    respond(call, 180, 0.1)
    call.cancel(1.0)
    assert call.next_deadline() == 33.0
    call.handle_timer(32.9)
    assert call.final_status is None
    call.handle_timer(33.0)
    session = call.sessions["a1"]
    assert events(call)[-2:] == [
        DialogTerminated(session.id, TERMINATED_CANCELLED, 487),
        InviteFailed(487, None, *invite_id(call)),
    ]
    assert call.next_deadline() is None
    respond(call, 487, 34.0)  # late: nothing more
    assert events(call) == []
