"""In-dialog offer/answer: re-INVITE and UPDATE, glare (491, 500), session refresh and expiry."""

from __future__ import annotations

import pytest
from dialog_support import PHONE, Host, config, reply, request_text
from test_session_uas import ANSWER, INVITE_KEY, OFFER, events, in_dialog, uas

from switchboard.sip.errors import LocalProtocolError
from switchboard.sip.session import (
    TERMINATED_GONE,
    TERMINATED_SESSION_EXPIRED,
    SessionConfig,
    glare_retry_delay,
    parse_rack,
)
from switchboard.sip.session_events import (
    Acknowledged,
    AnswerReceived,
    DialogTerminated,
    InDialogRequestReceived,
    InDialogResponseReceived,
    OfferReceived,
    OfferRejected,
    SessionRefreshed,
)
from switchboard.sip.session_uas import ServerSession
from switchboard.sip.transaction.events import (
    AckReceived,
    CancelReceived,
    RequestReceived,
    ResponseReceived,
    TransactionFailed,
    TransactionTimedOut,
)

NEW_OFFER = b"v=0\r\no=bob 1 2 IN IP4 192.0.2.20\r\na=sendonly\r\n"


def confirmed(*extra: str, cfg: SessionConfig | None = None) -> tuple[ServerSession, Host]:
    """A call the PBX answered and the phone ACKed."""
    session, host = uas(*extra, cfg=cfg)
    session.accept(0.0, ANSWER)
    session.receive(AckReceived(INVITE_KEY, in_dialog("ACK", 1), PHONE), 0.1)
    events(session)
    host.responses.clear()
    return session, host


def receive(session: ServerSession, request: object, now: float, name: str = "r") -> tuple:
    key = (name, request.method)  # type: ignore[attr-defined]
    session.receive(RequestReceived(key, request, PHONE), now)  # type: ignore[arg-type]
    return key


def answer_to(session: ServerSession, key: tuple, status: int, now: float, **kw: object) -> None:
    request = next(r for k, r in session.host.requests if k == key)  # type: ignore[attr-defined]
    session.receive(ResponseReceived(key, reply(request, status, **kw), PHONE), now)  # type: ignore[arg-type]


def test_received_reinvite_with_an_offer() -> None:
    session, host = confirmed()
    reinvite = in_dialog("INVITE", 2, body=NEW_OFFER, branch="z9hG4bKre")
    reinvite.headers.set("Contact", "<sip:bob@192.0.2.21:5060>")  # type: ignore[attr-defined]
    key = receive(session, reinvite, 10.0)
    assert events(session) == [OfferReceived(session.id, NEW_OFFER, "INVITE")]
    session.answer(10.1, ANSWER)
    assert host.responses[-1][0] == key and host.responses[-1][1].body == ANSWER
    assert session.dialog.remote_target == "sip:bob@192.0.2.21:5060"  # target refresh
    assert session.next_deadline() == pytest.approx(10.6)  # the 2xx is retransmitted
    session.receive(AckReceived(None, in_dialog("ACK", 2), PHONE), 10.2)
    assert session.next_deadline() is None
    assert session.remote_sdp == NEW_OFFER


def test_reject_a_reinvite_offer() -> None:
    session, host = confirmed()
    key = receive(session, in_dialog("INVITE", 2, body=NEW_OFFER), 10.0)
    session.reject_offer(10.1)
    assert host.responses[-1][0] == key and host.statuses() == [488]
    with pytest.raises(LocalProtocolError):
        session.reject_offer(10.2)
    with pytest.raises(LocalProtocolError):
        session.answer(10.2, ANSWER)
    # The next re-INVITE is taken normally.
    receive(session, in_dialog("INVITE", 3, body=NEW_OFFER), 11.0)
    assert events(session)[-1] == OfferReceived(session.id, NEW_OFFER, "INVITE")


def test_cancel_of_a_reinvite() -> None:
    session, host = confirmed()
    key = receive(session, in_dialog("INVITE", 2, body=NEW_OFFER, branch="z9hG4bKre"), 10.0)
    cancel = in_dialog("CANCEL", 2, branch="z9hG4bKre")
    session.receive(CancelReceived(("c", "CANCEL"), key, cancel, PHONE), 10.1)
    assert host.statuses() == [200, 487]
    assert not session.terminated
    session.receive(CancelReceived(("c2", "CANCEL"), key, cancel, PHONE), 10.2)
    assert host.statuses() == [200, 487, 200]


def test_reinvite_without_body_gets_our_sdp_and_the_ack_answers() -> None:
    session, host = confirmed()
    receive(session, in_dialog("INVITE", 2), 10.0)
    assert host.responses[-1][1].body == ANSWER
    session.receive(AckReceived(None, in_dialog("ACK", 2, body=NEW_OFFER), PHONE), 10.1)
    assert events(session) == [AnswerReceived(session.id, NEW_OFFER), Acknowledged(session.id)]


def test_glare_our_reinvite_pending_answers_491() -> None:
    session, host = confirmed()
    session.reinvite(5.0, NEW_OFFER)
    receive(session, in_dialog("INVITE", 2, body=OFFER), 5.1)
    assert host.statuses() == [491]
    receive(session, in_dialog("UPDATE", 3, body=OFFER), 5.2)
    assert host.statuses() == [491, 491]
    with pytest.raises(LocalProtocolError, match="INVITE transaction"):
        session.reinvite(5.3, NEW_OFFER)
    with pytest.raises(LocalProtocolError, match="offer"):
        session.update(5.3, NEW_OFFER)


def test_glare_their_offer_unanswered_answers_500_with_retry_after() -> None:
    session, host = confirmed()
    receive(session, in_dialog("INVITE", 2, body=OFFER), 5.0)
    receive(session, in_dialog("INVITE", 3, body=NEW_OFFER, branch="z9hG4bKx"), 5.1)
    assert host.statuses() == [500]
    assert host.responses[-1][1].headers.get("retry-after") == "5"


def test_491_retry_delay_depends_on_who_owns_the_call_id() -> None:
    assert glare_retry_delay(True, lambda: 0.0) == 2.1
    assert glare_retry_delay(True, lambda: 0.999) == 3.99
    assert glare_retry_delay(False, lambda: 0.0) == 0.0
    assert glare_retry_delay(False, lambda: 0.999) == 2.0


def test_reinvite_retried_after_491() -> None:
    session, host = confirmed()
    key = session.reinvite(5.0, NEW_OFFER, [("Subject", "hold")])
    answer_to(session, key, 491, 5.2, to_tag="phone-tag", contact=None)
    assert session.next_deadline() == pytest.approx(6.2)  # not the owner: 0-2 s, here 1.0
    session.handle_timer(6.2)
    (_, first), (_, again) = host.requests
    assert again.method == "INVITE" and again.body == NEW_OFFER
    assert again.cseq.seq == first.cseq.seq + 1
    assert again.headers.get("subject") == "hold"
    assert again.branch != first.branch


def test_491_retry_dropped_when_another_exchange_started() -> None:
    session, host = confirmed()
    key = session.reinvite(5.0, NEW_OFFER)
    answer_to(session, key, 491, 5.2, to_tag="phone-tag")
    receive(session, in_dialog("INVITE", 2, body=OFFER), 5.5)
    session.handle_timer(6.2)
    assert events(session)[-1] == OfferRejected(session.id, 491)
    assert len(host.requests) == 1


def test_our_reinvite_answered() -> None:
    session, host = confirmed()
    key = session.reinvite(5.0, NEW_OFFER)
    _, request = host.requests[-1]
    assert request.headers.get("contact") == "<sip:pbx@198.51.100.1:5060>"
    assert request.headers.get("allow") is not None
    answer_to(session, key, 200, 5.1, to_tag="phone-tag", body=OFFER, contact="sip:bob@h2")
    ack = host.stateless[-1]
    assert ack.method == "ACK" and ack.cseq == (request.cseq.seq, "ACK")  # type: ignore[union-attr]
    assert events(session) == [AnswerReceived(session.id, OFFER)]
    assert session.dialog.remote_target == "sip:bob@h2"
    # The 2xx retransmitted: the same ACK again.
    answer_to(session, key, 200, 5.6, to_tag="phone-tag", body=OFFER, contact="sip:bob@h2")
    assert host.stateless[-1].serialize() == ack.serialize()


def test_our_reinvite_refused() -> None:
    session, _ = confirmed()
    key = session.reinvite(5.0, NEW_OFFER)
    answer_to(session, key, 488, 5.1, to_tag="phone-tag")
    assert events(session) == [OfferRejected(session.id, 488)]
    session.update(6.0, NEW_OFFER)  # the offer is no longer outstanding


def test_reinvite_without_offer_gets_one_in_the_2xx() -> None:
    session, host = confirmed()
    key = session.reinvite(5.0)
    answer_to(session, key, 200, 5.1, to_tag="phone-tag", body=OFFER)
    assert events(session) == [OfferReceived(session.id, OFFER, "INVITE")]
    assert host.stateless == []  # the ACK waits for our answer
    session.answer(5.2, ANSWER)
    assert host.stateless[-1].body == ANSWER


def test_update_offer_both_ways() -> None:
    session, host = confirmed()
    key = session.update(5.0, NEW_OFFER)
    answer_to(session, key, 200, 5.1, to_tag="phone-tag", body=OFFER)
    assert events(session) == [AnswerReceived(session.id, OFFER)]
    update = in_dialog("UPDATE", 2, body=NEW_OFFER)
    ukey = receive(session, update, 6.0)
    assert events(session) == [OfferReceived(session.id, NEW_OFFER, "UPDATE")]
    session.answer(6.1, ANSWER)
    assert host.responses[-1][0] == ukey
    assert host.responses[-1][1].status == 200 and host.responses[-1][1].body == ANSWER


def test_update_while_their_offer_is_unanswered_gets_500() -> None:
    session, host = confirmed()
    receive(session, in_dialog("UPDATE", 2, body=OFFER), 6.0)
    receive(session, in_dialog("UPDATE", 3, body=NEW_OFFER), 6.1)
    assert host.statuses() == [500]


def test_update_without_body_is_a_refresh() -> None:
    session, host = confirmed("Supported: timer", "Session-Expires: 600")
    receive(session, in_dialog("UPDATE", 2, "Supported: timer", "Session-Expires: 600"), 100.0)
    assert host.statuses() == [200]
    assert host.responses[-1][1].headers.get("session-expires") == "600;refresher=uac"
    assert session.next_deadline() == 100.0 + 600 - 32


def test_update_retried_after_491_as_owner() -> None:
    session, host = confirmed()
    session.call_id_owner = True
    key = session.update(5.0, NEW_OFFER)
    answer_to(session, key, 491, 5.0, to_tag="phone-tag")
    assert session.next_deadline() == pytest.approx(5.0 + 2.1 + 0.95)
    session.handle_timer(8.05)
    assert host.methods() == ["UPDATE", "UPDATE"]


def test_cseq_out_of_order_gets_500() -> None:
    session, host = confirmed()
    receive(session, in_dialog("INFO", 5), 1.0)
    receive(session, in_dialog("INFO", 4), 1.1)
    assert host.statuses() == [500]


def test_other_requests_are_passed_up_and_answered() -> None:
    session, host = confirmed()
    info = in_dialog("INFO", 2, body=b"Signal=5")
    key = receive(session, info, 1.0)
    assert events(session) == [InDialogRequestReceived(session.id, key, info)]  # type: ignore[arg-type]
    session.respond(key, info, 200, 1.1)  # type: ignore[arg-type]
    assert host.statuses() == [200]
    receive(session, in_dialog("PRACK", 3, "RAck: 1 1 INVITE"), 1.2)
    assert host.statuses() == [200, 481]


def test_our_info_and_its_response() -> None:
    session, host = confirmed()
    key = session.request("INFO", 1.0, body=b"Signal=1", content_type="application/dtmf-relay")
    answer_to(session, key, 100, 1.05, to_tag="phone-tag")
    answer_to(session, key, 200, 1.1, to_tag="phone-tag")
    (event,) = events(session)
    assert isinstance(event, InDialogResponseReceived) and event.response.status == 200
    with pytest.raises(LocalProtocolError):
        session.request("BYE", 1.2)
    stray = reply(host.requests[-1][1], 200, to_tag="phone-tag")
    session.receive(ResponseReceived(("nope", "INFO"), stray, PHONE), 1.3)
    assert events(session) == []


def test_481_ends_the_dialog_and_408_sends_bye() -> None:
    session, host = confirmed()
    key = session.request("NOTIFY", 1.0)
    answer_to(session, key, 481, 1.1, to_tag="phone-tag")
    assert events(session) == [DialogTerminated(session.id, TERMINATED_GONE, 481)]
    assert host.methods() == ["NOTIFY"]
    session, host = confirmed()
    key = session.request("INFO", 1.0)
    timeout = reply(host.requests[-1][1], 408, to_tag="phone-tag")
    session.receive(TransactionTimedOut(key, "F", timeout), 33.0)
    assert host.methods() == ["INFO", "BYE"]
    session.receive(TransactionTimedOut(("x", "INVITE"), "H", None), 34.0)
    session.receive(TransactionFailed(("x", "INVITE"), None), 34.0)


def test_reinvite_timeout_and_481() -> None:
    session, host = confirmed()
    key = session.reinvite(1.0, NEW_OFFER)
    answer_to(session, key, 408, 1.1, to_tag="phone-tag")
    assert host.methods() == ["INVITE", "BYE"]
    assert session.terminated
    with pytest.raises(LocalProtocolError, match="terminated"):
        session.reinvite(2.0, NEW_OFFER)
    session, host = confirmed()
    key = session.update(1.0, NEW_OFFER)
    answer_to(session, key, 481, 1.1, to_tag="phone-tag")
    assert host.methods() == ["UPDATE"] and session.terminated


def test_session_expires_without_refresh_sends_bye() -> None:
    session, host = confirmed("Supported: timer", "Session-Expires: 90")
    assert host.statuses() == []
    assert session.timer.running and not session.timer.local_refresher
    assert session.next_deadline() == pytest.approx(60.0)  # 90 - min(32, 30)
    session.handle_timer(59.9)
    assert host.requests == []
    session.handle_timer(60.0)
    assert host.methods() == ["BYE"]
    assert events(session) == [DialogTerminated(session.id, TERMINATED_SESSION_EXPIRED)]


def test_refresh_by_reinvite_restarts_the_timer() -> None:
    session, host = confirmed("Supported: timer", "Session-Expires: 90")
    key = receive(session, in_dialog("INVITE", 2, "Supported: timer", "Session-Expires: 90"), 40.0)
    assert host.responses[-1][0] == key and host.responses[-1][1].body == ANSWER
    session.receive(AckReceived(None, in_dialog("ACK", 2, body=OFFER), PHONE), 40.1)
    assert session.next_deadline() == pytest.approx(100.0)


def test_we_refresh_with_update_when_allowed() -> None:
    session, host = confirmed(
        "Supported: timer", "Session-Expires: 120;refresher=uas", "Allow: INVITE, ACK, UPDATE"
    )
    assert session.timer.local_refresher
    assert session.next_deadline() == pytest.approx(60.0)
    session.handle_timer(60.0)
    key, update = host.last_request()
    assert update.method == "UPDATE" and update.body == b""
    assert update.headers.get("session-expires") == "120;refresher=uac"
    assert update.headers.get("supported") == "100rel, timer"
    assert session.next_deadline() == pytest.approx(120.0)
    answer_to(
        session,
        key,
        200,
        60.1,
        to_tag="phone-tag",
        extra=[("Session-Expires", "120;refresher=uac"), ("Require", "timer")],
    )
    assert events(session) == [SessionRefreshed(session.id, 120)]
    assert session.next_deadline() == pytest.approx(120.1)


def test_we_refresh_with_reinvite_otherwise_and_retry_after_422() -> None:
    session, host = confirmed("Supported: timer", "Session-Expires: 120;refresher=uas")
    session.handle_timer(60.0)
    key, reinvite = host.last_request()
    assert reinvite.method == "INVITE" and reinvite.body == ANSWER
    answer_to(session, key, 422, 60.1, to_tag="phone-tag", extra=[("Min-SE", "300")])
    key, again = host.last_request()
    assert again.headers.get("session-expires") == "300;refresher=uac"
    assert again.cseq.seq == reinvite.cseq.seq + 1
    answer_to(session, key, 200, 60.2, to_tag="phone-tag", body=OFFER)
    assert events(session) == [SessionRefreshed(session.id, 0), AnswerReceived(session.id, OFFER)]
    assert not session.timer.running  # the 2xx carried no Session-Expires


def test_refresh_refused_lets_the_session_expire() -> None:
    session, host = confirmed(
        "Supported: timer", "Session-Expires: 120;refresher=uas", "Allow: UPDATE"
    )
    session.handle_timer(60.0)
    key, _ = host.last_request()
    answer_to(session, key, 403, 60.1, to_tag="phone-tag")
    assert session.next_deadline() == pytest.approx(120.0)
    session.handle_timer(120.0)
    assert host.methods() == ["UPDATE", "BYE"]


def test_refresh_postponed_while_an_offer_is_outstanding() -> None:
    session, host = confirmed("Supported: timer", "Session-Expires: 120;refresher=uas")
    receive(session, in_dialog("UPDATE", 2, body=OFFER), 59.0)
    session.handle_timer(60.0)
    assert host.requests == []
    assert session.next_deadline() == pytest.approx(64.0)


def test_a_too_brief_refresh_gets_422() -> None:
    session, host = confirmed(cfg=config(min_se=300))
    receive(session, in_dialog("INVITE", 2, "Supported: timer", "Session-Expires: 100"), 5.0)
    assert host.statuses() == [422]
    assert host.responses[-1][1].headers.get("min-se") == "300"
    session.reinvite(6.0, NEW_OFFER)  # nothing left pending


def test_parse_rack() -> None:
    assert parse_rack("776656 1 INVITE") == (776656, 1, "INVITE")
    assert parse_rack("x 1 INVITE") is None
    assert parse_rack("1 1") is None


def test_terminated_session_ignores_retry_and_commands() -> None:
    session, host = confirmed()
    key = session.reinvite(5.0, NEW_OFFER)
    answer_to(session, key, 491, 5.1, to_tag="phone-tag")
    session.bye(5.2)
    assert session.next_deadline() is None
    session._retry_at = 1.0  # a timer left over: nothing happens
    session._retry = session._outgoing.get(key) or next(iter(session._outgoing.values()))
    session.handle_timer(6.0)
    assert host.methods() == ["INVITE", "BYE"]
    assert isinstance(repr(session), str) and "Terminated" in repr(session)
    assert request_text  # keep the helper import used


def test_accepted_notify_refreshes_the_target() -> None:
    session, _ = confirmed()
    notify = in_dialog("NOTIFY", 2)
    notify.headers.set("Contact", "<sip:bob@192.0.2.77>")  # type: ignore[attr-defined]
    key = receive(session, notify, 1.0)
    session.respond(key, notify, 481, 1.1)  # type: ignore[arg-type]
    assert session.dialog.remote_target == "sip:bob@192.0.2.20:5060"
    session.respond(key, notify, 200, 1.2)  # type: ignore[arg-type]
    assert session.dialog.remote_target == "sip:bob@192.0.2.77"
    info = in_dialog("INFO", 3)
    info.headers.set("Contact", "<sip:bob@192.0.2.78>")  # type: ignore[attr-defined]
    session.respond(receive(session, info, 2.0), info, 200, 2.1)  # type: ignore[arg-type]
    assert session.dialog.remote_target == "sip:bob@192.0.2.77"
