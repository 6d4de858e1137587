"""The event fan-out: filtered, bounded, serialized once, never blocking the publisher."""

from __future__ import annotations

import json

import pytest

from switchboard.api.events_ws import EventFanout, event_kinds, text_frame
from switchboard.core.events import EventBus
from switchboard.services.calls.events import CallEnded, CallRinging


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
