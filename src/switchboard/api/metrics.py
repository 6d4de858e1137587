"""Prometheus metrics at /metrics: live gauges read at scrape time (registrations, calls,
bans, listeners), counters and histograms fed by the event bus (calls by disposition,
call setup time), by each call's record (RTP loss, jitter, MOS per leg) and by a probe of
the event loop's lag.

Nothing here runs per packet or per SIP message: the bus handler only takes the three
call events, and the gauges cost nothing until Prometheus asks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from switchboard.core.cdr import CallRecord
from switchboard.core.events import Event, EventBus
from switchboard.services.calls.events import CallEnded, CallRinging, CallStarted

if TYPE_CHECKING:
    from switchboard.api.fanout import EventFanout
    from switchboard.api.webhooks import Webhooks
    from switchboard.services.calls.engine import CallEngine
    from switchboard.services.location import LocationService
    from switchboard.services.security import Guard

LAG_PROBE_INTERVAL = 0.5
"""Seconds between event-loop lag probes."""

SETUP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
LOSS_BUCKETS = (0.0, 0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5)
JITTER_BUCKETS = (1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 50.0, 100.0)
MOS_BUCKETS = (1.5, 2.0, 2.5, 3.0, 3.5, 3.8, 4.0, 4.2, 4.4)
PENDING_SETUPS_MAX = 10_000
"""Calls whose setup time is being measured at once; beyond that new ones are not timed."""


class Metrics:
    """The server's Prometheus registry (its own, not the process-wide default)."""

    def __init__(
        self,
        bus: EventBus,
        clock: Callable[[], float],
        *,
        location: LocationService,
        guard: Guard,
        calls: CallEngine | None,
        fanout: EventFanout,
        webhooks: Webhooks | None = None,
        sip_messages: dict[tuple[str, str], int] | None = None,
    ) -> None:
        self.clock = clock
        self.sip_messages = sip_messages if sip_messages is not None else {}
        self.location = location
        self.guard = guard
        self.calls = calls
        self.fanout = fanout
        self.webhooks = webhooks
        self.registry = CollectorRegistry(auto_describe=True)
        self.calls_total = Counter(
            "switchboard_calls",
            "Calls ended, by CDR disposition",
            ["disposition"],
            registry=self.registry,
        )
        self.setup_seconds = Histogram(
            "switchboard_call_setup_seconds",
            "From a call entering the dialplan to the first phone ringing",
            buckets=SETUP_BUCKETS,
            registry=self.registry,
        )
        self.loop_lag = Histogram(
            "switchboard_event_loop_lag_seconds",
            "How late the event loop ran a timer (the PBX's own responsiveness)",
            buckets=LAG_BUCKETS,
            registry=self.registry,
        )
        self.rtp_loss = Histogram(
            "switchboard_rtp_loss_ratio",
            "RTP packets lost over a call, per leg (from the call's record)",
            ["leg"],
            buckets=LOSS_BUCKETS,
            registry=self.registry,
        )
        self.rtp_jitter = Histogram(
            "switchboard_rtp_jitter_ms",
            "RFC 3550 interarrival jitter at the end of a call, per leg",
            ["leg"],
            buckets=JITTER_BUCKETS,
            registry=self.registry,
        )
        self.rtp_mos = Histogram(
            "switchboard_rtp_mos",
            "Estimated MOS of a call, per leg",
            ["leg"],
            buckets=MOS_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_Live(self))
        self._started: dict[str, float] = {}
        self.unsubscribe = bus.subscribe(self._on_event, (CallStarted, CallRinging, CallEnded))

    def _on_event(self, event: Event) -> None:
        if isinstance(event, CallStarted):
            if len(self._started) < PENDING_SETUPS_MAX:
                self._started[event.uniqueid] = self.clock()
        elif isinstance(event, CallRinging):
            started = self._started.pop(event.uniqueid, None)
            if started is not None:
                self.setup_seconds.observe(self.clock() - started)
        elif isinstance(event, CallEnded):
            self._started.pop(event.uniqueid, None)
            self.calls_total.labels(event.disposition).inc()

    def record(self, record: CallRecord) -> None:
        """A finished call's RTP quality, for each leg that had media."""
        for leg, quality in (("caller", record.caller_quality), ("callee", record.callee_quality)):
            if quality is None:
                continue
            self.rtp_loss.labels(leg).observe(quality.loss)
            self.rtp_jitter.labels(leg).observe(quality.jitter_ms)
            self.rtp_mos.labels(leg).observe(quality.mos)

    async def probe_loop_lag(self) -> None:
        """Forever: sleep a fixed interval and record how late the wake-up was."""
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(LAG_PROBE_INTERVAL)
            self.loop_lag.observe(max(0.0, loop.time() - before - LAG_PROBE_INTERVAL))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _Live(Collector):
    """Gauges computed when scraped."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        m = self.metrics
        yield _gauge("switchboard_registrations", "Registered contacts", len(m.location))
        channels = list(m.calls.channels.values()) if m.calls is not None else []
        yield _gauge("switchboard_active_channels", "Live call legs", len(channels))
        yield _gauge("switchboard_active_calls", "Live calls", len({c.linkedid for c in channels}))
        yield _gauge(
            "switchboard_bans", "Source addresses banned now", len(m.guard.bans(m.guard.clock()))
        )
        listeners = GaugeMetricFamily(
            "switchboard_event_listeners",
            "Live event listeners: /api/events WebSockets and webhooks",
            labels=["role"],
        )
        for role in ("websocket", "webhook"):
            listeners.add_metric([role], sum(f.role == role for f in m.fanout.feeds))
        yield listeners
        dropped = CounterMetricFamily(
            "switchboard_events_dropped", "Events lost by listeners that fell behind"
        )
        dropped.add_metric([], m.fanout.dropped)
        yield dropped
        deliveries = CounterMetricFamily(
            "switchboard_webhook_deliveries",
            "Webhook deliveries by outcome (delivered, retried, failed)",
            labels=["webhook", "outcome"],
        )
        for hook in m.webhooks.hooks if m.webhooks is not None else []:
            for outcome in ("delivered", "retried", "failed"):
                deliveries.add_metric([hook.config.name, outcome], hook.outcomes[outcome])
        yield deliveries
        requests = CounterMetricFamily(
            "switchboard_sip_requests",
            "SIP requests received and sent, by method (retransmissions included)",
            labels=["direction", "method"],
        )
        responses = CounterMetricFamily(
            "switchboard_sip_responses",
            "SIP responses received and sent, by status code (retransmissions included)",
            labels=["direction", "code"],
        )
        for (direction, what), count in sorted(m.sip_messages.items()):
            family = responses if what.isdigit() else requests
            family.add_metric([direction, what], count)
        yield requests
        yield responses

    def describe(self) -> Iterator[Metric]:
        return iter(())


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


router = APIRouter()


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
    summary="Prometheus metrics (no token: bind http.conf to a trusted address)",
)
async def metrics(request: Request) -> Response:
    found: Metrics | None = request.app.state.context.metrics
    if found is None:
        return Response("", media_type=CONTENT_TYPE_LATEST)
    return Response(found.render(), media_type=CONTENT_TYPE_LATEST)
