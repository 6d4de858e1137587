"""Retransmission and timeout schedules (RFC 3261 §17, Table 4) over UDP and over TCP."""

from __future__ import annotations

import pytest
from transaction_support import (
    TCP,
    UDP,
    drain_events,
    make_request,
    new_layer,
    respond,
    run_clock,
    sent,
)

from switchboard.sip.message import make_response
from switchboard.sip.transaction import (
    Input,
    RequestReceived,
    State,
    TimerValues,
    TransactionTerminated,
    TransactionTimedOut,
)
from switchboard.sip.transaction.client_invite import make_ack


def _sends(timeline, what) -> list[float]:
    return [when for when, datagrams, _ in timeline for item in datagrams if item == what]


def test_invite_client_retransmits_doubling_until_timer_b() -> None:
    layer = new_layer()
    key = layer.send_request(make_request("INVITE", branch=None), UDP, 0.0)
    assert sent(layer) == ["INVITE"]
    timeline = run_clock(layer, 100.0)
    # Intervals 0.5, 1, 2, 4, 8, 16 (Timer A doubles without cap), Timer B at 64*T1.
    assert _sends(timeline, "INVITE") == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    when, datagrams, events = timeline[-1]
    assert when == 32.0 and datagrams == []
    timed_out, terminated = events
    assert isinstance(timed_out, TransactionTimedOut) and timed_out.timer == "B"
    assert timed_out.key == key and timed_out.response is not None
    assert timed_out.response.status == 408
    assert timed_out.response.call_id == "call-1@client"
    assert terminated == TransactionTerminated(key)
    assert layer.next_deadline() is None and len(layer) == 0


def test_non_invite_client_retransmits_doubling_up_to_t2_until_timer_f() -> None:
    layer = new_layer()
    layer.send_request(make_request("OPTIONS", branch=None), UDP, 0.0)
    assert sent(layer) == ["OPTIONS"]
    timeline = run_clock(layer, 100.0)
    assert _sends(timeline, "OPTIONS") == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    when, _, events = timeline[-1]
    assert when == 32.0
    assert isinstance(events[0], TransactionTimedOut) and events[0].timer == "F"
    assert events[0].response is not None and events[0].response.status == 408


def test_non_invite_client_in_proceeding_retransmits_every_t2() -> None:
    layer = new_layer()
    request = make_request("REGISTER", branch=None, via="SIP/2.0/UDP pbx.example.com")
    key = layer.send_request(request, UDP, 0.0)
    sent(layer)
    layer.receive(respond(request, 100), UDP, 0.2)
    assert layer.state_of(key) is State.PROCEEDING
    timeline = run_clock(layer, 20.0)
    assert _sends(timeline, "REGISTER") == [0.5, 4.5, 8.5, 12.5, 16.5]


def test_custom_timer_values_scale_the_schedule() -> None:
    timers = TimerValues(T1=0.1, T2=0.4, T4=1.0)
    assert (timers.TIMER_B, timers.TIMER_F, timers.TIMER_H, timers.TIMER_J) == (6.4,) * 4
    assert timers.TIMER_D == 32.0 and timers.TIMER_I == timers.TIMER_K == 1.0
    layer = new_layer(timers=timers)
    layer.send_request(make_request("OPTIONS", branch=None), UDP, 0.0)
    assert sent(layer) == ["OPTIONS"]
    timeline = run_clock(layer, 100.0)
    assert _sends(timeline, "OPTIONS") == pytest.approx(
        [0.1, 0.3, 0.7, 1.1, 1.5, 1.9, 2.3, 2.7, 3.1, 3.5, 3.9, 4.3, 4.7, 5.1, 5.5, 5.9, 6.3]
    )
    assert timeline[-1][0] == pytest.approx(6.4)


def test_timer_values_reject_nonsense() -> None:
    with pytest.raises(ValueError, match="T1"):
        TimerValues(T1=0)
    with pytest.raises(ValueError, match="T1"):
        TimerValues(T1=5, T2=4)
    with pytest.raises(ValueError, match="T4"):
        TimerValues(T4=-1)
    reliable = TimerValues().for_reliable_transport()
    assert not reliable.retransmits and TimerValues().retransmits
    assert (reliable.TIMER_D, reliable.TIMER_I, reliable.TIMER_J, reliable.TIMER_K) == (0,) * 4
    assert reliable.TIMER_B == reliable.TIMER_H == reliable.TIMER_L == reliable.TIMER_M == 32.0


def test_invite_server_retransmits_error_response_until_timer_h() -> None:
    layer = new_layer()
    request = make_request("INVITE")
    layer.receive(request, UDP, 0.0)
    (event,) = drain_events(layer)
    assert isinstance(event, RequestReceived)
    assert sent(layer) == [100]
    layer.send_response(event.key, make_response(request, 486, to_tag="x"), 0.0)
    assert sent(layer) == [486]
    timeline = run_clock(layer, 100.0)
    expected = [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert _sends(timeline, 486) == expected
    when, _, events = timeline[-1]
    assert when == 32.0
    assert events == [TransactionTimedOut(event.key, "H", None), TransactionTerminated(event.key)]


def test_invite_server_stops_retransmitting_on_ack_and_ends_after_timer_i() -> None:
    layer = new_layer()
    request = make_request("INVITE")
    layer.receive(request, UDP, 0.0)
    (event,) = drain_events(layer)
    layer.send_response(event.key, make_response(request, 486, to_tag="x"), 0.0)
    sent(layer)
    run_clock(layer, 2.0)  # retransmissions at 0.5 and 1.5
    layer.receive(make_ack(request, respond(request, 486, "x")), UDP, 2.0)
    assert layer.state_of(event.key) is State.CONFIRMED
    timeline = run_clock(layer, 100.0)
    assert timeline == [(7.0, [], [TransactionTerminated(event.key)])]


def test_accepted_states_last_64_t1() -> None:
    layer = new_layer()
    request = make_request("INVITE", branch=None, via="SIP/2.0/UDP pbx.example.com")
    client = layer.send_request(request, UDP, 0.0)
    layer.receive(respond(request, 200), UDP, 0.3)
    incoming = make_request("INVITE", branch="z9hG4bKin")
    layer.receive(incoming, UDP, 0.0)
    server = drain_events(layer)[-1].key  # type: ignore[union-attr]
    layer.send_response(server, make_response(incoming, 200, to_tag="x"), 1.0)
    sent(layer)
    drain_events(layer)
    timeline = run_clock(layer, 100.0)
    assert [(when, events) for when, _, events in timeline] == [
        (32.3, [TransactionTerminated(client)]),
        (33.0, [TransactionTerminated(server)]),
    ]


# -- reliable transports: no retransmissions, zero wait timers ----------------------------


def test_no_retransmission_over_tcp_and_timer_b_still_fires() -> None:
    layer = new_layer()
    key = layer.send_request(make_request("INVITE", branch=None), TCP, 0.0)
    assert layer.datagrams_to_send() == [(layer._clients[key]._data, TCP)]
    timeline = run_clock(layer, 100.0)
    assert [(when, datagrams) for when, datagrams, _ in timeline] == [(32.0, [])]
    assert isinstance(timeline[0][2][0], TransactionTimedOut)


def test_non_invite_client_over_tcp_terminates_on_final_response() -> None:
    layer = new_layer()
    request = make_request("OPTIONS", branch=None)
    key = layer.send_request(request, TCP, 0.0)
    sent(layer)
    layer.receive(respond(request, 200), TCP, 0.1)
    events = drain_events(layer)
    assert [type(event).__name__ for event in events] == [
        "ResponseReceived",
        "TransactionTerminated",
    ]
    assert layer.state_of(key) is None and layer.next_deadline() is None


def test_invite_client_over_tcp_acks_and_terminates_at_once() -> None:
    layer = new_layer()
    request = make_request("INVITE", branch=None)
    key = layer.send_request(request, TCP, 0.0)
    sent(layer)
    layer.receive(respond(request, 503), TCP, 0.1)
    assert sent(layer) == ["ACK"]
    assert layer.state_of(key) is None
    assert [type(e).__name__ for e in drain_events(layer)] == [
        "ResponseReceived",
        "TransactionTerminated",
    ]


def test_servers_over_tcp_do_not_retransmit_and_end_without_waiting() -> None:
    layer = new_layer()
    invite = make_request("INVITE")
    layer.receive(invite, TCP, 0.0)
    key = drain_events(layer)[0].key  # type: ignore[union-attr]
    layer.send_response(key, make_response(invite, 480, to_tag="x"), 0.0)
    assert sent(layer) == [100, 480]
    assert layer._servers[key].armed == {Input.TIMER_H}  # no Timer G
    layer.receive(make_ack(invite, respond(invite, 480, "x")), TCP, 1.0)
    assert layer.state_of(key) is None
    options = make_request("OPTIONS", branch="z9hG4bKo")
    layer.receive(options, TCP, 0.0)
    okey = drain_events(layer)[-1].key  # type: ignore[union-attr]
    layer.send_response(okey, make_response(options, 200, to_tag="x"), 0.0)
    assert layer.state_of(okey) is None and layer.next_deadline() is None
