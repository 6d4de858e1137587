"""Live RTP quality of the calls in progress: every few seconds, one ``CallQuality`` event
per anchored call, with what the relay received from each phone so far.

The web console's dashboard and any WebSocket listener see a call's audio degrade while it
lasts, not only in its CDR. One timer for the whole engine; each report reads the relay's
counters (no per-packet work), and calls whose relay saw no RTP (direct media, not yet
answered) are skipped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from switchboard.core.events import EventBus
from switchboard.media.relay import LegStats
from switchboard.services.calls.channel import Channel
from switchboard.services.calls.events import CallQuality

QUALITY_INTERVAL = 5.0
"""Seconds between two reports of a call (RTCP's own reporting interval)."""

NO_AUDIO = -1.0
"""The value of a leg's figures while its phone has sent nothing."""


def quality_of(channel: Channel) -> CallQuality | None:
    """The call's quality now, or None when its relay has received no RTP."""
    relay = channel.relay
    if relay is None or relay.closed:
        return None
    stats = relay.stats()
    caller, callee = stats["a"], stats["b"]
    if not caller.packets_received and not callee.packets_received:
        return None
    return CallQuality(
        channel.linkedid,
        channel.name,
        *_figures(caller),
        *_figures(callee),
    )


def _figures(leg: LegStats) -> tuple[float, float, float]:
    """MOS, loss (0..1) and jitter (ms) of one leg, rounded as people read them."""
    if not leg.packets_received:
        return NO_AUDIO, NO_AUDIO, NO_AUDIO
    return round(leg.mos, 2), round(leg.loss, 4), round(leg.jitter_ms, 2)


class QualityReporter:
    """Publishes :class:`CallQuality` for every anchored call each :data:`QUALITY_INTERVAL`."""

    def __init__(
        self,
        channels: Mapping[str, Channel],
        bus: EventBus,
        loop: asyncio.AbstractEventLoop,
        interval: float = QUALITY_INTERVAL,
    ) -> None:
        self.channels = channels
        self.bus = bus
        self.loop = loop
        self.interval = interval
        self._timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        """Report every ``interval`` seconds from now on."""
        if self._timer is None:
            self._timer = self.loop.call_later(self.interval, self._report)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _report(self) -> None:
        self._timer = self.loop.call_later(self.interval, self._report)
        for channel in tuple(self.channels.values()):
            event = quality_of(channel)
            if event is not None:
                self.bus.publish(event)
