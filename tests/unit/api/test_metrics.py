"""Prometheus metrics from the bus and from call records, on a fake clock."""

from __future__ import annotations

from switchboard.api.fanout import EventFanout
from switchboard.api.metrics import Metrics
from switchboard.config.switchboard import default_security
from switchboard.core.cdr import CallRecord, LegQuality
from switchboard.core.events import EventBus
from switchboard.services.calls.events import CallEnded, CallRinging, CallStarted
from switchboard.services.location import LocationService
from switchboard.services.security import Guard


def metrics_and_bus() -> tuple[Metrics, EventBus, list[float]]:
    bus = EventBus()
    now = [100.0]
    metrics = Metrics(
        bus,
        lambda: now[0],
        location=LocationService(bus),
        guard=Guard(default_security(), bus, lambda: now[0]),
        calls=None,
        fanout=EventFanout(bus),
    )
    return metrics, bus, now


def test_setup_time_and_dispositions_come_from_the_call_events() -> None:
    metrics, bus, now = metrics_and_bus()
    bus.publish(CallStarted("1.1", "PJSIP/bob-1", "bob", "101", "from-internal"))
    now[0] += 0.04
    bus.publish(CallRinging("1.1", "PJSIP/alice-2", "bob", "Bob"))
    bus.publish(CallRinging("1.1", "PJSIP/alice-3", "bob", "Bob"))  # a second phone: once
    bus.publish(CallEnded("1.1", "PJSIP/bob-1", 16, "ANSWERED", 12, 10))
    bus.publish(CallEnded("1.2", "PJSIP/bob-4", 17, "BUSY", 0, 0))
    text = metrics.render().decode()
    assert "switchboard_call_setup_seconds_count 1.0" in text
    assert 'switchboard_call_setup_seconds_bucket{le="0.05"} 1.0' in text
    assert 'switchboard_call_setup_seconds_bucket{le="0.025"} 0.0' in text
    assert 'switchboard_calls_total{disposition="ANSWERED"} 1.0' in text
    assert 'switchboard_calls_total{disposition="BUSY"} 1.0' in text
    assert "switchboard_registrations 0.0" in text and "switchboard_bans 0.0" in text
    assert 'switchboard_event_listeners{role="websocket"} 0.0' in text


def test_rtp_quality_comes_from_the_records_of_legs_with_media() -> None:
    metrics, _bus, _now = metrics_and_bus()
    quality = LegQuality(
        packets_received=500, packets_lost=5, loss=0.01, jitter_ms=3.5, rtt_ms=None, mos=4.3
    )
    metrics.record(
        CallRecord(
            uniqueid="1.1",
            linkedid="1.1",
            src="bob",
            dst="101",
            dcontext="from-internal",
            clid='"Bob" <bob>',
            channel="PJSIP/bob-1",
            dstchannel="PJSIP/alice-2",
            lastapp="Dial",
            lastdata="PJSIP/alice,10",
            start=1.0,
            answer=2.0,
            end=12.0,
            duration=11,
            billsec=10,
            disposition="ANSWERED",
            hangupcause=16,
            caller_quality=quality,
            callee_quality=None,
        )
    )
    text = metrics.render().decode()
    assert 'switchboard_rtp_loss_ratio_bucket{le="0.01",leg="caller"} 1.0' in text
    assert 'switchboard_rtp_loss_ratio_bucket{le="0.005",leg="caller"} 0.0' in text
    assert 'switchboard_rtp_jitter_ms_sum{leg="caller"} 3.5' in text
    assert 'switchboard_rtp_mos_bucket{le="4.4",leg="caller"} 1.0' in text
    assert 'leg="callee"' not in text


def test_sip_messages_are_counted_by_method_and_by_status_code() -> None:
    bus = EventBus()
    counts = {("in", "REGISTER"): 3, ("out", "401"): 2, ("out", "200"): 1, ("out", "NOTIFY"): 1}
    metrics = Metrics(
        bus,
        lambda: 0.0,
        location=LocationService(bus),
        guard=Guard(default_security(), bus, lambda: 0.0),
        calls=None,
        fanout=EventFanout(bus),
        sip_messages=counts,
    )
    text = metrics.render().decode()
    assert 'switchboard_sip_requests_total{direction="in",method="REGISTER"} 3.0' in text
    assert 'switchboard_sip_requests_total{direction="out",method="NOTIFY"} 1.0' in text
    assert 'switchboard_sip_responses_total{code="401",direction="out"} 2.0' in text
    assert 'switchboard_sip_responses_total{code="200",direction="out"} 1.0' in text
    counts[("in", "REGISTER")] += 1  # read when scraped
    assert 'method="REGISTER"} 4.0' in metrics.render().decode()
