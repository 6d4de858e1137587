"""The event fan-out: filtered, bounded, serialized once, never blocking the publisher."""

from __future__ import annotations

import asyncio
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import switchboard.app  # noqa: F401  (loads every module that defines events)
from switchboard.api.fanout import EventFanout, event_json, event_kinds, text_frame
from switchboard.core.events import Event, EventBus
from switchboard.services.calls.events import CallAnswered, CallEnded, CallRinging, CallStarted
from tests.unit.api.websocket_frames import rfc6455_text, texts


@pytest.mark.asyncio
async def test_listeners_get_the_types_they_asked_for_and_lose_what_overflows() -> None:
    bus = EventBus()
    fanout = EventFanout(bus, queue_size=2)
    everything = fanout.attach()
    ringing = fanout.attach(["CallRinging"])
    for n in range(3):
        bus.publish(CallRinging(f"id{n}", "PJSIP/alice-1", "bob", "Bob"))
    bus.publish(CallEnded("id0", "PJSIP/alice-1", 16, "ANSWERED", 3, 2))
    kind, text = ringing.queue.get_nowait()
    assert kind == "CallRinging"
    assert json.loads(text) == {
        "type": "CallRinging",
        "uniqueid": "id0",
        "channel": "PJSIP/alice-1",
        "caller": "bob",
        "caller_name": "Bob",
    }
    assert (everything.dropped, ringing.dropped, fanout.dropped) == (2, 1, 3)
    fanout.detach(everything)
    fanout.detach(ringing)
    bus.publish(CallEnded("id1", "PJSIP/alice-1", 16, "ANSWERED", 3, 2))
    assert fanout.dropped == 3


def test_one_serialization_per_event_whatever_the_number_of_listeners(monkeypatch) -> None:
    bus = EventBus()
    fanout = EventFanout(bus)
    calls = []
    real = CallRinging.as_dict

    def counting(self):
        calls.append(self)
        return real(self)

    monkeypatch.setattr(CallRinging, "as_dict", counting)
    bus.publish(CallRinging("id", "PJSIP/a-1"))
    assert calls == []  # nobody listens: nothing is serialized
    feeds = [fanout.attach() for _ in range(10)] + [fanout.attach(["CallEnded"])]
    bus.publish(CallRinging("id", "PJSIP/a-1"))
    assert len(calls) == 1
    assert [f.queue.qsize() for f in feeds] == [1] * 10 + [0]


def test_event_kinds_include_the_call_events() -> None:
    assert {"CallRinging", "CallEnded", "ContactAdded", "SourceBanned"} <= event_kinds()


@pytest.mark.parametrize(
    ("size", "header"),
    [
        (0, b"\x81\x00"),
        (125, b"\x81\x7d"),
        (126, b"\x81\x7e\x00\x7e"),
        (65535, b"\x81\x7e\xff\xff"),
        (65536, b"\x81\x7f\x00\x00\x00\x00\x00\x01\x00\x00"),
    ],
)
def test_text_frames_carry_rfc6455_lengths(size: int, header: bytes) -> None:
    payload = b"x" * size
    assert text_frame(payload) == header + payload


class Sink:
    """The socket end of a WebSocket listener: what was written, and whether it is ready."""

    def __init__(self, ready: bool = True) -> None:
        self.open = ready
        self.writes: list[bytes] = []

    def ready(self) -> bool:
        return self.open

    def write(self, frame: bytes) -> None:
        self.writes.append(frame)


def call_events() -> list[Event]:
    """One call's events as the engine publishes them; CallStarted's JSON is over 125 bytes."""
    return [
        CallStarted("1764280000.1", "PJSIP/caller-00000001", "caller", "100", "from-internal-x"),
        CallRinging("1764280000.1", "PJSIP/callee-00000002", "caller", "Caller"),
        CallAnswered("1764280000.1", "PJSIP/callee-00000002", "PJSIP/caller-00000001"),
        CallEnded("1764280000.1", "PJSIP/caller-00000001", 16, "ANSWERED", 3, 2),
    ]


@pytest.mark.asyncio
async def test_listeners_of_the_same_types_get_the_same_bytes_one_write_per_flush() -> None:
    bus = EventBus()
    fanout = EventFanout(bus)
    everything = [Sink() for _ in range(3)]
    for sink in everything:
        fanout.attach_wire(sink)
    ringing = Sink()
    fanout.attach_wire(ringing, ["CallRinging"])
    events = call_events()
    for event in events:
        bus.publish(event)
    fanout.flush()
    frames = [rfc6455_text(json.dumps(event.as_dict())) for event in events]
    assert len(frames[0]) > 127 and frames[0][1] == 126  # the 16-bit length form
    assert [sink.writes for sink in everything] == [[b"".join(frames)]] * 3
    assert everything[0].writes[0] is everything[1].writes[0]  # joined once, not per listener
    assert ringing.writes == [frames[1]]
    fanout.flush()
    assert [len(sink.writes) for sink in (*everything, ringing)] == [1, 1, 1, 1]


@pytest.mark.asyncio
async def test_a_burst_goes_out_in_one_write_at_the_next_loop_turn() -> None:
    bus = EventBus()
    fanout = EventFanout(bus)
    sink = Sink()
    fanout.attach_wire(sink)
    for event in call_events():
        bus.publish(event)
    assert sink.writes == []  # nothing written from inside the publisher
    deadline = asyncio.get_running_loop().time() + 5
    while not sink.writes and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0)
    assert [json.loads(text) for text in texts(sink.writes[0])] == [
        event.as_dict() for event in call_events()
    ]


@pytest.mark.asyncio
async def test_a_listener_gets_only_what_was_published_after_it_came() -> None:
    bus = EventBus()
    fanout = EventFanout(bus)
    early, late = Sink(), Sink()
    fanout.attach_wire(early)
    first, *rest = call_events()
    bus.publish(first)
    fanout.attach_wire(late)
    for event in rest:
        bus.publish(event)
    fanout.flush()
    assert [json.loads(t)["type"] for t in texts(early.writes[0])] == [
        "CallStarted",
        "CallRinging",
        "CallAnswered",
        "CallEnded",
    ]
    assert [json.loads(t)["type"] for t in texts(late.writes[0])] == [
        "CallRinging",
        "CallAnswered",
        "CallEnded",
    ]


@pytest.mark.asyncio
async def test_a_backed_up_listener_loses_its_batch_and_the_others_do_not() -> None:
    bus = EventBus()
    fanout = EventFanout(bus)
    stuck, fine = Sink(ready=False), Sink()
    stuck_feed = fanout.attach_wire(stuck)
    fanout.attach_wire(fine)
    for event in call_events():
        bus.publish(event)
    fanout.flush()
    assert (stuck.writes, stuck_feed.dropped, fanout.dropped) == ([], 4, 4)
    assert len(texts(fine.writes[0])) == 4
    fanout.detach(stuck_feed)
    assert len(fanout.feeds) == 1
    bus.publish(call_events()[0])
    fanout.flush()
    assert fanout.dropped == 4 and len(fine.writes) == 2


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_an_event_is_sent_as_json_dumps_of_its_fields(data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(sorted(all_event_classes(), key=lambda c: c.__name__)))
    event = data.draw(st.from_type(kind))
    assert event_json(event) == json.dumps(event.as_dict())


def all_event_classes() -> list[type[Event]]:
    found: list[type[Event]] = []
    pending = list(Event.__subclasses__())
    while pending:
        kind = pending.pop()
        found.append(kind)
        pending += kind.__subclasses__()
    return found


@pytest.mark.asyncio
async def test_a_webhook_and_websockets_share_one_serialization(monkeypatch) -> None:
    bus = EventBus()
    fanout = EventFanout(bus)
    serialized = []
    real = CallRinging.as_dict

    def counting(self):
        serialized.append(self)
        return real(self)

    monkeypatch.setattr(CallRinging, "as_dict", counting)
    hook = fanout.attach(["CallRinging"], role="webhook")
    sinks = [Sink() for _ in range(3)]
    for sink in sinks:
        fanout.attach_wire(sink)
    bus.publish(CallRinging("id", "PJSIP/a-1"))
    fanout.flush()
    assert len(serialized) == 1
    _, text = hook.queue.get_nowait()
    assert [sink.writes for sink in sinks] == [[rfc6455_text(text)]] * 3
