"""Two endpoints back to back over real transaction layers, bytes on a simulated UDP wire."""

from __future__ import annotations

import itertools

from dialog_support import Host, config, request_text
from test_session_uas import ANSWER, OFFER
from tests.unit.cycles import cyclic_garbage

from switchboard.sip.message import SipRequest, parse_datagram
from switchboard.sip.peer import Peer
from switchboard.sip.reason import q850_reason
from switchboard.sip.session import (
    TERMINATED_BYE_RECEIVED,
    TERMINATED_BYE_SENT,
    TERMINATED_CANCELLED,
    SessionConfig,
)
from switchboard.sip.session_events import (
    AnswerReceived,
    DialogEstablished,
    DialogTerminated,
    InviteFailed,
    OfferReceived,
    SessionEvent,
)
from switchboard.sip.session_router import SessionRouter
from switchboard.sip.session_uac import new_invite
from switchboard.sip.session_uas import ServerSession
from switchboard.sip.transaction import RequestReceived, TransactionLayer
from switchboard.sip.transaction.events import AckReceived, CancelReceived, TransactionTerminated

PBX = Peer("udp", "198.51.100.1", 5060)
PHONE = Peer("udp", "192.0.2.20", 5060)
NEW_OFFER = b"v=0\r\no=pbx 7 8 IN IP4 198.51.100.1\r\na=sendonly\r\n"


class Side:
    """One endpoint: a transaction layer, a session router, and what it saw."""

    def __init__(self, name: str, address: Peer, cfg: SessionConfig, randomness: float) -> None:
        counter = itertools.count(1)
        self.name = name
        self.address = address
        self.config = cfg
        self.layer = TransactionLayer(lambda: f"{name}{next(counter)}")
        self.router = SessionRouter(self.layer)
        # Not a method: sessions keep it, and a bound method would make side and session
        # a cycle, which the reference-counting test below would see.
        self.random = lambda: randomness
        self.events: list[SessionEvent] = []
        self.unrouted: list[object] = []
        self.session: ServerSession | None = None
        self.auto_accept: bytes | None = None

    def pump(self, now: float) -> None:
        while (event := self.layer.next_event()) is not None:
            left = self.router.dispatch(event, now)
            if isinstance(left, RequestReceived) and left.request.method == "INVITE":
                self.session = self.router.accept_invite(
                    left, now, config=self.config, local_tag=f"{self.name}-tag", random=self.random
                )
            elif left is not None and not isinstance(left, TransactionTerminated):
                self.unrouted.append(left)
        while (session_event := self.router.next_event()) is not None:
            self.events.append(session_event)

    def deadline(self) -> float | None:
        deadlines = [d for d in (self.layer.next_deadline(), self.router.next_deadline()) if d]
        return min(deadlines) if deadlines else None

    def fire(self, now: float) -> None:
        self.layer.handle_timer(now)
        self.router.handle_timer(now)


class Wire:
    """Delivers every datagram at once (no loss), and runs both sides on one fake clock."""

    def __init__(self, a: Side, b: Side) -> None:
        self.a, self.b = a, b
        self.now = 0.0
        self.log: list[tuple[str, str]] = []

    def flush(self) -> None:
        moved = True
        while moved:
            moved = False
            for source, target in ((self.a, self.b), (self.b, self.a)):
                source.pump(self.now)
                for data, _ in source.layer.datagrams_to_send():
                    message = parse_datagram(data)
                    name = message.method if isinstance(message, SipRequest) else message.status
                    self.log.append((source.name, str(name)))
                    target.layer.receive(message, source.address, self.now)
                    moved = True
                target.pump(self.now)

    def run_until(self, end: float) -> None:
        self.flush()
        while True:
            deadlines = [d for d in (self.a.deadline(), self.b.deadline()) if d is not None]
            if not deadlines or min(deadlines) > end:
                break
            self.now = max(self.now, min(deadlines))
            self.a.fire(self.now)
            self.b.fire(self.now)
            self.flush()
        self.now = end


def call(cfg_a: SessionConfig | None = None, cfg_b: SessionConfig | None = None) -> tuple:
    a = Side("pbx", PBX, cfg_a or config(), 0.9)
    b = Side("phone", PHONE, cfg_b or config(), 0.1)
    wire = Wire(a, b)
    invite = new_invite(
        uri="sip:alice@192.0.2.20",
        from_address="<sip:101@pbx>",
        to_address="<sip:alice@example.com>",
        from_tag="pbx-tag",
        call_id="e2e-1@pbx",
        config=a.config,
        body=OFFER,
    )
    outgoing = a.router.invite(invite, b.address, 0.0, config=a.config, random=a.random)
    wire.flush()
    return a, b, wire, outgoing


def test_call_answered_and_hung_up() -> None:
    a, b, wire, outgoing = call()
    assert b.session is not None
    assert b.events == [OfferReceived(b.session.id, OFFER, "INVITE")]
    b.session.ring(wire.now)
    wire.run_until(1.0)
    b.session.accept(wire.now, ANSWER)
    wire.flush()
    session = outgoing.sessions["phone-tag"]
    assert a.events[-2:] == [DialogEstablished(session.id), AnswerReceived(session.id, ANSWER)]
    assert ("pbx", "ACK") in wire.log
    assert b.session.next_deadline() is not None  # session timer only: the 2xx was ACKed
    assert b.session._ok is None
    wire.run_until(60.0)
    session.bye(wire.now)
    wire.flush()
    assert a.events[-1] == DialogTerminated(session.id, TERMINATED_BYE_SENT)
    assert b.events[-1] == DialogTerminated(b.session.id, TERMINATED_BYE_RECEIVED)
    assert len(a.router) == len(b.router) == 0
    assert wire.log == [
        ("pbx", "INVITE"),
        ("phone", "100"),
        ("phone", "180"),
        ("phone", "200"),
        ("pbx", "ACK"),
        ("pbx", "BYE"),
        ("phone", "200"),
    ]


def test_a_finished_call_is_freed_by_reference_counting() -> None:
    with cyclic_garbage() as left:
        a, b, wire, outgoing = call()
        assert b.session is not None
        b.session.accept(wire.now, ANSWER)
        wire.flush()
        outgoing.sessions["phone-tag"].bye(wire.now)
        wire.run_until(100.0)  # every transaction over
        assert len(a.router) == len(b.router) == 0
        del a, b, wire, outgoing
    assert left == []


def test_caller_cancels_while_ringing() -> None:
    a, b, wire, outgoing = call()
    assert b.session is not None
    b.session.ring(wire.now)
    wire.flush()
    outgoing.cancel(wire.now, q850_reason(19))
    wire.flush()
    assert b.events[-1] == DialogTerminated(
        b.session.id, TERMINATED_CANCELLED, 487, (q850_reason(19),)
    )
    assert isinstance(a.events[-1], InviteFailed) and a.events[-1].status == 487
    assert wire.log[-4:] == [("pbx", "CANCEL"), ("phone", "200"), ("phone", "487"), ("pbx", "ACK")]
    assert len(a.router) == len(b.router) == 0


def test_glare_both_reinvite_and_both_retry() -> None:
    a, b, wire, outgoing = call()
    assert b.session is not None
    b.session.accept(wire.now, ANSWER)
    wire.flush()
    session = outgoing.sessions["phone-tag"]
    session.reinvite(wire.now, NEW_OFFER)
    b.session.reinvite(wire.now, OFFER)
    # Both INVITEs are on the wire before either is seen.
    wire.flush()
    assert [name for _, name in wire.log].count("491") == 2
    # The phone does not own the Call-ID: it retries first (0-2 s), the PBX after 2.1-4 s.
    assert b.session._retry_at is not None and session._retry_at is not None
    assert b.session._retry_at < session._retry_at
    wire.run_until(1.0)
    assert a.events[-1] == OfferReceived(session.id, OFFER, "INVITE")  # the phone's retry
    session.answer(wire.now, ANSWER)
    wire.run_until(10.0)
    assert b.events[-2:] == [
        AnswerReceived(b.session.id, ANSWER),
        OfferReceived(b.session.id, NEW_OFFER, "INVITE"),  # then the PBX's retry
    ]


def test_reliable_provisionals_end_to_end() -> None:
    strict = config(rel100="required")
    a, b, wire, outgoing = call(strict, strict)
    assert b.session is not None and b.session.reliable_provisionals
    b.session.ring(wire.now, 183, ANSWER)
    b.session.accept(wire.now, ANSWER)  # waits for the PRACK
    wire.flush()
    assert [name for _, name in wire.log] == [
        "INVITE",
        "100",
        "183",
        "PRACK",
        "200",
        "200",
        "ACK",
    ]
    session = outgoing.sessions["phone-tag"]
    assert AnswerReceived(session.id, ANSWER) in a.events


def test_unknown_dialog_gets_481_and_out_of_dialog_requests_are_handed_back() -> None:
    b = Side("phone", PHONE, config(), 0.1)
    stray = request_text("BYE", to_tag="nobody", seq=9, branch="z9hG4bKstray")
    b.layer.receive(stray, PBX, 0.0)
    b.pump(0.0)
    (data, _), *_ = b.layer.datagrams_to_send()
    assert data.startswith(b"SIP/2.0 481 ")
    options = request_text("OPTIONS", branch="z9hG4bKopt")
    b.layer.receive(options, PBX, 0.0)
    b.pump(0.0)
    assert isinstance(b.unrouted[-1], RequestReceived)
    cancel = request_text("CANCEL", branch="z9hG4bKnothing")
    b.layer.receive(cancel, PBX, 0.0)
    b.pump(0.0)
    assert b.layer.datagrams_to_send()[-1][0].startswith(b"SIP/2.0 481 ")
    ack = request_text("ACK", to_tag="nobody", branch="z9hG4bKack")
    b.router.dispatch(AckReceived(None, ack, PBX), 0.0)
    b.router.dispatch(AckReceived(None, request_text("ACK"), PBX), 0.0)
    assert b.layer.datagrams_to_send() == []


def test_router_refuses_an_invite_it_cannot_serve() -> None:
    host = Host()
    router = SessionRouter(host)
    invite = request_text(extra=["Require: foo"])
    event = RequestReceived(("k", "INVITE"), invite, PHONE)
    assert router.accept_invite(event, 0.0, config=config(), local_tag="t", random=float) is None
    assert host.statuses() == [420]
    assert host.responses[0][1].to_tag == "t"
    cancel = request_text("CANCEL")
    router.dispatch(CancelReceived(("c", "CANCEL"), ("k", "INVITE"), cancel, PHONE), 0.0)
    assert host.statuses() == [420, 200]  # the INVITE transaction exists: 200 (§9.2)
