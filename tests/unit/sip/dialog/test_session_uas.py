"""The UAS of an INVITE: provisionals, 100rel and PRACK, the 2xx until ACK, CANCEL, BYE."""

from __future__ import annotations

import pytest
from dialog_support import PHONE, Host, config, request_text

from switchboard.sip.dialog import DialogState
from switchboard.sip.errors import LocalProtocolError, RemoteProtocolError
from switchboard.sip.message import error_response
from switchboard.sip.reason import q850_reason
from switchboard.sip.session import (
    TERMINATED_ACK_TIMEOUT,
    TERMINATED_BYE_RECEIVED,
    TERMINATED_BYE_SENT,
    TERMINATED_CANCELLED,
    TERMINATED_PRACK_TIMEOUT,
    TERMINATED_REJECTED,
    SessionConfig,
)
from switchboard.sip.session_events import (
    Acknowledged,
    AnswerReceived,
    DialogEstablished,
    DialogTerminated,
    OfferReceived,
    SessionEvent,
)
from switchboard.sip.session_uas import ServerSession
from switchboard.sip.transaction.events import AckReceived, CancelReceived, RequestReceived

OFFER = b"v=0\r\no=bob 1 1 IN IP4 192.0.2.20\r\n"
ANSWER = b"v=0\r\no=pbx 7 7 IN IP4 198.51.100.1\r\n"
INVITE_KEY = ("z9hG4bKphone1", "192.0.2.20:5060", "INVITE")


def events(session: ServerSession) -> list[SessionEvent]:
    found = []
    while (event := session.next_event()) is not None:
        found.append(event)
    return found


def uas(
    *extra: str, body: bytes = OFFER, cfg: SessionConfig | None = None
) -> tuple[ServerSession, Host]:
    host = Host()
    invite = request_text(extra=extra, body=body)
    session = ServerSession(
        RequestReceived(INVITE_KEY, invite, PHONE),
        host=host,
        config=cfg or config(),
        local_tag="pbx-tag",
        random=lambda: 0.5,
    )
    return session, host


def in_dialog(method: str, seq: int, *extra: str, body: bytes = b"", branch: str = "") -> object:
    return request_text(
        method, to_tag="pbx-tag", seq=seq, extra=extra, body=body, branch=branch or f"z9hG4bK{seq}"
    )


def test_answer_an_offer_and_retransmit_the_2xx_until_ack() -> None:
    session, host = uas()
    assert events(session) == [OfferReceived(session.id, OFFER, "INVITE")]
    session.ring(0.0)
    session.accept(0.0, ANSWER)
    assert events(session) == [DialogEstablished(session.id)]
    assert session.dialog.state is DialogState.CONFIRMED
    (key1, ringing), (key2, ok) = host.responses
    assert key1 == key2 == INVITE_KEY
    assert ringing.status == 180 and ringing.to_tag == "pbx-tag"
    assert ringing.headers.get("contact") == "<sip:pbx@198.51.100.1:5060>"
    assert "require" not in ringing.headers  # Supported: 100rel alone does not make it reliable
    assert ok.status == 200 and ok.body == ANSWER and ok.to_tag == "pbx-tag"
    assert ok.content_type == "application/sdp"
    assert ok.headers.get_all("supported") == ["100rel", "timer"]
    # §13.3.1.4: T1, 2T1, 4T1 ... capped at T2.
    fired = []
    while (deadline := session.next_deadline()) is not None and deadline < 10:
        session.handle_timer(deadline)
        fired.append(deadline)
    assert fired == [0.5, 1.5, 3.5, 7.5]
    assert len(host.responses) == 2 + 4
    ack = in_dialog("ACK", 1)
    session.receive(AckReceived(INVITE_KEY, ack, PHONE), 9.0)
    assert session.next_deadline() is None
    assert events(session) == [Acknowledged(session.id)]


def test_no_ack_within_64_t1_sends_bye() -> None:
    session, host = uas()
    session.accept(0.0, ANSWER)
    fired = []
    while (deadline := session.next_deadline()) is not None:
        fired.append(deadline)
        session.handle_timer(deadline)
    assert fired == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5, 32.0]
    assert host.methods() == ["BYE"]
    assert host.statuses() == [200] * 11
    terminated = events(session)[-1]
    assert terminated == DialogTerminated(session.id, TERMINATED_ACK_TIMEOUT)
    assert session.terminated


def test_2xx_retransmission_falls_back_to_stateless_when_the_transaction_is_gone() -> None:
    session, host = uas()
    session.accept(0.0, ANSWER)
    host.accepts_responses = False
    session.handle_timer(0.5)
    assert [m.status for m in host.stateless] == [200]  # type: ignore[union-attr]


def test_offer_in_the_2xx_and_answer_in_the_ack() -> None:
    session, host = uas(body=b"")
    assert events(session) == []
    session.accept(0.0, ANSWER)
    assert host.responses[-1][1].body == ANSWER
    session.receive(AckReceived(None, in_dialog("ACK", 1, body=OFFER), PHONE), 0.2)
    assert events(session) == [
        DialogEstablished(session.id),
        AnswerReceived(session.id, OFFER),
        Acknowledged(session.id),
    ]
    assert session.remote_sdp == OFFER
    # A stray ACK (other CSeq) or one after the first changes nothing.
    session.receive(AckReceived(None, in_dialog("ACK", 1), PHONE), 0.3)
    assert events(session) == []


def test_peer_requiring_100rel_gets_420_when_we_do_not_support_it() -> None:
    with pytest.raises(RemoteProtocolError) as info:
        uas("Require: 100rel", cfg=config(rel100="no"))
    assert info.value.status == 420
    response = error_response(info.value, "pbx-tag")
    assert response is not None and response.headers.get("unsupported") == "100rel"


def test_100rel_required_of_a_peer_without_it_gets_421() -> None:
    with pytest.raises(RemoteProtocolError) as info:
        uas(cfg=config(rel100="required"))
    assert info.value.status == 421
    assert info.value.headers == (("Require", "100rel"),)


@pytest.mark.parametrize(
    ("mode", "header", "reliable"),
    [
        ("yes", "Supported: 100rel", False),
        ("yes", "Require: 100rel", True),
        ("peer_supported", "Supported: 100rel", True),
        ("peer_supported", "Supported: timer", False),
        ("required", "Supported: 100rel", True),
        ("no", "Supported: 100rel", False),
    ],
)
def test_when_provisionals_are_reliable(mode: str, header: str, reliable: bool) -> None:
    session, _ = uas(header, cfg=config(rel100=mode))
    assert session.reliable_provisionals is reliable


def test_reliable_provisional_until_prack() -> None:
    session, host = uas("Require: 100rel")
    session.ring(0.0, 183, ANSWER)
    _, first = host.responses[-1]
    assert first.headers.get("require") == "100rel"
    rseq = int(first.headers.get("rseq") or 0)
    assert 1 <= rseq < 2**31
    session.ring(0.1, 180)  # queued: one unacknowledged at a time
    session.accept(0.2, ANSWER)  # waits for the PRACK too
    assert host.statuses() == [183]
    session.handle_timer(0.5)
    session.handle_timer(1.5)
    assert host.statuses() == [183, 183, 183]
    assert session.next_deadline() == 3.5
    wrong = in_dialog("PRACK", 2, f"RAck: {rseq + 5} 1 INVITE")
    session.receive(RequestReceived(("p1", "PRACK"), wrong, PHONE), 2.0)
    assert host.responses[-1] == (("p1", "PRACK"), host.responses[-1][1])
    assert host.statuses()[-1] == 481
    prack = in_dialog("PRACK", 3, f"RAck: {rseq} 1 INVITE")
    session.receive(RequestReceived(("p2", "PRACK"), prack, PHONE), 2.1)
    assert host.statuses()[-2:] == [200, 180]
    _, second = host.responses[-1]
    assert second.headers.get("rseq") == str(rseq + 1)
    prack2 = in_dialog("PRACK", 4, f"RAck: {rseq + 1} 1 INVITE")
    session.receive(RequestReceived(("p3", "PRACK"), prack2, PHONE), 2.2)
    assert host.statuses()[-2:] == [200, 200]
    assert host.responses[-1][0] == INVITE_KEY and host.responses[-1][1].body == ANSWER
    assert events(session) == [
        OfferReceived(session.id, OFFER, "INVITE"),
        DialogEstablished(session.id),
    ]


def test_offer_in_a_reliable_provisional_answered_in_prack() -> None:
    session, host = uas("Supported: 100rel", body=b"", cfg=config(rel100="peer_supported"))
    session.ring(0.0, 183, ANSWER)
    rseq = host.responses[-1][1].headers.get("rseq")
    prack = in_dialog("PRACK", 2, f"RAck: {rseq} 1 INVITE", body=OFFER)
    session.receive(RequestReceived(("p1", "PRACK"), prack, PHONE), 0.1)
    assert events(session) == [AnswerReceived(session.id, OFFER)]
    session.accept(0.2)
    assert host.responses[-1][1].body == ANSWER
    session.receive(AckReceived(None, in_dialog("ACK", 1), PHONE), 0.3)
    # no second offer/answer
    assert events(session) == [DialogEstablished(session.id), Acknowledged(session.id)]


def test_no_prack_within_64_t1_rejects_the_invite() -> None:
    session, host = uas("Require: 100rel")
    session.ring(0.0, 180)
    while (deadline := session.next_deadline()) is not None:
        session.handle_timer(deadline)
    assert host.statuses() == [180] * 7 + [500]  # 0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5; 32
    assert events(session)[-1] == DialogTerminated(session.id, TERMINATED_PRACK_TIMEOUT, 500)


def test_cancel_gets_200_and_the_invite_487() -> None:
    session, host = uas()
    session.ring(0.0)
    reason = str(q850_reason(16))
    cancel = request_text("CANCEL", extra=[f"Reason: {reason}"])
    session.receive(CancelReceived(("c1", "CANCEL"), INVITE_KEY, cancel, PHONE), 1.0)
    assert host.responses[-2][0] == ("c1", "CANCEL") and host.statuses()[-2:] == [200, 487]
    assert host.responses[-1][1].to_tag == "pbx-tag"
    terminated = events(session)[-1]
    assert terminated == DialogTerminated(session.id, TERMINATED_CANCELLED, 487, (q850_reason(16),))
    assert session.terminated


def test_cancel_after_the_2xx_changes_nothing() -> None:
    session, host = uas()
    session.accept(0.0, ANSWER)
    cancel = request_text("CANCEL")
    session.receive(CancelReceived(("c1", "CANCEL"), INVITE_KEY, cancel, PHONE), 0.1)
    assert host.statuses() == [200, 200]
    assert not session.terminated


def test_reject_ends_the_early_dialog() -> None:
    session, host = uas()
    session.reject(0.0, 486)
    assert host.statuses() == [486]
    assert events(session)[-1] == DialogTerminated(session.id, TERMINATED_REJECTED, 486)
    with pytest.raises(LocalProtocolError):
        session.ring(1.0)
    with pytest.raises(LocalProtocolError):
        session.accept(1.0)
    with pytest.raises(LocalProtocolError):
        session.reject(1.0, 603)


def test_commands_that_break_the_rules() -> None:
    session, _ = uas()
    with pytest.raises(LocalProtocolError):
        session.ring(0.0, 200)
    with pytest.raises(LocalProtocolError):
        session.reject(0.0, 200)
    with pytest.raises(LocalProtocolError, match="confirmed"):
        session.bye(0.0)


def test_bye_before_the_answer_gets_487_for_the_invite() -> None:
    session, host = uas()
    session.ring(0.0)
    bye = in_dialog("BYE", 2)
    session.receive(RequestReceived(("b1", "BYE"), bye, PHONE), 1.0)
    assert host.statuses() == [180, 200, 487]
    assert events(session)[-1] == DialogTerminated(session.id, TERMINATED_BYE_RECEIVED)


def test_bye_in_a_confirmed_dialog() -> None:
    session, host = uas()
    session.accept(0.0, ANSWER)
    bye = in_dialog("BYE", 2, 'Reason: Q.850;cause=16;text="Normal Clearing"', "Reason: x;;")
    session.receive(RequestReceived(("b1", "BYE"), bye, PHONE), 1.0)
    assert host.responses[-1][0] == ("b1", "BYE") and host.statuses()[-1] == 200
    assert events(session)[-1] == DialogTerminated(
        session.id, TERMINATED_BYE_RECEIVED, None, (q850_reason(16),)
    )
    assert session.next_deadline() is None
    # Requests after the end get 481.
    session.receive(RequestReceived(("i1", "INFO"), in_dialog("INFO", 3), PHONE), 2.0)
    assert host.statuses()[-1] == 481


def test_we_hang_up_with_bye_and_a_reason() -> None:
    session, host = uas()
    session.accept(0.0, ANSWER)
    session.receive(AckReceived(None, in_dialog("ACK", 1), PHONE), 0.1)
    session.bye(1.0, q850_reason(16))
    _key, bye = host.last_request("BYE")
    assert bye.uri_text == "sip:bob@192.0.2.20:5060"
    assert bye.headers.get("reason") == 'Q.850;cause=16;text="Normal Clearing"'
    assert bye.cseq == (1, "BYE")
    assert events(session)[-1] == DialogTerminated(session.id, TERMINATED_BYE_SENT)
    session.terminate(2.0, "again")  # once only
    assert events(session) == []


def test_dialog_creating_responses_copy_record_route() -> None:
    routes = ["Record-Route: <sip:p1.example.com;lr>", "Record-Route: <sip:p2.example.com;lr>"]
    session, host = uas(*routes)
    session.ring(0.0)
    session.accept(0.1, ANSWER)
    for _, response in host.responses:
        assert response.headers.get_all("record-route") == [
            "<sip:p1.example.com;lr>",
            "<sip:p2.example.com;lr>",
        ]
    session, host = uas(*routes)
    session.reject(0.0, 486)
    assert "record-route" not in host.responses[-1][1].headers
