"""Every (state, input) pair of the four machines, over UDP with a fake clock.

Pairs in a machine's table must do exactly what RFC 3261 §17 (and RFC 6026) say: the
datagrams sent, the events emitted, the timers left running, the next state. Pairs not
in the table must change nothing, send nothing, emit nothing and raise nothing.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest
from transaction_support import UDP, drain_events, make_request, new_layer, respond, sent

from switchboard.sip.message import SipRequest, make_response
from switchboard.sip.transaction import (
    AckReceived,
    ResponseReceived,
    TransactionFailed,
    TransactionLayer,
    TransactionTerminated,
    TransactionTimedOut,
)
from switchboard.sip.transaction.client_invite import ClientInviteTransaction, make_ack
from switchboard.sip.transaction.client_non_invite import ClientNonInviteTransaction
from switchboard.sip.transaction.machine import Input, State, Transaction
from switchboard.sip.transaction.server_invite import ServerInviteTransaction
from switchboard.sip.transaction.server_non_invite import ServerNonInviteTransaction

I = Input  # noqa: E741 - short for the tables below
S = State
NOW = 1.0


@dataclass
class Setup:
    """A layer holding one transaction driven into a given state."""

    layer: TransactionLayer
    transaction: Transaction
    request: SipRequest


def _client(method: str, responses: tuple[int, ...], timer: Input | None = None) -> Setup:
    layer = new_layer()
    request = make_request(method, branch=None, via="SIP/2.0/UDP pbx.example.com:5060")
    key = layer.send_request(request, UDP, 0.0)
    transaction = layer._clients[key]
    for status in responses:
        layer.receive(respond(request, status), UDP, 0.0)
    if timer is not None:
        transaction.process(timer, 0.0)
    sent(layer)
    drain_events(layer)
    return Setup(layer, transaction, request)


def _server(method: str, statuses: tuple[int, ...], ack: bool = False, timer: Input | None = None):
    layer = new_layer(settle=False)  # the machine itself, not the layer's settled record
    request = make_request(method)
    layer.receive(request, UDP, 0.0)
    (event,) = drain_events(layer)
    transaction = layer._servers[event.key]  # type: ignore[union-attr]
    for status in statuses:
        assert layer.send_response(transaction.key, make_response(request, status, to_tag="tt1"), 0)
    if ack:
        layer.receive(make_ack(request, respond(request, statuses[-1])), UDP, 0.0)
    if timer is not None:
        transaction.process(timer, 0.0)
    sent(layer)
    drain_events(layer)
    return Setup(layer, transaction, request)


REACH = {
    ClientInviteTransaction: {
        S.CALLING: lambda: _client("INVITE", ()),
        S.PROCEEDING: lambda: _client("INVITE", (180,)),
        S.COMPLETED: lambda: _client("INVITE", (486,)),
        S.ACCEPTED: lambda: _client("INVITE", (200,)),
        S.TERMINATED: lambda: _client("INVITE", (), I.TIMER_B),
    },
    ClientNonInviteTransaction: {
        S.TRYING: lambda: _client("OPTIONS", ()),
        S.PROCEEDING: lambda: _client("OPTIONS", (180,)),
        S.COMPLETED: lambda: _client("OPTIONS", (200,)),
        S.TERMINATED: lambda: _client("OPTIONS", (), I.TIMER_F),
    },
    ServerInviteTransaction: {
        S.PROCEEDING: lambda: _server("INVITE", ()),
        S.COMPLETED: lambda: _server("INVITE", (486,)),
        S.CONFIRMED: lambda: _server("INVITE", (486,), ack=True),
        S.ACCEPTED: lambda: _server("INVITE", (200,)),
        S.TERMINATED: lambda: _server("INVITE", (486,), timer=I.TIMER_H),
    },
    ServerNonInviteTransaction: {
        S.TRYING: lambda: _server("OPTIONS", ()),
        S.PROCEEDING: lambda: _server("OPTIONS", (100,)),
        S.COMPLETED: lambda: _server("OPTIONS", (200,)),
        S.TERMINATED: lambda: _server("OPTIONS", (200,), timer=I.TIMER_J),
    },
}

TT = TransactionTerminated
# (state, input): (datagrams sent, events emitted, timers running after)
EXPECTED: dict[type[Transaction], dict[tuple[State, Input], tuple[list, list, set]]] = {
    ClientInviteTransaction: {
        (S.CALLING, I.TIMER_A): (["INVITE"], [], {I.TIMER_A, I.TIMER_B}),
        (S.CALLING, I.TIMER_B): ([], [TransactionTimedOut, TT], set()),
        (S.CALLING, I.TRANSPORT_ERROR): ([], [TransactionFailed, TT], set()),
        (S.CALLING, I.RECV_1XX): ([], [ResponseReceived], set()),
        (S.CALLING, I.RECV_2XX): ([], [ResponseReceived], {I.TIMER_M}),
        (S.CALLING, I.RECV_300_699): (["ACK"], [ResponseReceived], {I.TIMER_D}),
        (S.PROCEEDING, I.RECV_1XX): ([], [ResponseReceived], set()),
        (S.PROCEEDING, I.RECV_2XX): ([], [ResponseReceived], {I.TIMER_M}),
        (S.PROCEEDING, I.RECV_300_699): (["ACK"], [ResponseReceived], {I.TIMER_D}),
        (S.COMPLETED, I.RECV_300_699): (["ACK"], [], {I.TIMER_D}),
        (S.COMPLETED, I.TIMER_D): ([], [TT], set()),
        (S.COMPLETED, I.TRANSPORT_ERROR): ([], [TransactionFailed, TT], set()),
        (S.ACCEPTED, I.RECV_2XX): ([], [ResponseReceived], {I.TIMER_M}),
        (S.ACCEPTED, I.TIMER_M): ([], [TT], set()),
    },
    ClientNonInviteTransaction: {
        (S.TRYING, I.TIMER_E): (["OPTIONS"], [], {I.TIMER_E, I.TIMER_F}),
        (S.TRYING, I.TIMER_F): ([], [TransactionTimedOut, TT], set()),
        (S.TRYING, I.TRANSPORT_ERROR): ([], [TransactionFailed, TT], set()),
        (S.TRYING, I.RECV_1XX): ([], [ResponseReceived], {I.TIMER_E, I.TIMER_F}),
        (S.TRYING, I.RECV_2XX): ([], [ResponseReceived], {I.TIMER_K}),
        (S.TRYING, I.RECV_300_699): ([], [ResponseReceived], {I.TIMER_K}),
        (S.PROCEEDING, I.TIMER_E): (["OPTIONS"], [], {I.TIMER_E, I.TIMER_F}),
        (S.PROCEEDING, I.TIMER_F): ([], [TransactionTimedOut, TT], set()),
        (S.PROCEEDING, I.TRANSPORT_ERROR): ([], [TransactionFailed, TT], set()),
        (S.PROCEEDING, I.RECV_1XX): ([], [ResponseReceived], {I.TIMER_E, I.TIMER_F}),
        (S.PROCEEDING, I.RECV_2XX): ([], [ResponseReceived], {I.TIMER_K}),
        (S.PROCEEDING, I.RECV_300_699): ([], [ResponseReceived], {I.TIMER_K}),
        (S.COMPLETED, I.RECV_2XX): ([], [], {I.TIMER_K}),
        (S.COMPLETED, I.RECV_300_699): ([], [], {I.TIMER_K}),
        (S.COMPLETED, I.TIMER_K): ([], [TT], set()),
    },
    ServerInviteTransaction: {
        (S.PROCEEDING, I.RECV_REQUEST): ([100], [], set()),
        (S.PROCEEDING, I.SEND_1XX): ([180], [], set()),
        (S.PROCEEDING, I.SEND_2XX): ([200], [], {I.TIMER_L}),
        (S.PROCEEDING, I.SEND_300_699): ([486], [], {I.TIMER_G, I.TIMER_H}),
        (S.PROCEEDING, I.TRANSPORT_ERROR): ([], [TransactionFailed, TT], set()),
        (S.COMPLETED, I.RECV_REQUEST): ([486], [], {I.TIMER_G, I.TIMER_H}),
        (S.COMPLETED, I.TIMER_G): ([486], [], {I.TIMER_G, I.TIMER_H}),
        (S.COMPLETED, I.TIMER_H): ([], [TransactionTimedOut, TT], set()),
        (S.COMPLETED, I.RECV_ACK): ([], [], {I.TIMER_I}),
        (S.COMPLETED, I.TRANSPORT_ERROR): ([], [TransactionFailed, TT], set()),
        (S.CONFIRMED, I.RECV_ACK): ([], [], {I.TIMER_I}),
        (S.CONFIRMED, I.RECV_REQUEST): ([], [], {I.TIMER_I}),
        (S.CONFIRMED, I.TIMER_I): ([], [TT], set()),
        (S.ACCEPTED, I.RECV_REQUEST): ([], [], {I.TIMER_L}),
        (S.ACCEPTED, I.SEND_2XX): ([200], [], {I.TIMER_L}),
        (S.ACCEPTED, I.RECV_ACK): ([], [AckReceived], {I.TIMER_L}),
        (S.ACCEPTED, I.TIMER_L): ([], [TT], set()),
    },
    ServerNonInviteTransaction: {
        (S.TRYING, I.RECV_REQUEST): ([], [], set()),
        (S.TRYING, I.SEND_1XX): ([180], [], set()),
        (S.TRYING, I.SEND_2XX): ([200], [], {I.TIMER_J}),
        (S.TRYING, I.SEND_300_699): ([486], [], {I.TIMER_J}),
        (S.PROCEEDING, I.RECV_REQUEST): ([100], [], set()),
        (S.PROCEEDING, I.SEND_1XX): ([180], [], set()),
        (S.PROCEEDING, I.SEND_2XX): ([200], [], {I.TIMER_J}),
        (S.PROCEEDING, I.SEND_300_699): ([486], [], {I.TIMER_J}),
        (S.PROCEEDING, I.TRANSPORT_ERROR): ([], [TransactionFailed, TT], set()),
        (S.COMPLETED, I.RECV_REQUEST): ([200], [], {I.TIMER_J}),
        (S.COMPLETED, I.TIMER_J): ([], [TT], set()),
        (S.COMPLETED, I.TRANSPORT_ERROR): ([], [TransactionFailed, TT], set()),
    },
}

STATUS = {
    I.RECV_1XX: 180,
    I.RECV_2XX: 200,
    I.RECV_300_699: 486,
    I.SEND_1XX: 180,
    I.SEND_2XX: 200,
    I.SEND_300_699: 486,
}

CASES = [
    pytest.param(machine, state, input_, id=f"{machine.__name__}-{state.name}-{input_.name}")
    for machine in REACH
    for state, input_ in itertools.product(machine.STATES, machine.INPUTS)
]


def _feed(setup: Setup, input_: Input) -> bool:
    """Apply ``input_`` the way it happens for real: via the layer, or as a timer."""
    layer, transaction, request = setup.layer, setup.transaction, setup.request
    before = layer.ignored
    if input_.name.startswith("TIMER_"):
        return transaction.process(input_, NOW)
    if input_ is I.TRANSPORT_ERROR:
        return layer.transport_failed(UDP, NOW) == 1
    if input_.name.startswith("SEND_"):
        response = make_response(request, STATUS[input_], to_tag="tt1")
        return layer.send_response(transaction.key, response, NOW)
    if input_ in (I.RECV_1XX, I.RECV_2XX, I.RECV_300_699):
        layer.receive(respond(request, STATUS[input_]), UDP, NOW)
    elif input_ is I.RECV_ACK:
        final = transaction.last_response
        status = final.status if final is not None and final.status >= 200 else 486
        layer.receive(make_ack(request, respond(request, status)), UDP, NOW)
    else:
        layer.receive(make_request(request.method), UDP, NOW)
    return layer.ignored == before


def test_every_table_pair_has_an_expectation() -> None:
    for machine, expected in EXPECTED.items():
        assert set(expected) == set(machine.TRANSITIONS), machine.__name__
        assert set(REACH[machine]) == set(machine.STATES)
        for state, input_ in machine.TRANSITIONS:
            assert state in machine.STATES and input_ in machine.INPUTS


@pytest.mark.parametrize("machine, state, input_", CASES)
def test_state_input_pair(machine: type[Transaction], state: State, input_: Input) -> None:
    setup = REACH[machine][state]()
    transaction = setup.transaction
    assert type(transaction) is machine and transaction.state is state
    if state is S.TERMINATED:
        # Gone from the layer: only the machine itself can still be fed, and refuses.
        assert not transaction.process(input_, NOW)
        assert transaction.state is S.TERMINATED and not transaction.armed
        return
    armed_before = transaction.armed
    handled = _feed(setup, input_)
    expected = EXPECTED[machine].get((state, input_))
    if expected is None:
        assert not handled
        assert transaction.state is state
        assert transaction.armed == armed_before
        assert sent(setup.layer) == []
        assert drain_events(setup.layer) == []
        return
    datagrams, events, armed = expected
    next_state = machine.TRANSITIONS[state, input_][1]
    assert handled
    assert transaction.state is next_state
    assert sent(setup.layer) == datagrams
    assert [type(event) for event in drain_events(setup.layer)] == events
    assert transaction.armed == armed
    live = setup.layer.state_of(transaction.key)
    assert live is (None if next_state is S.TERMINATED else next_state)
