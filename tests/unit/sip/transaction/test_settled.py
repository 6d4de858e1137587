"""Settled server transactions: a completed UDP non-INVITE server transaction kept by the
layer as plain values until Timer J, observably the same as the machine that waits itself."""

from __future__ import annotations

import gc

from hypothesis import given, settings
from hypothesis import strategies as st
from transaction_support import TCP, UDP, drain_events, make_request, new_layer, sent

from switchboard.sip.message import SipRequest, make_response
from switchboard.sip.peer import Peer
from switchboard.sip.transaction import (
    RequestReceived,
    State,
    TransactionFailed,
    TransactionLayer,
    TransactionTerminated,
)


def _served(layer: TransactionLayer, request: SipRequest, peer: Peer = UDP) -> tuple:
    layer.receive(request, peer, 0.0)
    (event,) = drain_events(layer)
    assert isinstance(event, RequestReceived)
    assert layer.send_response(event.key, make_response(request, 200, to_tag="t"), 0.0)
    drain_events(layer)
    return event.key


def test_a_completed_udp_register_is_settled_until_timer_j() -> None:
    layer = new_layer()
    request = make_request("REGISTER")
    key = _served(layer, request)
    ((answer, peer),) = layer.datagrams_to_send()
    assert key not in layer._servers and key in layer._settled
    assert layer.state_of(key) is State.COMPLETED and len(layer) == 1
    assert layer.has_server(request) and layer.servers_per_host == {UDP.host: 1}
    layer.receive(make_request("REGISTER"), UDP, 5.0)  # a retransmission: the same bytes
    assert layer.datagrams_to_send() == [(answer, peer)] and drain_events(layer) == []
    timer_j = 64 * layer.timers.T1
    assert layer.next_deadline() == timer_j
    layer.handle_timer(timer_j - 0.001)
    assert drain_events(layer) == [] and layer.state_of(key) is State.COMPLETED
    layer.handle_timer(timer_j)
    assert drain_events(layer) == [TransactionTerminated(key)]
    assert layer.state_of(key) is None and len(layer) == 0 and layer.servers_per_host == {}
    assert layer.next_deadline() is None


def test_a_settled_record_holds_nothing_the_cyclic_collector_tracks() -> None:
    layer = new_layer()
    _served(layer, make_request("REGISTER"))
    gc.collect()  # a tuple is untracked by the first pass that finds its items untracked:
    gc.collect()  # the key inside a queue entry first, then the entry
    assert not any(gc.is_tracked(record) for record in layer._settled.values())
    assert not any(gc.is_tracked(entry) for entry in layer._settled_due)


def test_what_is_not_settled_waits_in_its_machine() -> None:
    layer = new_layer()
    over_tcp = _served(layer, make_request("OPTIONS", branch="z9hG4bK1"), TCP)
    rfc2543 = _served(layer, make_request("OPTIONS", branch=None))
    invite = make_request("INVITE", branch="z9hG4bK2")
    layer.receive(invite, UDP, 0.0)
    (event,) = (e for e in drain_events(layer) if isinstance(e, RequestReceived))
    layer.send_response(event.key, make_response(invite, 486, to_tag="t"), 0.0)
    assert layer.state_of(over_tcp) is None  # Timer J is zero on TCP: ended at once
    assert layer._settled == {}
    assert layer._servers[rfc2543].state is State.COMPLETED
    assert layer._servers[event.key].state is State.COMPLETED


def test_a_transport_error_ends_a_settled_transaction_with_a_failure() -> None:
    layer = new_layer()
    key = _served(layer, make_request("REGISTER"))
    elsewhere = Peer("udp", "192.0.2.7", 5060)
    other = _served(layer, make_request("REGISTER", branch="z9hG4bKx"), elsewhere)
    assert layer.transport_failed(UDP, 1.0) == 1
    assert drain_events(layer) == [TransactionFailed(key, None), TransactionTerminated(key)]
    assert layer.state_of(other) is State.COMPLETED and layer.servers_per_host == {"192.0.2.7": 1}


# Both layers get the same inputs; everything the TU or the wire can see must match.
PEERS = (UDP, Peer("udp", "192.0.2.20", 5070), TCP)
INDEX = st.integers(0, 4)
REQUESTS = (
    ("REGISTER", "z9hG4bKr1"),
    ("OPTIONS", "z9hG4bKo1"),
    ("BYE", None),  # RFC 2543 matching: not settled
    ("INVITE", "z9hG4bKi1"),
    ("REGISTER", "z9hG4bKr2"),
)
step = st.one_of(
    st.tuples(st.just("receive"), INDEX, st.integers(0, 2)),
    st.tuples(st.just("respond"), INDEX, st.sampled_from([100, 200, 404])),
    st.tuples(st.just("wait"), st.sampled_from([0.0, 0.5, 4.0, 20.0, 31.9, 40.0])),
    st.tuples(st.just("fail"), st.integers(0, 2)),
)


def _observe(layer: TransactionLayer, keys: dict[int, tuple], grouped: bool) -> tuple:
    """What the wire and the TU see. ``grouped``: events compared per transaction, for a
    transport error, which fails a peer's transactions in no order RFC 3261 defines."""
    events = [(type(event).__name__, getattr(event, "key", None)) for event in drain_events(layer)]
    return (
        [(data, peer) for data, peer in layer.datagrams_to_send()],
        sorted(events, key=lambda event: str(event[1])) if grouped else events,
        {index: layer.state_of(key) for index, key in keys.items()},
        len(layer),
        layer.next_deadline(),
        dict(layer.servers_per_host),
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(step, max_size=30))
def test_settling_changes_nothing_a_tu_or_a_peer_can_see(steps: list[tuple]) -> None:
    layers = (new_layer(), new_layer(settle=False))
    keys: tuple[dict[int, tuple], dict[int, tuple]] = ({}, {})
    requests = [make_request(method, branch=branch) for method, branch in REQUESTS]
    now = 0.0
    for action, *args in steps:
        seen = []
        for layer, known in zip(layers, keys, strict=True):
            if action == "receive":
                index, peer = args
                layer.receive(requests[index], PEERS[peer], now)
                for event in list(layer._events):
                    if isinstance(event, RequestReceived):
                        known[requests.index(event.request)] = event.key
            elif action == "respond":
                index, status = args
                if index in known:
                    response = make_response(requests[index], status, to_tag="t")
                    layer.send_response(known[index], response, now)
            elif action == "wait":
                if layer is layers[0]:
                    now += args[0]
                layer.handle_timer(now)
            else:
                layer.transport_failed(PEERS[args[0]], now)
            seen.append(_observe(layer, known, grouped=action == "fail"))
        assert seen[0] == seen[1]
    assert sent(layers[0]) == sent(layers[1])
