"""Simulated loss: a client layer and a server layer wired back to back over lossy UDP.

Hypothesis picks which datagrams are dropped (in the order they are sent). A non-INVITE
request must complete at exactly the first retransmission whose copy and answer both get
through, or time out at exactly 64*T1 (Timer F); an INVITE answered 486 must follow the
INVITE client and server timers to the letter.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from hypothesis import event as note_case
from hypothesis import example, given, settings
from hypothesis import strategies as st
from transaction_support import drain_events, make_request, new_layer

from switchboard.sip.message import SipRequest, make_response, parse_datagram
from switchboard.sip.peer import Peer
from switchboard.sip.transaction import (
    Event,
    RequestReceived,
    ResponseReceived,
    State,
    TransactionLayer,
    TransactionTerminated,
    TransactionTimedOut,
)

CLIENT = Peer("udp", "192.0.2.1", 5060)
SERVER = Peer("udp", "192.0.2.2", 5060)
NON_INVITE_SENDS = [0.0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
INVITE_SENDS = [0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
# Light loss, and heavy loss (9 in 10) so that every timeout path is reached.
DROPS = st.one_of(
    st.lists(st.booleans(), max_size=40),
    st.lists(st.sampled_from([True] * 9 + [False]), max_size=60),
)


@dataclass
class Wire:
    """Two layers, a lossy link between them, and a server TU that answers at once."""

    drops: Iterator[bool]
    status: int
    client: TransactionLayer = field(default_factory=new_layer)
    server: TransactionLayer = field(default_factory=new_layer)
    now: float = 0.0
    client_events: list[tuple[float, Event]] = field(default_factory=list)
    server_events: list[tuple[float, Event]] = field(default_factory=list)
    delivered: list[tuple[float, str, str | int]] = field(default_factory=list)
    dropped: list[tuple[float, str, str | int]] = field(default_factory=list)

    def settle(self) -> None:
        """Move datagrams both ways until nothing is left to send at this instant."""
        moved = True
        while moved:
            moved = False
            for source, target, source_peer, name in (
                (self.client, self.server, CLIENT, "c>s"),
                (self.server, self.client, SERVER, "s>c"),
            ):
                for data, _ in source.datagrams_to_send():
                    moved = True
                    message = parse_datagram(data)
                    what = message.method if isinstance(message, SipRequest) else message.status
                    if next(self.drops, False):
                        self.dropped.append((self.now, name, what))
                        continue
                    self.delivered.append((self.now, name, what))
                    target.receive(message, source_peer, self.now)
            for event in drain_events(self.server):
                self.server_events.append((self.now, event))
                if isinstance(event, RequestReceived):
                    response = make_response(event.request, self.status, to_tag="srv")
                    self.server.send_response(event.key, response, self.now)
            self.client_events.extend((self.now, e) for e in drain_events(self.client))

    def run(self, request: SipRequest) -> None:
        """Send ``request`` at 0 and run the fake clock until both layers are idle."""
        self.client.send_request(request, SERVER, 0.0)
        self.settle()
        while True:
            deadlines = [d for d in (self.client.next_deadline(), self.server.next_deadline()) if d]
            if not deadlines:
                return
            self.now = min(deadlines)
            self.client.handle_timer(self.now)
            self.server.handle_timer(self.now)
            self.settle()


def _of(events: list[tuple[float, Event]], kind: type) -> list[tuple[float, Event]]:
    return [(when, event) for when, event in events if isinstance(event, kind)]


@settings(max_examples=300, deadline=None)
@given(DROPS)
@example([True] * 11)  # every copy lost: Timer F
@example([True, False, True, False, False])  # third copy and its answer get through
def test_non_invite_completes_or_times_out_exactly_per_the_timers(drops: list[bool]) -> None:
    # The model: copy k of the request goes out at NON_INVITE_SENDS[k]; each copy that
    # arrives is answered once (first by the TU, then by the server transaction).
    decisions = iter(drops)
    expected_completion = None
    for when in NON_INVITE_SENDS:
        if not next(decisions, False) and not next(decisions, False):
            expected_completion = when
            break

    wire = Wire(iter(drops), 200)
    wire.run(make_request("OPTIONS", branch=None, via="SIP/2.0/UDP 192.0.2.1:5060"))

    sends = [when for when, name, what in wire.delivered + wire.dropped if what == "OPTIONS"]
    responses = _of(wire.client_events, ResponseReceived)
    timeouts = _of(wire.client_events, TransactionTimedOut)
    terminated = _of(wire.client_events, TransactionTerminated)
    note_case("timed out" if expected_completion is None else "completed")
    if expected_completion is None:
        assert responses == []
        assert [(when, e.timer) for when, e in timeouts] == [(32.0, "F")]  # type: ignore[attr-defined]
        assert sorted(sends) == NON_INVITE_SENDS
        assert [when for when, _ in terminated] == [32.0]
    else:
        assert timeouts == []
        assert [(when, e.response.status) for when, e in responses] == [  # type: ignore[attr-defined]
            (expected_completion, 200)
        ]
        assert sorted(sends) == [t for t in NON_INVITE_SENDS if t <= expected_completion]
        assert [when for when, _ in terminated] == [expected_completion + 5.0]  # Timer K
    # The server saw the request once, and forgot it 64*T1 after answering (Timer J).
    requests = _of(wire.server_events, RequestReceived)
    assert len(requests) <= 1
    server_ends = [when for when, _ in _of(wire.server_events, TransactionTerminated)]
    assert server_ends == [requests[0][0] + 32.0] if requests else server_ends == []
    assert len(wire.client) == len(wire.server) == 0


@settings(max_examples=300, deadline=None)
@given(DROPS)
@example([False, False] + [True] * 11)  # 100 arrives, every 486 is lost: Proceeding
@example([True] * 6 + [False, True, True])  # last INVITE copy arrives, answers lost: Timer B
@example([False, False, False, True, False, False])  # first ACK lost, re-ACK on 486 copy
def test_invite_rejected_over_lossy_udp_follows_the_invite_timers(drops: list[bool]) -> None:
    wire = Wire(iter(drops), 486)
    request = make_request("INVITE", branch=None, via="SIP/2.0/UDP 192.0.2.1:5060")
    wire.run(request)
    key = (request.branch, "INVITE")

    invites = sorted(when for when, name, what in wire.delivered + wire.dropped if what == "INVITE")
    passed_up = _of(wire.client_events, ResponseReceived)
    finals = [(when, e) for when, e in passed_up if e.response.status == 486]  # type: ignore[attr-defined]
    client_end = [when for when, e in _of(wire.client_events, TransactionTerminated)]

    # Timer A: the INVITE goes out on schedule until the first response reaches the client.
    first_response = passed_up[0][0] if passed_up else None
    expected = [t for t in INVITE_SENDS if first_response is None or t <= first_response]
    assert invites == expected
    note_case("no response" if not passed_up else "rejected" if finals else "provisional only")
    if not passed_up:
        # Timer B; a 486 retransmitted after it finds no transaction and is dropped.
        timeouts = _of(wire.client_events, TransactionTimedOut)
        assert [(when, e.timer) for when, e in timeouts] == [(32.0, "B")]  # type: ignore[attr-defined]
        assert client_end == [32.0]
        late = [when for when, name, _ in wire.delivered if name == "s>c"]
        assert all(when >= 32.0 for when in late)
        assert wire.client.ignored == len(late)
    elif finals:
        # The 486 is passed up once; re-ACKed on every copy; gone after Timer D.
        assert len(finals) == 1
        copies = [when for when, name, what in wire.delivered if name == "s>c" and what == 486]
        acks = sorted(when for when, _, what in wire.delivered + wire.dropped if what == "ACK")
        assert acks == copies
        assert client_end == [finals[0][0] + 32.0]
    else:
        # Provisional only: no Timer B in Proceeding, so the client waits for its TU.
        assert wire.client.state_of(key) is State.PROCEEDING

    server_requests = _of(wire.server_events, RequestReceived)
    if not server_requests:
        assert wire.server_events == []
        return
    answered = server_requests[0][0]
    got_ack = [when for when, name, what in wire.delivered if what == "ACK"]
    server_end = [when for when, _ in _of(wire.server_events, TransactionTerminated)]
    server_timeouts = _of(wire.server_events, TransactionTimedOut)
    note_case("server confirmed" if got_ack else "server timed out")
    if got_ack:
        assert server_timeouts == []
        assert server_end == [got_ack[0] + 5.0]  # Timer I
        assert finals, "an ACK is only sent for a received final response"
    else:
        assert [(when, e.timer) for when, e in server_timeouts] == [(answered + 32.0, "H")]  # type: ignore[attr-defined]
        assert server_end == [answered + 32.0]
        assert not finals or all(when >= answered for when, _ in finals)
    # Timer G: the 486 goes out at T1, 2*T1, ... capped at T2 until the ACK or Timer H,
    # and once more for each INVITE copy that arrives before the ACK.
    sent_486 = sorted(when for when, _, what in wire.delivered + wire.dropped if what == 486)
    stop = got_ack[0] if got_ack else answered + 32.0
    by_timer = [answered + t for t in NON_INVITE_SENDS if answered + t <= stop]
    by_copies = [when for when, _, what in wire.delivered if what == "INVITE"]
    by_copies = [when for when in by_copies if answered < when <= stop]
    assert sent_486 == sorted(by_timer + by_copies)
